"""Images people hand in (uploads to `/vary`, the command line's `upscale` and `vary` files), read once.

`read_image(data, limits)` is the one way an outside image enters: the bot and the command line
both use it, so the same file gets the same answer wherever it is given. In order:

1. the bytes: none at all, or more than `limits.max_bytes`, are refused before anything is parsed;
2. the header: only the formats in `FORMATS` are opened (no EPS through Ghostscript, no PSD), and
   the size in the header is checked against `limits.max_pixels` **before decoding**, so a
   30000x30000 decompression bomb is refused without allocating it (Pillow's own
   `DecompressionBombError`, not an `OSError`, is caught as the same refusal);
3. decoding: the first frame only (animated GIF, WebP and APNG), truncated or broken data refused
   as such;
4. conversion to RGB, each mode by its meaning: EXIF orientation applied; 16-bit greys ("I;16",
   "I") scaled to 8 bits (a plain `convert("RGB")` clips them to white); floats ("F") scaled;
   palette images with transparency, "LA", "PA" and "RGBA" flattened onto white (or kept as RGBA
   with `limits.keep_alpha`); CMYK through its ICC profile when it has one;
5. size: an image whose shorter side is under `limits.min_size` is scaled up to it (a note says
   so), as generation cannot start from a 1x1 image.

Refusals are `ImageRefused` problems (`image.empty`, `image.too_many_bytes`, `image.not_an_image`,
`image.unsupported`, `image.too_many_pixels`, `image.truncated`, `image.unreadable`,
`image.extreme_shape`) whose fields say what is wrong with the file; what was changed on the way
is in `Intake.notes`, as problems too (`image.scaled_up`, `image.first_frame`, `image.flattened`,
`image.converted`), for front ends to show or not. Torch-free.
"""

from __future__ import annotations

import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from generation.images.metadata import image_parameters
from generation.problems import Problem

if TYPE_CHECKING:
    from generation.settings import Settings

__all__ = ["FORMATS", "ImageRefused", "Intake", "IntakeLimits", "read_image", "read_image_file"]

# Formats people upload: phones (JPEG and its multi-picture MPO), the web (PNG, WebP, GIF, AVIF), editors.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")  # JPEG includes MPO
LANCZOS = Image.Resampling.LANCZOS
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
_WITH_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


@dataclass(frozen=True)
class IntakeLimits:
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000  # of the file's own size, read from its header before decoding
    min_size: int = 64  # the shorter side after intake: smaller images are scaled up to it
    keep_alpha: bool = False  # True: an image with transparency stays RGBA (e.g. for a mask)

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeLimits:
        limits = settings.limits
        return cls(limits.max_image_bytes, limits.max_image_pixels, limits.min_size)


