"""Source images of img2img and upscale requests: given as images, or opened from the request's path.

Either way a source is turned upright (its EXIF orientation applied) and into RGB, transparency
over white, so an image handed over as bytes gives the same result as the same file on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageOps

from generation.requests.request import GenerationRequest, Mode

LANCZOS = Image.Resampling.LANCZOS
NEEDS_SOURCE = (Mode.IMG2IMG, Mode.UPSCALE, Mode.INPAINT, Mode.OUTPAINT)


def source_images(
    requests: Sequence[GenerationRequest], sources: Sequence[Image.Image | None] | None
) -> list[Image.Image | None]:
    """One upright RGB source per request (None for txt2img): the given image, else the file at
    `request.source_image`."""
    out: list[Image.Image | None] = []
    for i, request in enumerate(requests):
        if request.mode not in NEEDS_SOURCE:
            out.append(None)
            continue
        given = sources[i] if sources is not None else None
        out.append(upright_rgb(given) if given is not None else open_image(request.source_image))
    return out


def mask_images(
    requests: Sequence[GenerationRequest], masks: Sequence[Image.Image | None] | None
) -> list[Image.Image | None]:
    """One upright mask per inpaint request (None for the others): the given image, else the file
    at `request.edit.mask`. Left in its own mode: `images.masks.as_mask` reads it."""
    out: list[Image.Image | None] = []
    for i, request in enumerate(requests):
        if request.mode is not Mode.INPAINT:
            out.append(None)
            continue
        given = masks[i] if masks is not None else None
        if given is None:
            path = request.edit.mask if request.edit is not None else None
            if path is None:
                raise ValueError("no mask image")
            with Image.open(path) as opened:
                given = opened.copy()
        out.append(ImageOps.exif_transpose(given))
    return out


def open_image(path: str | Path | None) -> Image.Image:
    if path is None:
        raise ValueError("no source image")
    with Image.open(path) as opened:
        return upright_rgb(opened)  # a loaded copy: valid once the file is closed


def upright_rgb(image: Image.Image) -> Image.Image:
    """The image with its EXIF orientation applied, in RGB (a new image; `image` is not changed)."""
    return to_rgb(ImageOps.exif_transpose(image))


def to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resize to cover (width, height) and centre-crop: the web UI's "crop and resize"."""
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), LANCZOS)
