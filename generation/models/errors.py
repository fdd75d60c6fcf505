"""Errors of the models package. `str(exc)` is a message an admin or user can act on."""

from __future__ import annotations

from collections.abc import Iterable

from generation.requests.excerpts import excerpt

MAX_LISTED = 25


class ModelError(Exception):
    """Base class of every error the models package raises on purpose."""


class ModelNotFound(ModelError, LookupError):
    """No model of that name (or the name points outside the models folder)."""

    def __init__(self, name: str, available: Iterable[str] = (), *, reason: str | None = None):
        self.name = name
        self.available = list(available)
        head = reason or f"no model named '{excerpt(name)}'"
        if not self.available:
            tail = "no models are installed"
        else:
            shown = ", ".join(self.available[:MAX_LISTED])
            more = len(self.available) - MAX_LISTED
            tail = f"available models: {shown}" + (f" and {more} more" if more > 0 else "")
        super().__init__(f"{head}; {tail}")


class UnsafeCheckpoint(ModelError):
    """A `.ckpt` pickle holds more than tensors: loading it could run code, so it is refused."""


class UnknownArchitecture(ModelError):
    """The file is not a Stable Diffusion 1.x, 2.x or SDXL checkpoint this project can configure."""


class ModelLoadError(ModelError):
    """Loading failed for another reason (corrupt file, missing config, device, memory)."""