@dataclass(frozen=True)
class Intake:
    """An image ready for the pipelines, and what was done to it."""

    image: Image.Image  # RGB (RGBA with keep_alpha), upright, loaded, shorter side >= min_size
    format: str  # the file's format, e.g. "PNG"
    original_size: tuple[int, int]
    original_mode: str
    parameters: str | None  # the web UI's `parameters` text, when the file carries one
    notes: tuple[Problem, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def png(self) -> bytes:
        """The image as PNG bytes (what an upload is stored as)."""
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()


class ImageRefused(Problem, ValueError):
    """The file cannot be used as an image; the code says why, the fields what was found."""


def read_image_file(path: str | os.PathLike[str], limits: IntakeLimits | None = None) -> Intake:
    """`read_image` of a file, its size checked before it is read."""
    limits = limits or IntakeLimits()
    size = Path(path).stat().st_size
    if size > limits.max_bytes:
        raise ImageRefused("image.too_many_bytes", size=size, max=limits.max_bytes)
    return read_image(Path(path).read_bytes(), limits)


def read_image(data: bytes, limits: IntakeLimits | None = None) -> Intake:
    """The image in `data`, upright, in RGB and at least `limits.min_size`; or ImageRefused."""
    limits = limits or IntakeLimits()
    # 1. the bytes
    if not data:
        raise ImageRefused("image.empty")
    if len(data) > limits.max_bytes:
        raise ImageRefused("image.too_many_bytes", size=len(data), max=limits.max_bytes)
    # 2. the header
    opened = _open(data, limits)
    with opened:
        fmt, size, mode = opened.format or "?", opened.size, opened.mode
        width, height = size
        if width < 1 or height < 1:
            raise ImageRefused("image.unreadable", format=fmt, detail="no pixels")
        if width * height > limits.max_pixels:
            raise ImageRefused(
                "image.too_many_pixels",
                width=width,
                height=height,
                pixels=width * height,
                max=limits.max_pixels,
            )
        notes: list[Problem] = []
        if getattr(opened, "is_animated", False):
            notes.append(Problem("image.first_frame", format=fmt))
        parameters = _parameters(opened)
        # 3. decoding (the first frame: Image.open is on it)
        try:
            opened.load()
        except (OSError, EOFError, SyntaxError) as exc:  # Pillow's ways of saying "the data ends"
            if _truncated(exc):
                raise ImageRefused("image.truncated", format=fmt, width=width, height=height) from None
            raise ImageRefused("image.unreadable", format=fmt, detail=type(exc).__name__) from None
        except Exception as exc:  # a hostile file can make a decoder raise anything
            raise ImageRefused("image.unreadable", format=fmt, detail=type(exc).__name__) from None
        # 4. conversion
        image = _upright(opened)
        image = _rgb(image, limits, notes)
    # 5. size
    image = _at_least(image, limits, notes)
    return Intake(image, fmt, size, mode, parameters, tuple(notes))


# -- the steps ---------------------------------------------------------------------------------


def _open(data: bytes, limits: IntakeLimits) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:  # Pillow's own check, before ours: far too many
        match = _BOMB_PIXELS.search(str(exc))
        pixels = int(match.group(1)) if match else None
        raise ImageRefused(
            "image.too_many_pixels", width=None, height=None, pixels=pixels, max=limits.max_pixels
        ) from None
    except UnidentifiedImageError:
        pass
    except Exception as exc:  # a header a plugin chokes on
        raise ImageRefused("image.unreadable", format=None, detail=type(exc).__name__) from None
    raise _unknown(data)


def _unknown(data: bytes) -> ImageRefused:
    """Not one of FORMATS: an image of another format, or not an image (what it looks like)."""
    try:
        with Image.open(io.BytesIO(data)) as other:  # the header only, to name the format
            return ImageRefused(
                "image.unsupported", format=other.format, mode=other.mode, supported=list(FORMATS)
            )
    except Exception:
        pass
    kind = _looks_like(data)
    if kind in ("HEIC", "JPEG XL"):
        return ImageRefused("image.unsupported", format=kind, mode=None, supported=list(FORMATS))
    if kind in FORMATS:  # its signature, then nothing Pillow can parse: a broken header
        return ImageRefused("image.unreadable", format=kind, detail="header")
    return ImageRefused("image.not_an_image", size=len(data), looks_like=kind)


_SIGNATURES = (
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP"),
    (b"\x1a\x45\xdf\xa3", "video"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"GIF8", "GIF"),  # a GIF Pillow cannot read is a broken one
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8", "JPEG"),
)


def _looks_like(data: bytes) -> str | None:
    head = data[:64]
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "HEIC" if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc") else "video"
    try:
        text = data[:512].decode("utf-8")
    except UnicodeDecodeError:
        return None
    stripped = text.lstrip().lower()
    if stripped.startswith(("<svg", "<?xml")):
        return "SVG"
    if stripped.startswith(("<!doctype html", "<html")):
        return "HTML"
    return "text" if text.isprintable() or text.replace("\n", "").replace("\r", "").isprintable() else None


def _truncated(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, EOFError) or "truncated" in text or "broken data stream" in text


def _parameters(image: Image.Image) -> str | None:
    try:
        return image_parameters(image)
    except Exception:  # metadata is a bonus; a broken chunk is no metadata
        return None


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block: the pixels as stored
        return image


def _rgb(image: Image.Image, limits: IntakeLimits, notes: list[Problem]) -> Image.Image:
    """RGB (or RGBA with keep_alpha) by each mode's meaning."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT:
        notes.append(Problem("image.converted", mode=mode, to="RGB"))
        return _scaled_to_8_bits(image.convert("I"), 0, 65535).convert("RGB")
    if mode in ("I", "F"):
        low, high = image.getextrema()
        if mode == "I" and low >= 0 and high <= 255:
            low, high = 0, 255  # 8-bit values stored wide
        elif mode == "I" and low >= 0 and high <= 65535:
            low, high = 0, 65535  # 16-bit values (PGM, some TIFFs)
        elif mode == "F" and low >= 0 and high <= 1:
            low, high = 0, 1
        notes.append(Problem("image.converted", mode=mode, to="RGB"))
        return _scaled_to_8_bits(image, low, high).convert("RGB")
    if mode == "CMYK":
        notes.append(Problem("image.converted", mode=mode, to="RGB"))
        return _cmyk_to_rgb(image)
    if mode in _WITH_ALPHA or (mode == "P" and "transparency" in image.info):
        try:
            rgba = image.convert("RGBA")
        except ValueError:
            raise ImageRefused(
                "image.unsupported", format=image.format, mode=mode, supported=list(FORMATS)
            ) from None
        if limits.keep_alpha:
            return rgba
        if rgba.getchannel("A").getextrema()[0] < 255:  # some pixel is see-through
            notes.append(Problem("image.flattened", mode=mode))
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    try:
        return image.convert("RGB")  # 1, L, P, YCbCr, LAB, HSV, RGBX
    except ValueError:
        raise ImageRefused(
            "image.unsupported", format=image.format, mode=mode, supported=list(FORMATS)
        ) from None


def _scaled_to_8_bits(image: Image.Image, low: float, high: float) -> Image.Image:
    """An "I" or "F" image with `low..high` mapped onto 0..255 (rounded), as "L"."""
    if high <= low:
        return image.point(lambda v: v * 0 + min(max(low, 0), 255)).convert("L")
    scale = 255 / (high - low)
    return image.point(lambda v: v * scale + (0.5 - low * scale)).convert("L")


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """CMYK through its embedded ICC profile to sRGB; Pillow's plain formula without one."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the plain formula
    return image.convert("RGB")


def _at_least(image: Image.Image, limits: IntakeLimits, notes: list[Problem]) -> Image.Image:
    """Scale an image whose shorter side is under `min_size` up to it, keeping its shape."""
    width, height = image.size
    if min(width, height) >= limits.min_size:
        return image
    scale = limits.min_size / min(width, height)
    to_width, to_height = (
        max(limits.min_size, math.ceil(width * scale)),
        max(limits.min_size, math.ceil(height * scale)),
    )
    if to_width * to_height > limits.max_pixels:  # a 1x100000 sliver would become 64x6400000
        raise ImageRefused(
            "image.extreme_shape", width=width, height=height, min=limits.min_size, max=limits.max_pixels
        )
    notes.append(
        Problem(
            "image.scaled_up",
            width=width,
            height=height,
            to_width=to_width,
            to_height=to_height,
            min=limits.min_size,
        )
    )
    return image.resize((to_width, to_height), LANCZOS)
