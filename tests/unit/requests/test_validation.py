import pytest

from bot.ui.text import describe
from generation.problems import Problem
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


def test_sampler_is_canonicalised():
    assert validate(req(sampler="EULER A"), S).sampler == "Euler a"
    assert validate(req(sampler="dpmpp_2m_karras"), S).sampler == "DPM++ 2M Karras"
    with pytest.raises(ValidationError) as info:
        validate(req(sampler="Nope"), S)
    problem = info.value
    assert (problem.code, problem.fields["name"], problem.fields["flag"]) == (
        "request.unknown_sampler",
        "Nope",
        "sampler",
    )
    assert "Euler a" in problem.fields["samplers"] and "DPM++ 2M Karras" in problem.fields["samplers"]
    text = describe(problem)
    assert text.startswith("Unknown sampler 'Nope'; the samplers are: Euler, Euler a, "), text
    assert text.endswith(", LCM (set it with --sampler)."), text


def test_an_empty_sampler_name_says_so():
    with pytest.raises(ValidationError) as info:
        validate(req(sampler="  "), S)
    assert describe(info.value).startswith("Unknown sampler '' (empty name); the samplers are: Euler")


def test_upscale_gives_one_image_and_keeps_the_source_size():
    r = validate(req(mode=Mode.UPSCALE, source_image="a.png", width=1000, height=700, count=4), S)
    assert (r.count, r.width, r.height) == (1, 1000, 700)


IMG = {"source_image": "/tmp/source.png"}


