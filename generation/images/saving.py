"""Saving a job's images: one PNG per image with its own parameters, then the grid, atomically."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from generation.images.grid import make_grid
from generation.images.metadata import DEFAULT_HIRES_UPSCALER, format_parameters, pnginfo
from generation.requests.request import MAX_SEED, RANDOM_SEED, GenerationRequest


@dataclass(frozen=True)
class SavedImages:
    grid: Path
    images: list[Path]  # outputs_dir/<job_id>/<index>.png, index from 0
    seeds: list[int]  # the seed of each image


def _save_png_atomic(image: Image.Image, path: Path, parameters: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            image.save(f, format="PNG", pnginfo=pnginfo(parameters))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_job_images(
    outputs_dir: str | os.PathLike[str],
    job_id: str,
    request: GenerationRequest,
    images: Sequence[Image.Image],
    model_name: str | None,
    model_hash: str | None,
    *,
    hires_upscaler: str = DEFAULT_HIRES_UPSCALER,
) -> SavedImages:
    """Write `<outputs_dir>/<job_id>/<index>.png` per image (image i made with seed + i and its own
    prompt, in its own parameters) and then `grid.png` (with the first image's), each atomically."""
    if not images:
        raise ValueError("save_job_images needs at least one image")
    if request.seed == RANDOM_SEED:
        raise ValueError("resolve the request's seed before saving its images")
    if not job_id or "/" in job_id or "\\" in job_id or job_id in (".", ".."):
        raise ValueError(f"a job id must be a plain file name, not {job_id!r}")
    folder = Path(outputs_dir) / job_id
    folder.mkdir(parents=True, exist_ok=True)
    seeds = [(request.seed + i) % (MAX_SEED + 1) for i in range(len(images))]
    texts = [
        format_parameters(
            request.replace(prompt=request.prompt_for(i), image_prompts=()),  # its drawn variant
            seed,
            model_name,
            model_hash,
            hires_upscaler=hires_upscaler,
        )
        for i, seed in enumerate(seeds)
    ]
    paths = []
    for index, (image, text) in enumerate(zip(images, texts, strict=True)):
        path = folder / f"{index}.png"
        _save_png_atomic(image, path, text)
        paths.append(path)
    grid = folder / "grid.png"
    _save_png_atomic(make_grid(images), grid, texts[0])
    return SavedImages(grid=grid, images=paths, seeds=seeds)
