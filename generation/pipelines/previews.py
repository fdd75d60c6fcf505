"""Cheap progress previews: latents -> RGB by a linear map, without running the VAE.

Each latent channel contributes a fixed amount to red, green and blue (the well-known factors
fitted for the SD1.x/SD2 VAE and for the SDXL VAE). Other latent layouts get a generic projection
normalised per image. The result is a small PIL image (at most `MAX_PREVIEW` pixels a side).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from PIL import Image

from generation.models.arch import Arch

MAX_PREVIEW = 256  # longest side of a preview image
UPSCALE = 8  # latent pixels -> preview pixels (the VAE's own factor), when it fits

# Latent channel -> (R, G, B) contributions; the outcome is in about [-1, 1].
SD1_FACTORS = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)
SD1_BIAS = (0.0, 0.0, 0.0)
SDXL_FACTORS = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)
SDXL_BIAS = (0.1084, -0.0175, -0.0011)

_FACTORS = {
    Arch.SD1: (SD1_FACTORS, SD1_BIAS),
    Arch.SD2: (SD1_FACTORS, SD1_BIAS),
    Arch.SDXL: (SDXL_FACTORS, SDXL_BIAS),
}


def latents_to_rgb(latents: torch.Tensor, arch: str = Arch.SD1) -> torch.Tensor:
    """(B, C, h, w) latents -> (B, h, w, 3) uint8 on the CPU. An `arch` without known factors (or
    latents of another channel count) gets the generic projection."""
    latents = latents.detach().float()
    channels = latents.shape[1]
    factors = _FACTORS.get(arch)
    if factors is not None and len(factors[0]) == channels:
        weights = torch.tensor(factors[0], device=latents.device)
        bias = torch.tensor(factors[1], device=latents.device)
        rgb = torch.einsum("bchw,cr->bhwr", latents, weights) + bias
        rgb = (rgb + 1.0) / 2.0
    else:
        rgb = _generic_projection(latents)
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def _generic_projection(latents: torch.Tensor) -> torch.Tensor:
    """Unknown latent layout: a fixed smooth channel mix to 3 outputs, normalised per image."""
    channels = latents.shape[1]
    c = torch.arange(channels, dtype=torch.float32, device=latents.device) + 0.5
    weights = torch.stack([torch.cos(math.pi * c * k / channels) for k in range(3)], dim=1)
    weights = weights / weights.norm(dim=0, keepdim=True).clamp_min(1e-6)
    rgb = torch.einsum("bchw,cr->bhwr", latents, weights)
    mean = rgb.mean(dim=(1, 2), keepdim=True)
    std = rgb.std(dim=(1, 2), keepdim=True, unbiased=False).clamp_min(1e-6)
    return (rgb - mean) / (4 * std) + 0.5


def _to_image(rgb: torch.Tensor, max_side: int) -> Image.Image:
    image = Image.fromarray(rgb.numpy(), "RGB")
    h, w = rgb.shape[0], rgb.shape[1]
    scale = min(UPSCALE, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image


def latent_previews(
    latents: torch.Tensor, arch: str = Arch.SD1, max_side: int = MAX_PREVIEW
) -> list[Image.Image]:
    """One small preview image per latent in the batch."""
    return [_to_image(rgb, max_side) for rgb in latents_to_rgb(latents, arch)]


def preview_grid(images: Sequence[Image.Image], max_side: int = MAX_PREVIEW) -> Image.Image:
    """One image for a request's previews: a single one, a row of 2, or 2x2 for 3-4 (more: rows of 2)."""
    if len(images) == 1:
        return images[0]
    cols = 2
    rows = math.ceil(len(images) / cols)
    w = max(im.width for im in images)
    h = max(im.height for im in images)
    grid = Image.new("RGB", (cols * w, rows * h))
    for i, im in enumerate(images):
        grid.paste(im, ((i % cols) * w, (i // cols) * h))
    if max(grid.size) > max_side:
        scale = max_side / max(grid.size)
        grid = grid.resize((max(1, round(grid.width * scale)), max(1, round(grid.height * scale))))
    return grid


def preview(latents: torch.Tensor, arch: str = Arch.SD1, max_side: int = MAX_PREVIEW) -> Image.Image:
    """A batch of latents as one small preview image (a grid when there are several)."""
    n = latents.shape[0]
    cols = 1 if n == 1 else 2
    per_image = max(8, max_side // cols)
    return preview_grid(latent_previews(latents, arch, per_image), max_side)