@pytest.mark.parametrize(
    ("changes", "code", "fields", "message"),
    [
        ({"prompt": "   "}, "request.prompt_empty", {}, "The prompt is empty: describe the image you want"),
        (
            {"prompt": "x" * 1001},
            "request.prompt_too_long",
            {"length": 1001, "max": 1000},
            "The prompt is 1,001 characters long; shorten it to 1,000 characters or fewer.",
        ),
        (
            {"negative_prompt": "x" * 1001},
            "request.negative_prompt_too_long",
            {"length": 1001, "max": 1000, "flag": "no"},
            "The negative prompt (--no) is 1,001 characters long",
        ),
        (
            {"mode": Mode.IMG2IMG},
            "request.source_image_missing",
            {"mode": "img2img"},
            "Image-to-image needs a source image: attach the image to start from.",
        ),
        (
            {"mode": Mode.UPSCALE},
            "request.source_image_missing",
            {"mode": "upscale"},
            "Upscaling needs a source image: attach the image to upscale.",
        ),
        (
            {"width": 32},
            "request.side_out_of_range",
            {"side": "width", "value": 32, "min": 64, "max": 2048, "flag": "w"},
            "Width 32 is too small: each side must be between 64 and 2048 pixels (set it with --w).",
        ),
        (
            {"height": 4096},
            "request.side_out_of_range",
            {"side": "height", "value": 4096, "min": 64, "max": 2048, "flag": "h"},
            "Height 4096 is too large: each side must be between 64 and 2048 pixels (set it with --h).",
        ),
        (
            {"width": 1536, "height": 1536},
            "request.too_many_pixels",
            {"pixels": 2359296, "max": 1048576, "square": 1024, "fit_width": 1024, "fit_height": 1024},
            "1536x1536 is 2,359,296 pixels, over this server's limit of 1,048,576 (about 1024x1024); "
            "try --w 1024 --h 1024, which keeps the shape.",
        ),
        (
            {"width": 2048, "height": 1024},
            "request.too_many_pixels",
            {"width": 2048, "height": 1024, "fit_width": 1448, "fit_height": 720},
            "2048x1024 is 2,097,152 pixels, over this server's limit of 1,048,576 (about 1024x1024); "
            "try --w 1448 --h 720, which keeps the shape.",
        ),
        (
            {"steps": 0},
            "request.steps_out_of_range",
            {"value": 0, "min": 1, "max": 60, "flag": "steps"},
            "Steps must be between 1 and 60, not 0; use --steps 60 or fewer.",
        ),
        (
            {"steps": 61},
            "request.steps_out_of_range",
            {"value": 61},
            "Steps must be between 1 and 60, not 61",
        ),
        (
            {"cfg_scale": 0.5},
            "request.cfg_out_of_range",
            {"value": 0.5, "min": 1.0, "max": 20.0, "flag": "cfg"},
            "CFG scale must be between 1 and 20, not 0.5; set it with --cfg",
        ),
        (
            {"cfg_scale": 25.0},
            "request.cfg_out_of_range",
            {"value": 25.0},
            "CFG scale must be between 1 and 20, not 25",
        ),
        (
            {"cfg_scale": float("nan")},
            "request.bad_number",
            {"field": "cfg_scale", "flag": "cfg", "reason": "nan", "min": 1.0, "max": 20.0},
            "CFG scale must be between 1 and 20, not 'nan' (NaN is not a number); set it with --cfg.",
        ),
        (
            {"count": 0},
            "request.count_out_of_range",
            {"value": 0, "min": 1, "max": 4, "flag": "n"},
            "The number of images must be between 1 and 4, not 0; use --n 4 or fewer.",
        ),
        (
            {"count": 5},
            "request.count_out_of_range",
            {"value": 5},
            "The number of images must be between 1 and 4, not 5",
        ),
        (
            {"seed": -2},
            "request.seed_out_of_range",
            {"value": -2, "max": 4294967294, "flag": "seed"},
            "The seed must be a whole number from 0 to 4294967294, or -1 for a random one",
        ),
        (
            {"seed": 4294967295},
            "request.seed_out_of_range",
            {"value": 4294967295},
            "The seed must be a whole number from 0 to 4294967294",
        ),
        (
            {"variation": Variation(-1, 0.1)},
            "request.variation_seed_out_of_range",
            {"value": -1, "max": 4294967294, "flag": "vseed"},
            "The variation seed must be a whole number from 0 to 4294967294",
        ),
        (
            {"variation": Variation(1, 1.5)},
            "request.variation_strength_out_of_range",
            {"value": 1.5, "flag": "vstrength"},
            "The variation strength must be between 0 and 1, not 1.5",
        ),
        (
            {"variation": Variation(1, -0.1)},
            "request.variation_strength_out_of_range",
            {"value": -0.1},
            "The variation strength must be between 0 and 1",
        ),
        (
            {"strength": 0.0},
            "request.strength_out_of_range",
            {"value": 0.0, "flag": "strength"},
            "Strength must be above 0 and at most 1, not 0",
        ),
        (
            {"strength": 1.5, "mode": Mode.IMG2IMG, **IMG},
            "request.strength_out_of_range",
            {"value": 1.5},
            "Strength must be above 0 and at most 1, not 1.5",
        ),
        (
            {"strength": 0.05, "steps": 10, "mode": Mode.IMG2IMG, **IMG},
            "request.no_denoising_step",
            {"steps": 10, "strength": 0.05},
            "With 10 steps at strength 0.05 not a single denoising step runs; raise --strength or --steps.",
        ),
        (
            {"hires": HiresFix(3.0)},
            "request.hires_scale_out_of_range",
            {"value": 3.0, "max": 2.0, "suggested": 2.0, "flag": "hires"},
            "The hires scale must be above 1 and at most 2, not 3; try --hires 2.",
        ),
        (
            {"hires": HiresFix(1.0)},
            "request.hires_scale_out_of_range",
            {"value": 1.0},
            "The hires scale must be above 1 and at most 2, not 1",
        ),
        (
            {"hires": HiresFix(2.0, 0.0)},
            "request.hires_strength_out_of_range",
            {"value": 0.0, "flag": "hires-strength"},
            "The hires strength must be above 0 and at most 1, not 0",
        ),
        (
            {"hires": HiresFix(2.0, 0.5, 100)},
            "request.hires_steps_out_of_range",
            {"value": 100, "min": 1, "max": 60, "flag": "hires-steps"},
            "Hires steps must be between 1 and 60, not 100 (--hires-steps).",
        ),
        (
            {"hires": HiresFix(2.0), "mode": Mode.IMG2IMG, **IMG},
            "request.hires_needs_txt2img",
            {"mode": "img2img", "flag": "hires"},
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
            None,
            None,
        ),
        (
            {
                "hires": HiresFix(3.0),
                "width": 1024,
                "height": 1024,
                "limits": LimitSettings(max_hires_scale=4),
            },
            "request.hires_too_large",
            {"scale": 3.0, "out_width": 3072, "out_height": 3072, "max": 4194304, "suggested": 2.0},
            "The hires fix at 3x makes 3072x3072 (9,437,184 pixels), over this server's limit of "
            "4,194,304; use --hires 2 or a smaller size.",
        ),
        (
            {"mode": Mode.UPSCALE, **IMG, "upscale_factor": 1.0},
            "request.upscale_factor_too_small",
            {"value": 1.0, "suggested": 2.0},
            "The upscale factor must be above 1, not 1; try 2.",
        ),
        (
            {"mode": Mode.UPSCALE, **IMG, "width": 0, "height": 100},
            "request.source_image_empty",
            {"width": 0, "height": 100},
            "The source image has no pixels; attach a real image to upscale.",
        ),
        (
            {"mode": Mode.UPSCALE, **IMG, "width": 1536, "height": 1536},
            "request.upscale_too_large",
            {"width": 1536, "factor": 2.0, "out_width": 3072, "pixels": 9437184, "suggested": 1.3},
            "Upscaling 1536x1536 by 2 makes 3072x3072 (9,437,184 pixels), over this server's limit of "
            "4,194,304; upscale by 1.3 instead.",
        ),
    ],
)
def test_each_rule_says_what_to_change(changes, code, fields, message):
    changes = dict(changes)
    settings = S.replace(limits=changes.pop("limits")) if "limits" in changes else S
    if code is None:
        validate(req(**changes), settings)
        return
    with pytest.raises(ValidationError) as info:
        validate(req(**changes), settings)
    problem = info.value
    assert problem.code == code
    assert {key: problem.fields[key] for key in fields} == fields
    text = describe(problem)
    assert text.startswith(message), text
    assert text.endswith("."), text
    assert isinstance(problem, ValueError) and isinstance(problem, Problem)


