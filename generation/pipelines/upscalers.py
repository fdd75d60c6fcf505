"""Resizing a source image for an upscale: an ESRGAN-family model through spandrel, or Lanczos;
and keeping the source's picture through the detail pass (`keep_source`).

The model (a `.pth` named by `models.upscaler`, found beside the checkpoints) is loaded once and
kept with the loaded Stable Diffusion model (`LoadedModel.derived`), so unloading that model
frees it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from generation.models.loaded import LoadedModel
from generation.settings import ModelSettings

LANCZOS = Image.Resampling.LANCZOS


class UpscalerUnavailable(RuntimeError):
    """The configured ESRGAN-family upscaler cannot be used (missing package or file)."""


def resolve_upscaler(
    model: LoadedModel, settings: ModelSettings, upscaler_path: Path | str | None
) -> Path | None:
    """The upscaler file to use: the one given, else `settings.upscaler` beside the model; None: Lanczos."""
    if upscaler_path is not None:
        return Path(upscaler_path)
    if not settings.upscaler:
        return None
    path = Path(settings.upscaler).expanduser()
    if not path.is_absolute() and model.entry.kind != "hub":
        path = Path(model.entry.path).parent / path
    return path


def upscale_image(
    model: LoadedModel, image: Image.Image, size: tuple[int, int], upscaler: Path | None
) -> Image.Image:
    """`image` resized to `size`: with the upscaler model when there is one, else Lanczos."""
    if upscaler is None:
        return image.resize(size, LANCZOS)
    return esrgan_upscale(model, image, upscaler, size)


def load_upscaler(model: LoadedModel, path: Path) -> Any:
    """Load an ESRGAN-family `.pth` through spandrel on the model's device; one kept per model."""
    try:
        # Optional, and never installed by the project: spandrel imports torchvision, which must
        # match torch exactly (else `import transformers` breaks); a host that has the pair adds it.
        import spandrel
    except ImportError as exc:
        raise UpscalerUnavailable(
            f"the upscaler {path.name} needs the Python package 'spandrel' (which needs torchvision), "
            "and it is not installed: `pip install spandrel` on the GPU host, or set models.upscaler "
            'to "" to upscale with Lanczos'
        ) from exc
    key = (str(path), str(model.device))
    cached = model.derived.get("upscaler")
    if cached is not None and cached[0] == key:
        return cached[1]
    if not path.is_file():
        raise UpscalerUnavailable(f"the upscaler file {path} does not exist")
    descriptor = spandrel.ModelLoader().load_from_file(str(path))
    if not callable(descriptor) or not hasattr(descriptor, "scale"):
        raise UpscalerUnavailable(f"{path.name} is not a single-image upscaler model")
    descriptor.to(model.device)
    descriptor.eval()
    model.derived["upscaler"] = (key, descriptor)  # replaces another one: one loaded at a time
    return descriptor


def esrgan_upscale(model: LoadedModel, image: Image.Image, path: Path, size: tuple[int, int]) -> Image.Image:
    """Upscale with the model (twice when its scale is short of `size`), then Lanczos to `size` exactly."""
    descriptor = load_upscaler(model, path)
    device = model.device
    tensor = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)[None]
    tensor = tensor.to(device=device, dtype=torch.float32) / 255.0
    with torch.no_grad():
        for _ in range(2):
            tensor = descriptor(tensor).clamp(0, 1)
            if tensor.shape[-1] >= size[0] and tensor.shape[-2] >= size[1]:
                break
    array = (tensor[0].permute(1, 2, 0).float().cpu().numpy() * 255.0).round().astype(np.uint8)
    result = Image.fromarray(array, "RGB")
    return result if result.size == size else result.resize(size, LANCZOS)


def keep_source(detailed: Image.Image, source: Image.Image) -> Image.Image:
    """The detail pass's result corrected so that, scaled back down, it is the source again.

    One step of back-projection (the classic super-resolution correction): the difference
    between the source and the result's downscale (box filter: each source pixel is the mean of
    the pixels that replace it) is scaled up (Lanczos) and added back. What the source shows at
    its own resolution (shapes, their edges and positions, colours) stays the source's; the pass
    contributes only detail finer than a source pixel. A small model's pass at twice its size
    redraws edges (a circle comes back lopsided); this keeps the circle round and sharpens it.
    """
    small = detailed.resize(source.size, Image.Resampling.BOX)
    residual = np.asarray(source.convert("RGB"), dtype=np.float32) - np.asarray(small, dtype=np.float32)
    up = np.stack(
        [np.asarray(Image.fromarray(residual[..., c], "F").resize(detailed.size, LANCZOS)) for c in range(3)],
        axis=-1,
    )
    out = np.asarray(detailed, dtype=np.float32) + up
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")
