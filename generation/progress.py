"""What a running generation reports, and how it is stopped. Torch-free.

The pipelines (`generation.pipelines.engine.generate`) report a `Progress` after every denoising
step and check a `CancelToken`; workers create the token and catch `Cancelled` without importing
torch, which is why these types live outside the pipelines package.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image


@dataclass(frozen=True)
class Progress:
    """One step done. Previews are rendered from the latents only when first read (inside the
    callback), so a listener that throttles its updates pays nothing for the steps it skips."""

    step: int  # 1-based steps done (UNet evaluations, over every pass of the call)
    total: int
    render: Callable[[], tuple[Image.Image, ...]] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def previews(self) -> tuple[Image.Image, ...]:
        """One preview per request of the pipeline pass running (the call's requests, in order; an
        upscale call runs its requests one after another, so there it is the running one's only).
        Empty when previews were not asked for."""
        return self.render() if self.render is not None else ()

    @property
    def preview(self) -> Image.Image | None:
        """The first request's preview, when previews are asked for."""
        return self.previews[0] if self.previews else None


ProgressCallback = Callable[[Progress], None]


class Cancelled(Exception):
    """The call's CancelToken was cancelled: the pipeline stopped, nothing was decoded."""


class CancelToken:
    """Thread-safe cancellation flag: `cancel()` from any thread, checked after every step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