def test_no_suggestion_when_no_scale_fits():
    limits = LimitSettings(max_upscaled_pixels=1024 * 1024)
    with pytest.raises(ValidationError) as info:
        validate(req(mode=Mode.UPSCALE, **IMG, width=1000, height=1000), S.replace(limits=limits))
    assert info.value.fields["suggested"] is None
    assert describe(info.value).endswith("; start from a smaller image.")
    with pytest.raises(ValidationError) as info:
        validate(req(hires=HiresFix(2.0), width=1024, height=1024), S.replace(limits=limits))
    assert info.value.fields["suggested"] is None
    assert describe(info.value).endswith("; use a smaller size.")


def test_img2img_and_upscale_may_have_an_empty_prompt():
    assert validate(req(prompt="", mode=Mode.IMG2IMG, **IMG), S).prompt == ""
    assert validate(req(prompt="", mode=Mode.UPSCALE, **IMG), S).count == 1


def test_suggested_size_fits():
    limits = LimitSettings(max_pixels=512 * 512)
    with pytest.raises(ValidationError) as info:
        validate(req(width=1000, height=600), S.replace(limits=limits))
    w, h = info.value.fields["fit_width"], info.value.fields["fit_height"]
    assert f"try --w {w} --h {h}" in describe(info.value)
    assert w * h <= 512 * 512 and w % 8 == 0 and h % 8 == 0
    validate(req(width=w, height=h), S.replace(limits=limits))
