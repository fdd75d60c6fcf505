"""A job's images as PNG files: each image with its own parameters, then the grid.

`encode_images` makes the bytes (workers send them to the job service, which stores them as
artifacts); `save_job_images` writes them into a folder (the command line); `write_atomic` is how
any of them reaches a disk.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from generation.images.grid import make_grid
from generation.images.metadata import DEFAULT_HIRES_UPSCALER, format_parameters, pnginfo
from generation.requests.applied import Applied
from generation.requests.request import MAX_SEED, RANDOM_SEED, GenerationRequest


@dataclass(frozen=True)
class EncodedImages:
    """A job's images as PNG bytes (each with its own parameters), their seeds, and the grid."""

    images: list[bytes]
    seeds: list[int]
    grid: bytes | None


@dataclass(frozen=True)
class SavedImages:
    grid: Path
    images: list[Path]  # outputs_dir/<job_id>/<index>.png, index from 0
    seeds: list[int]  # the seed of each image


def png_bytes(image: Image.Image, parameters: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=pnginfo(parameters))
    return buffer.getvalue()


def encode_images(
    request: GenerationRequest,
    images: Sequence[Image.Image],
    model_name: str | None,
    model_hash: str | None,
    *,
    hires_upscaler: str = DEFAULT_HIRES_UPSCALER,
    applied: Applied | Sequence[Applied | None] | None = None,
) -> EncodedImages:
    """A job's images as PNG bytes, image i (made with seed + i and its own prompt) carrying its own
    A1111 parameters (with the add-ons the job `applied`, or image i `applied[i]` when given per
    image), and the grid carrying the first image's."""
    if not images:
        raise ValueError("a job's result needs at least one image")
    if request.seed == RANDOM_SEED:
        raise ValueError("resolve the request's seed before encoding its images")
    seeds = [(request.seed + i) % (MAX_SEED + 1) for i in range(len(images))]
    per_image = list(applied) if isinstance(applied, Sequence) else [applied] * len(images)
    if len(per_image) != len(images):
        raise ValueError(f"{len(per_image)} applied add-ons for {len(images)} images")
    texts = [
        format_parameters(
            request.replace(prompt=request.prompt_for(i), image_prompts=()),  # the prompt it was made with
            seed,
            model_name,
            model_hash,
            hires_upscaler=hires_upscaler,
            applied=per_image[i],
        )
        for i, seed in enumerate(seeds)
    ]
    pngs = [png_bytes(image, text) for image, text in zip(images, texts, strict=True)]
    return EncodedImages(pngs, seeds, png_bytes(make_grid(list(images)), texts[0]))


def write_atomic(path: Path, data: bytes) -> None:
    """`data` at `path`, whole or not at all (a crash leaves the old file or none, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
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
    applied: Applied | Sequence[Applied | None] | None = None,
) -> SavedImages:
    """Write `<outputs_dir>/<job_id>/<index>.png` per image (image i made with seed + i and its own
    prompt, in its own parameters) and then `grid.png` (with the first image's), each atomically."""
    if not job_id or "/" in job_id or "\\" in job_id or job_id in (".", ".."):
        raise ValueError(f"a job id must be a plain file name, not {job_id!r}")
    encoded = encode_images(
        request, images, model_name, model_hash, hires_upscaler=hires_upscaler, applied=applied
    )
    folder = Path(outputs_dir) / job_id
    paths = []
    for index, data in enumerate(encoded.images):
        paths.append(folder / f"{index}.png")
        write_atomic(paths[-1], data)
    grid = folder / "grid.png"
    write_atomic(grid, encoded.grid)
    return SavedImages(grid=grid, images=paths, seeds=encoded.seeds)
