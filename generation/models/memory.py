"""Freeing memory after a model is dropped or a call ran out of memory.

Torch-optional: it only touches torch when something imported it already (a torch-free process,
such as the bot, just collects garbage).
"""

from __future__ import annotations

import gc
import sys
from typing import Any


def free_memory(device: Any = None) -> None:
    """Collect garbage and empty the accelerator's cache: `device`'s (a torch.device or its type
    name), or every available one when None."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is None:
        return
    kind = None if device is None else getattr(device, "type", str(device))
    if kind in (None, "cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch.backends, "mps", None)
    if kind in (None, "mps") and mps is not None and mps.is_available():
        torch.mps.empty_cache()
