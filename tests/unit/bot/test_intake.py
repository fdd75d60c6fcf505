"""Uploads for /vary (bot/intake.py, until generation's intake lands): limits read from the header
before decoding, every mode converted to 8-bit RGB, small images scaled up with a note."""

from __future__ import annotations

import pytest
from PIL import Image

from bot.intake import UploadProblem, take_image
from bot.ui.text import describe
from tests.helpers import uploads


def take(data: bytes):
    return take_image(data, min_side=64, max_side=2048)


def test_modes_are_converted_not_clipped():
    grey = take(uploads.grey16_png(32768))
    assert uploads.decoded(grey.png).getpixel((5, 5)) == (128, 128, 128)  # not white
    assert uploads.decoded(take(uploads.cmyk_jpeg()).png).getpixel((5, 5)) == (0, 255, 255)
    alpha = take(uploads.half_transparent_png())
    image = uploads.decoded(alpha.png)
    assert image.getpixel((5, 5)) == (0, 0, 255) and image.getpixel((60, 5)) == (255, 255, 255)
    assert [n.code for n in alpha.notes] == ["upload.transparency_filled"]
    gif = take(uploads.animated_gif())
    assert uploads.decoded(gif.png).getpixel((5, 5)) == (255, 0, 0)  # the first frame
    assert "animated (3 frames); its first frame was used" in describe(gif.notes[0])


def test_a_tiny_image_is_scaled_up_with_a_note():
    tiny = take(uploads.one_pixel_png())
    assert (tiny.width, tiny.height) == (64, 64)
    assert describe(tiny.notes[0]) == (
        "The image was 1x1, smaller than a picture can be made; it was scaled up to 64x64."
    )
    wide = take(uploads.encoded(Image.new("RGB", (100, 10))))
    assert (wide.width, wide.height) == (640, 64)


@pytest.mark.parametrize(
    ("data", "code", "says"),
    [
        (uploads.bomb_png(), "upload.too_many_pixels", "900,000,000 pixels; the most I take is 40,000,000"),
        (uploads.bomb_png(8000, 6000), "upload.too_many_pixels", "8000x6000 (48,000,000 pixels)"),
        (b"", "upload.empty", "empty (0 bytes)"),
        (b"<html>not an image</html>", "upload.not_an_image", "not an image I can read"),
        (uploads.encoded(Image.new("RGB", (300, 300)))[:300], "upload.broken", "damaged or cut short"),
        (uploads.encoded(Image.new("RGB", (4000, 30))), "upload.too_narrow", "crop it closer to a square"),
    ],
)
def test_each_refusal_says_what_is_wrong_with_the_file(data, code, says):
    with pytest.raises(UploadProblem) as info:
        take(data)
    assert info.value.code == code and says in describe(info.value), describe(info.value)
