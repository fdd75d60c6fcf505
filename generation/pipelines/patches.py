"""Temporary changes to a model's modules for the duration of one pipeline call.

Each is a context manager that restores what it changed, so a model is the same after a call
whatever the call asked for: seamless tiling (circular padding), the per-image UNet of the
batch-invariant mode, and the VAE's slicing and tiling modes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

from generation.settings import ModelSettings


@contextmanager
def seamless_tiling(pipe: Any, enabled: bool) -> Iterator[None]:
    """Circular padding in every Conv2d of the UNet and VAE, so the image tiles without seams."""
    if not enabled:
        yield
        return
    saved = []
    for part in (pipe.unet, pipe.vae):
        for module in part.modules():
            if isinstance(module, torch.nn.Conv2d):
                saved.append((module, module.padding_mode))
                module.padding_mode = "circular"
    try:
        yield
    finally:
        for module, mode in saved:
            module.padding_mode = mode


@contextmanager
def unet_per_image(unet: Any, images: int, *, enabled: bool) -> Iterator[None]:
    """Within the batched call, evaluate the UNet one image (its uncond+cond pair) at a time.

    With classifier-free guidance the UNet batch is [uncond_1..uncond_n, cond_1..cond_n]; image i's
    rows (i, n+i) go through alone, exactly as when the image is generated alone. Matrix kernels
    round differently for different batch sizes, so this is what makes an image bit-identical
    whatever it was batched with.
    """
    if not enabled or images <= 1:
        yield
        return
    had_own = "forward" in vars(unet)
    forward = unet.forward

    def pick(value: Any, rows: torch.Tensor, n: int) -> Any:
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == n:
            return value[rows]
        if isinstance(value, dict):
            return {k: pick(v, rows, n) for k, v in value.items()}
        return value

    def per_image_forward(sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        n = sample.shape[0]
        if n % images:
            return forward(sample, *args, **kwargs)
        return_dict = kwargs.pop("return_dict", True)
        group = n // images
        out = None
        for i in range(images):
            rows = torch.arange(group, device=sample.device) * images + i
            part = forward(
                sample[rows],
                *(pick(a, rows, n) for a in args),
                **{k: pick(v, rows, n) for k, v in kwargs.items()},
                return_dict=False,
            )[0]
            if out is None:
                out = part.new_empty((n, *part.shape[1:]))
            out[rows] = part
        return UNet2DConditionOutput(sample=out) if return_dict else (out,)

    unet.forward = per_image_forward
    try:
        yield
    finally:
        if had_own:
            unet.forward = forward
        else:
            del unet.forward


@contextmanager
def vae_modes(vae: Any, pixels: int, settings: ModelSettings) -> Iterator[None]:
    """Decode one image at a time (batch-independent pixels, less memory); tile large images."""
    saved = (getattr(vae, "use_slicing", None), getattr(vae, "use_tiling", None))
    try:
        if saved[0] is not None:
            vae.use_slicing = True
        if saved[1] is not None:
            vae.use_tiling = pixels >= settings.vae_tiling_pixels
        yield
    finally:
        if saved[0] is not None:
            vae.use_slicing = saved[0]
        if saved[1] is not None:
            vae.use_tiling = saved[1]
