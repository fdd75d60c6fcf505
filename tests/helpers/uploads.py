"""Awkward uploads, made in memory: a decompression bomb, 16-bit grey, 1x1, CMYK, alpha, animated."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header says width x height (RGB) over a few bytes of data: what a decompression
    bomb looks like before anything is decoded."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def grey16_png(value: int = 32768, size: int = 64) -> bytes:
    """16-bit grey ("I;16") at `value` of 65535: mid-grey, which a plain convert("RGB") makes white."""
    return encoded(Image.fromarray(np.full((size, size), value, dtype=np.uint16)))


def one_pixel_png(colour=(200, 30, 30)) -> bytes:
    return encoded(Image.new("RGB", (1, 1), colour))


def cmyk_jpeg(size: int = 96) -> bytes:
    return encoded(Image.new("CMYK", (size, size), (255, 0, 0, 0)), "JPEG", quality=95)  # pure cyan


def half_transparent_png(size: int = 64) -> bytes:
    """Left half opaque blue, right half fully transparent (black underneath)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, size // 2, size))
    return encoded(image)


def animated_gif(size: int = 64) -> bytes:
    frames = [Image.new("RGB", (size, size), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def decoded(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB")
