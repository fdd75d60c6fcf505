import re
import sys
import types

import pytest

from generation.requests.request import GenerationRequest, HiresFix, Mode, Variation
from generation.requests.validation import ValidationError, validate
from generation.settings import LimitSettings, Settings

S = Settings()


def req(**kw):
    kw.setdefault("prompt", "a lighthouse")
    return GenerationRequest(**kw)


def test_a_good_request_comes_back_normalised():
    r = validate(req(prompt="  a cat  ", negative_prompt=" dogs ", width=513, height=771), S)
    assert (r.prompt, r.negative_prompt, r.width, r.height) == ("a cat", "dogs", 512, 768)


def test_the_defaults_are_valid():
    assert validate(req(), S) == req()


def test_sampler_is_canonicalised(monkeypatch):
    fake = types.ModuleType("generation.requests.samplers")

    def canonical_sampler(name):
        if name.lower() == "euler a":
            return "Euler a"
        raise ValueError(f"unknown sampler {name!r}; samplers are Euler a")

    fake.canonical_sampler = canonical_sampler
    monkeypatch.setitem(sys.modules, "generation.requests.samplers", fake)
    assert validate(req(sampler="EULER A"), S).sampler == "Euler a"
    with pytest.raises(ValidationError, match=r"^Unknown sampler 'Nope'; samplers are Euler a \(set it with"):
        validate(req(sampler="Nope"), S)


def test_upscale_gives_one_image_and_keeps_the_source_size():
    r = validate(req(mode=Mode.UPSCALE, source_image="a.png", width=1000, height=700, count=4), S)
    assert (r.count, r.width, r.height) == (1, 1000, 700)


IMG = {"source_image": "/tmp/source.png"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prompt": "   "}, "The prompt is empty: describe the image you want"),
        (
            {"prompt": "x" * 1001},
            "The prompt is 1,001 characters long; shorten it to 1,000 characters or fewer.",
        ),
        ({"negative_prompt": "x" * 1001}, "The negative prompt (--no) is 1,001 characters long"),
        ({"mode": Mode.IMG2IMG}, "Image-to-image needs a source image: attach the image to start from."),
        ({"mode": Mode.UPSCALE}, "Upscaling needs a source image: attach the image to upscale."),
        (
            {"width": 32},
            "Width 32 is too small: each side must be between 64 and 2048 pixels (set it with --w).",
        ),
        (
            {"height": 4096},
            "Height 4096 is too large: each side must be between 64 and 2048 pixels (set it with --h).",
        ),
        (
            {"width": 1536, "height": 1536},
            "1536x1536 is 2,359,296 pixels, over this server's limit of 1,048,576 (about 1024x1024); "
            "try --w 1024 --h 1024, which keeps the shape.",
        ),
        (
            {"width": 2048, "height": 1024},
            "2048x1024 is 2,097,152 pixels, over this server's limit of 1,048,576 (about 1024x1024); "
            "try --w 1448 --h 720, which keeps the shape.",
        ),
        ({"steps": 0}, "Steps must be between 1 and 60, not 0; use --steps 60 or fewer."),
        ({"steps": 61}, "Steps must be between 1 and 60, not 61"),
        ({"cfg_scale": 0.5}, "CFG scale must be between 1 and 20, not 0.5; set it with --cfg"),
        ({"cfg_scale": 25.0}, "CFG scale must be between 1 and 20, not 25"),
        ({"cfg_scale": float("nan")}, "CFG scale must be between 1 and 20"),
        ({"count": 0}, "The number of images must be between 1 and 4, not 0; use --n 4 or fewer."),
        ({"count": 5}, "The number of images must be between 1 and 4, not 5"),
        ({"seed": -2}, "The seed must be a whole number from 0 to 4294967294, or -1 for a random one"),
        ({"seed": 4294967295}, "The seed must be a whole number from 0 to 4294967294"),
        ({"variation": Variation(-1, 0.1)}, "The variation seed must be a whole number from 0 to 4294967294"),
        ({"variation": Variation(1, 1.5)}, "The variation strength must be between 0 and 1, not 1.5"),
        ({"variation": Variation(1, -0.1)}, "The variation strength must be between 0 and 1"),
        ({"strength": 0.0}, "Strength must be above 0 and at most 1, not 0"),
        ({"strength": 1.5, "mode": Mode.IMG2IMG, **IMG}, "Strength must be above 0 and at most 1, not 1.5"),
        (
            {"strength": 0.05, "steps": 10, "mode": Mode.IMG2IMG, **IMG},
            "With 10 steps at strength 0.05 not a single denoising step runs; raise --strength or --steps.",
        ),
        ({"hires": HiresFix(3.0)}, "The hires scale must be above 1 and at most 2, not 3; try --hires 2."),
        ({"hires": HiresFix(1.0)}, "The hires scale must be above 1 and at most 2, not 1"),
        ({"hires": HiresFix(2.0, 0.0)}, "The hires strength must be above 0 and at most 1, not 0"),
        (
            {"hires": HiresFix(2.0, 0.5, 100)},
            "Hires steps must be between 1 and 60, not 100 (--hires-steps).",
        ),
        (
            {"hires": HiresFix(2.0), "mode": Mode.IMG2IMG, **IMG},
            "The hires fix (--hires) works only when generating from a prompt; drop --hires.",
        ),
        (
            {
                "hires": HiresFix(2.0),
                "width": 1024,
                "height": 1024,
                "limits": LimitSettings(max_hires_scale=4),
            },
            None,
        ),
        (
            {
                "hires": HiresFix(3.0),
                "width": 1024,
                "height": 1024,
                "limits": LimitSettings(max_hires_scale=4),
            },
            "The hires fix at 3x makes 3072x3072 (9,437,184 pixels), over this server's limit of "
            "4,194,304; use --hires 2 or a smaller size.",
        ),
        (
            {"mode": Mode.UPSCALE, **IMG, "upscale_factor": 1.0},
            "The upscale factor must be above 1, not 1; try 2.",
        ),
        (
            {"mode": Mode.UPSCALE, **IMG, "width": 1536, "height": 1536},
            "Upscaling 1536x1536 by 2 makes 3072x3072 (9,437,184 pixels), over this server's limit of "
            "4,194,304; upscale by 1.3 instead.",
        ),
    ],
)
def test_each_rule_says_what_to_change(changes, message):
    changes = dict(changes)
    settings = S.replace(limits=changes.pop("limits")) if "limits" in changes else S
    if message is None:
        validate(req(**changes), settings)
        return
    with pytest.raises(ValidationError) as info:
        validate(req(**changes), settings)
    text = str(info.value)
    assert text.startswith(message), text
    assert text.endswith("."), text
    assert isinstance(info.value, ValueError)


def test_img2img_and_upscale_may_have_an_empty_prompt():
    assert validate(req(prompt="", mode=Mode.IMG2IMG, **IMG), S).prompt == ""
    assert validate(req(prompt="", mode=Mode.UPSCALE, **IMG), S).count == 1


def test_suggested_size_fits():
    limits = LimitSettings(max_pixels=512 * 512)
    with pytest.raises(ValidationError, match=r"try --w (\d+) --h (\d+)") as info:
        validate(req(width=1000, height=600), S.replace(limits=limits))
    w, h = map(int, re.search(r"--w (\d+) --h (\d+)", str(info.value)).groups())
    assert w * h <= 512 * 512 and w % 8 == 0 and h % 8 == 0
    validate(req(width=w, height=h), S.replace(limits=limits))
