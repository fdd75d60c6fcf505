"""Uploads under a byte limit: the file as is when it fits, else WebP, JPEG, then smaller copies."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

from generation.images.metadata import encode_user_comment, image_parameters, pnginfo


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    filename: str  # name + the format's extension
    format: str  # "PNG" | "WEBP" | "JPEG" (or the original file's format when sent as is)


_EXTENSIONS = {"PNG": "png", "WEBP": "webp", "JPEG": "jpg", "GIF": "gif"}
_WEBP_QUALITIES = (90, 80, 65, 50)
_JPEG_QUALITIES = (85, 70, 55, 40)
_DOWNSCALE_QUALITY = 80
_HOPELESS = 3  # a first try this many times over the limit: lower quality alone will not do


def _encode(
    image: Image.Image, fmt: str, *, quality: int | None = None, parameters: str | None = None
) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, format="PNG", pnginfo=pnginfo(parameters))
        return buffer.getvalue()
    kwargs: dict[str, object] = {"quality": quality}
    if parameters:
        exif = Image.Exif()
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = encode_user_comment(parameters)
        kwargs["exif"] = exif.tobytes()
    if fmt == "JPEG":
        image = image.convert("RGB") if image.mode != "RGB" else image
        kwargs["optimize"] = True
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def encode_under_limit(
    path_or_image: str | os.PathLike[str] | bytes | Image.Image, max_bytes: int, *, name: str = "image"
) -> EncodedImage:
    """Bytes to upload that fit in `max_bytes`, never touching the file on disk.

    A PNG (or other upload-ready file) small enough goes as is, text chunk and all. Otherwise:
    WebP at falling quality, then JPEG at falling quality, then smaller and smaller WebPs. Lossy
    versions carry the parameters in their EXIF UserComment. Raises ValueError when not even a
    tiny thumbnail fits."""
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be above 0, not {max_bytes}")
    if isinstance(path_or_image, Image.Image):
        image = path_or_image
        parameters = image_parameters(image)
        data = _encode(image, "PNG", parameters=parameters)
        if len(data) <= max_bytes:
            return EncodedImage(data, f"{name}.png", "PNG")
    else:
        data = path_or_image if isinstance(path_or_image, bytes) else Path(path_or_image).read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as opened:
                fmt = opened.format or ""
                if len(data) <= max_bytes and fmt in _EXTENSIONS:
                    return EncodedImage(data, f"{name}.{_EXTENSIONS[fmt]}", fmt)
                opened.load()
                parameters = image_parameters(opened)
                image = opened.copy()
        except UnidentifiedImageError:
            what = "the data" if isinstance(path_or_image, bytes) else path_or_image
            raise ValueError(f"{what} is not an image") from None
        if fmt not in _EXTENSIONS:
            data = _encode(image, "PNG", parameters=parameters)
            if len(data) <= max_bytes:
                return EncodedImage(data, f"{name}.png", "PNG")

    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    if parameters and len(parameters.encode("utf-8")) * 2 > max_bytes // 10:
        parameters = None  # the metadata would eat too much of a tight limit

    smallest = len(data)
    for fmt, qualities in (("WEBP", _WEBP_QUALITIES), ("JPEG", _JPEG_QUALITIES)):
        for i, quality in enumerate(qualities):
            data = _encode(image, fmt, quality=quality, parameters=parameters)
            if len(data) <= max_bytes:
                return EncodedImage(data, f"{name}.{_EXTENSIONS[fmt]}", fmt)
            smallest = min(smallest, len(data))
            if i == 0 and len(data) > _HOPELESS * max_bytes:
                break
    return _downscaled(image, max_bytes, name, parameters, smallest)


def _downscaled(
    image: Image.Image, max_bytes: int, name: str, parameters: str | None, smallest: int
) -> EncodedImage:
    """The largest WebP (within a few tries) of a smaller copy that fits."""
    width, height = image.size
    target = 0.85 * max_bytes
    fits_scale, fits_data = 0.0, None  # the largest scale known to fit
    fails_scale = 1.0  # the smallest scale known not to fit
    scale = min(0.95, math.sqrt(target / smallest))
    for _ in range(8):
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        data = _encode(small, "WEBP", quality=_DOWNSCALE_QUALITY, parameters=parameters)
        if len(data) <= max_bytes:
            fits_scale, fits_data = scale, data
            if len(data) >= 0.6 * max_bytes:
                break
        else:
            fails_scale = scale
            if max(size) <= 16:
                break
        guess = scale * math.sqrt(target / len(data))
        if not fits_scale < guess < fails_scale:
            guess = (fits_scale + fails_scale) / 2 if fits_data else scale / 2
        if fails_scale - fits_scale < 0.02:
            break
        scale = guess
    if fits_data is None:
        raise ValueError(f"cannot fit the image in {max_bytes:,} bytes, even as a tiny thumbnail")
    return EncodedImage(fits_data, f"{name}.webp", "WEBP")
