"""The initial noise of each image: its own CPU generator, so an image depends on its seed alone.

Image `i` of a request uses seed `seed + i` (and, with a variation, variation seed `vseed + i`),
drawn with `torch.Generator("cpu")`, so the same seed gives the same image on any device and
whatever it is batched with. The generators come back for the sampler's per-step noise too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from generation.requests.request import MAX_SEED, GenerationRequest

# (variation seed, strength) of one image, or None
ImageVariation = tuple[int, float] | None


def image_seeds(request: GenerationRequest, count: int) -> list[tuple[int, ImageVariation]]:
    """(seed, variation) of each of the request's first `count` images: `seed + i`, `vseed + i`."""
    var = request.variation
    return [
        (
            (request.seed + i) % (MAX_SEED + 1),  # request.seeds, for any count
            None if var is None or var.strength <= 0 else ((var.seed + i) % (MAX_SEED + 1), var.strength),
        )
        for i in range(count)
    ]


def initial_noise(
    seeds: Sequence[int], variations: Sequence[ImageVariation], shape: tuple[int, ...]
) -> tuple[torch.Tensor, list[torch.Generator]]:
    """Unit Gaussian noise per image from `torch.Generator("cpu").manual_seed(seed)`, concatenated.

    A variation `(seed, strength)` slerps the image's noise towards that seed's noise (the web
    UI's variation seed). The generators come back, advanced past the noise, for the sampler's
    per-step noise (ancestral and SDE samplers), so that too depends only on the image's seed.
    """
    noises, generators = [], []
    for seed, variation in zip(seeds, variations, strict=True):
        generator = torch.Generator("cpu").manual_seed(int(seed))
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        if variation is not None and variation[1] > 0:
            other = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(int(variation[0])))
            noise = slerp(variation[1], noise, other)
        noises.append(noise)
        generators.append(generator)
    return torch.cat(noises), generators


def slerp(t: float, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from `low` (t=0) to `high` (t=1), over the whole tensor."""
    if t <= 0:
        return low
    if t >= 1:
        return high
    dot = torch.sum((low / low.norm()) * (high / high.norm())).clamp(-1.0, 1.0)
    if dot.abs() > 0.9995:
        return (1.0 - t) * low + t * high
    omega = torch.acos(dot)
    so = torch.sin(omega)
    return (torch.sin((1.0 - t) * omega) / so) * low + (torch.sin(t * omega) / so) * high


def use_noise(scheduler: Any, noise: torch.Tensor) -> None:
    """Make this (per-pass) scheduler's add_noise() use `noise` instead of what the pipeline drew.

    The img2img pipelines draw their own noise for add_noise(); handing them ours keeps the seed and
    variation semantics of img2img equal to txt2img's.
    """
    add_noise = scheduler.add_noise

    def add_own_noise(
        original_samples: torch.Tensor, _noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        if original_samples.shape != noise.shape:
            raise RuntimeError(f"noise shape {tuple(noise.shape)} != latents {tuple(original_samples.shape)}")
        own = noise.to(device=original_samples.device, dtype=original_samples.dtype)
        return add_noise(original_samples, own, timesteps)

    scheduler.add_noise = add_own_noise
