"""The diffusers `callback_on_step_end` of every pass: counts steps, reports progress, stops on cancel."""

from __future__ import annotations

import functools
from typing import Any

import torch
from PIL import Image

from generation.models.arch import Arch
from generation.pipelines.previews import preview
from generation.progress import Cancelled, CancelToken, Progress, ProgressCallback


class StepReporter:
    """One per generate() call; its step count runs on over the call's passes (hires, upscales)."""

    def __init__(
        self,
        on_progress: ProgressCallback | None,
        cancel: CancelToken | None,
        want_preview: bool,
        preview_every: int,
        total: int,
        arch: Arch,
    ) -> None:
        self.on_progress = on_progress
        self.cancel = cancel
        self.want_preview = want_preview
        self.preview_every = max(1, int(preview_every))
        self.total = max(int(total), 0)
        self.arch = arch
        self.step = 0
        self.layout: list[tuple[int, int]] = []  # the running pass's (start, count) per request

    def check(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled("cancelled")

    def step_end(self, pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.check()
        self.step += 1
        self.total = max(self.total, self.step)
        if self.on_progress is not None:
            render = None
            latents = kwargs.get("latents")
            if self.want_preview and self.step % self.preview_every == 0 and latents is not None:
                render = functools.partial(self._previews, latents, self.layout)
            self.on_progress(Progress(self.step, self.total, render))
            self.check()
        return kwargs

    def _previews(self, latents: torch.Tensor, layout: list[tuple[int, int]]) -> tuple[Image.Image, ...]:
        layout = layout or [(0, latents.shape[0])]
        return tuple(preview(latents[start : start + n], self.arch) for start, n in layout)
