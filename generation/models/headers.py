"""A `.safetensors` header (tensor names, shapes, metadata) read without torch or the tensors.

The add-on folders are listed and checked (which architecture a LoRA or an embedding is for) from
their headers before anything is loaded, on the torch-free side.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAX_HEADER_BYTES = 100 * 1024 * 1024


class HeaderError(ValueError):
    """Not a readable `.safetensors` file; the message says why."""


@dataclass(frozen=True)
class SafetensorsHeader:
    shapes: dict[str, tuple[int, ...]]
    metadata: dict[str, str] = field(default_factory=dict)


def read_header(path: str | os.PathLike[str]) -> SafetensorsHeader:
    """The header of a `.safetensors` file; HeaderError when it cannot be read."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise HeaderError(f"{Path(path).name} is too short to be a .safetensors file")
            (size,) = struct.unpack("<Q", raw)
            if size > MAX_HEADER_BYTES:
                raise HeaderError(f"{Path(path).name} has a header of {size} bytes")
            header = json.loads(f.read(size))
    except OSError as exc:
        raise HeaderError(f"cannot read {Path(path).name}: {exc.strerror or exc}") from None
    except ValueError as exc:
        if isinstance(exc, HeaderError):
            raise
        raise HeaderError(f"{Path(path).name} has no valid .safetensors header") from None
    if not isinstance(header, dict):
        raise HeaderError(f"{Path(path).name} has a malformed .safetensors header")
    metadata = header.get("__metadata__")
    shapes = {
        name: tuple(int(d) for d in info["shape"])
        for name, info in header.items()
        if name != "__metadata__" and isinstance(info, dict) and isinstance(info.get("shape"), list)
    }
    meta = {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}
    return SafetensorsHeader(shapes, meta)
