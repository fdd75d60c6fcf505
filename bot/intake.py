"""Uploaded images for /vary: checked before they are decoded, converted from every mode, and
scaled up when too small, each refusal and change a Problem the bot words (`upload.*` codes).

Provisional: issue 10 gives the generation side one torch-free intake function for the bot and the
command line (`generation/images/intake.py`); when it lands it replaces this module, which has its
shape: bytes in, an `Intake` (PNG bytes, size, notes) out, or a Problem naming what is wrong with
the file. Runs in a thread (decoding is slow).
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from generation.problems import Problem

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000  # checked from the header, before a single pixel is decoded
WHITE = (255, 255, 255)


class UploadProblem(Problem):
    """The upload cannot be used; the code says why."""


@dataclass(frozen=True)
class Intake:
    png: bytes  # RGB, 8 bits a channel
    width: int
    height: int
    notes: tuple[Problem, ...] = ()  # what was changed: scaled up, first frame, transparency


def take_image(
    data: bytes,
    *,
    min_side: int,
    max_side: int,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_UPLOAD_PIXELS,
) -> Intake:
    """The upload as an RGB PNG at least `min_side` on its shorter side; raises UploadProblem."""
    if not data:
        raise UploadProblem("upload.empty")
    if len(data) > max_bytes:
        raise UploadProblem("upload.too_large", size=len(data), max=max_bytes)
    image = _open(data, max_pixels)
    notes: list[Problem] = []
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.seek(0)
        notes.append(Problem("upload.first_frame", frames=frames))
    try:
        image.load()
    except OSError as exc:  # "image file is truncated", a broken chunk
        raise UploadProblem("upload.broken", detail=str(exc)) from None
    image = ImageOps.exif_transpose(image)  # phones store the turn in EXIF
    if _has_alpha(image):
        notes.append(Problem("upload.transparency_filled"))
    image = to_rgb(image)
    width, height = image.size
    if max(width, height) / min(width, height) > max_side / min_side:
        raise UploadProblem("upload.too_narrow", width=width, height=height, ratio=max_side // min_side)
    if min(width, height) < min_side:
        scale = min_side / min(width, height)
        size = (max(min_side, math.ceil(width * scale)), max(min_side, math.ceil(height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        notes.append(
            Problem("upload.scaled_up", width=width, height=height, to_width=size[0], to_height=size[1])
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Intake(buffer.getvalue(), image.width, image.height, tuple(notes))


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Read the header only; refuse what is not an image or has too many pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # past Pillow's own limit: no size to read
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else None
        raise UploadProblem(
            "upload.too_many_pixels", width=None, height=None, pixels=pixels, max=max_pixels
        ) from None
    except UnidentifiedImageError:
        raise UploadProblem("upload.not_an_image") from None
    except OSError as exc:
        raise UploadProblem("upload.broken", detail=str(exc)) from None
    width, height = image.size
    if width * height > max_pixels:
        raise UploadProblem(
            "upload.too_many_pixels", width=width, height=height, pixels=width * height, max=max_pixels
        )
    if width < 1 or height < 1:
        raise UploadProblem("upload.broken", detail=f"it says it is {width}x{height}")
    return image


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return image.getextrema()[-1][0] < 255  # some pixel is not opaque
    return image.mode == "P" and "transparency" in image.info


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: 16-bit and 32-bit grey scaled (not clipped to white), palette and
    alpha flattened onto white, CMYK converted."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _deep_grey(image)
    if mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _deep_grey(image: Image.Image) -> Image.Image:
    """16-bit ("I;16"), 32-bit ("I") or float ("F") grey to 8 bits: 16-bit values by their high
    byte, others by their own range."""
    import numpy as np

    values = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16"):
        values = values / 257.0
    elif values.size and values.max() > 255:
        values = values * (255.0 / max(values.max(), 1.0))
    elif image.mode == "F" and values.size and values.max() <= 1.0:
        values = values * 255.0
    grey = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))  # 2-D uint8: "L"
    return grey.convert("RGB")
