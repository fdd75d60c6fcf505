"""Image intake: every refusal says what is wrong with the file, every mode comes out right."""

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

import generation.images.intake as intake_module
from bot.ui.text import PROBLEMS, describe
from generation.cli.errors import problem_line
from generation.images.intake import ImageRefused, IntakeLimits, read_image, read_image_file
from generation.settings import Settings


def encoded(image, fmt="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header(width, height):
    """A valid PNG signature and IHDR claiming width x height, with almost no pixel data."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 16))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + pixels + chunk(b"IEND", b"")


def refused(data, limits=None):
    with pytest.raises(ImageRefused) as info:
        read_image(data, limits)
    problem = info.value
    assert len(describe(problem)) < 300 and len(problem_line(problem)) < 300
    assert describe(problem) != PROBLEMS.get("internal")
    return problem


def test_a_decompression_bomb_is_refused_from_its_header():
    problem = refused(png_header(30000, 30000))  # 900 M pixels: Pillow's own bomb check fires first
    assert problem.code == "image.too_many_pixels"
    assert (problem.fields["width"], problem.fields["pixels"]) == (None, 900_000_000)
    assert "decompression bomb" in describe(problem)
    problem = refused(png_header(8000, 8000))  # under Pillow's check, over ours: the size is known
    assert problem.fields == {"width": 8000, "height": 8000, "pixels": 64_000_000, "max": 40_000_000}
    assert describe(problem).startswith(
        "The image is 8000x8000 (64,000,000 pixels), over the limit of 40,000,000"
    )


@pytest.mark.parametrize(
    ("data", "code", "fields", "words"),
    [
        (b"", "image.empty", {}, "The file is empty"),
        (b"some text\n", "image.not_an_image", {"looks_like": "text"}, "That file is text, not an image"),
        (b"%PDF-1.7\n...", "image.not_an_image", {"looks_like": "PDF"}, "That file is a PDF, not an image"),
        (b"\0\0\0\x18ftypisom" + bytes(64), "image.not_an_image", {"looks_like": "video"}, "a video"),
        (bytes(range(256)) * 3, "image.not_an_image", {"looks_like": None}, "That file is not an image"),
        (b"\0\0\0\x18ftypheic" + bytes(64), "image.unsupported", {"format": "HEIC"}, "HEIC photos"),
        (encoded(Image.new("RGB", (8, 8)), "TGA"), "image.unsupported", {"format": "TGA"}, "TGA images"),
        (b"\x89PNG\r\n\x1a\n", "image.unreadable", {"format": "PNG"}, "The PNG file is broken"),
    ],
)
def test_files_that_are_no_usable_image(data, code, fields, words):
    problem = refused(data)
    assert problem.code == code
    assert {key: problem.fields[key] for key in fields} == fields
    assert describe(problem).startswith(words) or words in describe(problem), describe(problem)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_say_so(fmt):
    noise = Image.effect_noise((128, 128), 60).convert("RGB")
    data = encoded(noise, fmt)
    problem = refused(data[: len(data) // 3])
    assert problem.code == "image.truncated"
    assert problem.fields == {"format": fmt, "width": 128, "height": 128}
    assert describe(problem).startswith(f"The {fmt} file is cut off")


def test_bytes_are_checked_before_anything_is_parsed(tmp_path):
    limits = IntakeLimits(max_bytes=1000)
    problem = refused(b"\x89PNG" + bytes(2000), limits)
    assert problem.fields == {"size": 2004, "max": 1000}
    big = tmp_path / "big.png"
    big.write_bytes(bytes(5000))
    with pytest.raises(ImageRefused) as info:
        read_image_file(big, limits)
    assert info.value.code == "image.too_many_bytes"
    assert IntakeLimits.from_settings(Settings()) == IntakeLimits(25 * 2**20, 40_000_000, 64)


def test_a_1x1_image_is_scaled_up_to_the_minimum_with_a_note():
    result = read_image(encoded(Image.new("RGB", (1, 1), (0, 0, 255))))
    assert result.size == (64, 64) and result.image.getpixel((10, 10)) == (0, 0, 255)
    assert [note.code for note in result.notes] == ["image.scaled_up"]
    assert result.notes[0].fields == {"width": 1, "height": 1, "to_width": 64, "to_height": 64, "min": 64}
    assert describe(result.notes[0]).startswith("The image was only 1x1, so it was scaled up to 64x64")
    tall = read_image(encoded(Image.new("L", (3, 200))))
    assert tall.size == (64, 4267)  # the shape is kept
    problem = refused(encoded(Image.new("L", (1, 100_000))))
    assert problem.code == "image.extreme_shape"


def test_16_bit_greys_are_scaled_not_clipped_to_white():
    grey = Image.new("I;16", (64, 64), 32896)  # 50 % grey in 16 bits
    ramp = Image.new("I;16", (256, 1))
    ramp.putdata([v * 257 for v in range(256)])  # every 8-bit level, in 16 bits
    for image, fmt in ((grey, "PNG"), (grey, "TIFF")):
        result = read_image(encoded(image, fmt))
        assert result.original_mode.startswith("I") and result.image.mode == "RGB"
        assert result.image.getpixel((5, 5)) == (128, 128, 128)
        assert [note.code for note in result.notes] == ["image.converted"]
    levels = read_image(encoded(ramp), IntakeLimits(min_size=1)).image
    assert [levels.getpixel((x, 0))[0] for x in range(256)] == list(range(256))
    wide = Image.new("I", (64, 64), 40000)  # 32-bit ints holding 16-bit values
    assert read_image(encoded(wide, "TIFF")).image.getpixel((0, 0)) == (156, 156, 156)
    floats = Image.new("F", (64, 64), 0.25)
    assert read_image(encoded(floats, "TIFF")).image.getpixel((0, 0)) == (64, 64, 64)


def test_alpha_is_flattened_onto_white_or_kept():
    half = Image.new("RGBA", (64, 64), (255, 0, 0, 128))
    result = read_image(encoded(half))
    assert result.image.mode == "RGB" and result.image.getpixel((0, 0)) == (255, 127, 127)
    assert [note.code for note in result.notes] == ["image.flattened"]
    kept = read_image(encoded(half), IntakeLimits(keep_alpha=True))
    assert kept.image.mode == "RGBA" and kept.image.getpixel((0, 0)) == (255, 0, 0, 128)
    clear = Image.new("RGBA", (64, 64), (255, 0, 0, 0)).convert("P")  # palette with transparency
    assert read_image(encoded(clear)).image.getpixel((0, 0)) == (255, 255, 255)
    grey_alpha = Image.new("LA", (64, 64), (0, 128))
    assert read_image(encoded(grey_alpha)).image.getpixel((0, 0)) == (127, 127, 127)
    opaque = read_image(encoded(Image.new("RGBA", (64, 64), (1, 2, 3, 255))))
    assert opaque.image.getpixel((0, 0)) == (1, 2, 3) and opaque.notes == ()


def test_cmyk_and_other_modes_come_out_rgb():
    cyan = read_image(encoded(Image.new("CMYK", (64, 64), (255, 0, 0, 0)), "JPEG"))
    assert cyan.original_mode == "CMYK" and cyan.image.mode == "RGB"
    r, g, b = cyan.image.getpixel((32, 32))
    assert r < 10 and g > 245 and b > 245
    for mode, value in (("1", 1), ("L", 77), ("P", 3)):
        assert read_image(encoded(Image.new(mode, (64, 64), value))).image.mode == "RGB"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_give_their_first_frame(fmt):
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "lime", "blue")]
    data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:], lossless=True)
    result = read_image(data)
    assert result.image.getpixel((32, 32)) == (255, 0, 0)
    assert [note.code for note in result.notes] == ["image.first_frame"]
    assert describe(result.notes[0]) == f"The {fmt} is animated; only its first frame is used."


def test_orientation_and_parameters_are_read():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: stored landscape, shown portrait
    result = read_image(encoded(Image.new("RGB", (120, 80)), "JPEG", exif=exif))
    assert result.size == (80, 120) and result.original_size == (120, 80)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, Seed: 1")
    result = read_image(encoded(Image.new("RGB", (64, 64)), pnginfo=info))
    assert result.parameters.startswith("a cat") and result.format == "PNG"
    assert Image.open(io.BytesIO(result.png())).size == (64, 64)


def test_every_image_problem_is_worded():
    source = Path(intake_module.__file__).read_text(encoding="utf-8")
    codes = set(re.findall(r'"(image\.[a-z_]+)"', source))
    assert len(codes) >= 12
    assert codes <= set(PROBLEMS)
