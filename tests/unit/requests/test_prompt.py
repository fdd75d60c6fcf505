import pytest

from bot.ui.text import describe
from generation.problems import Problem
from generation.requests.prompt import FLAGS, PromptError, flag_spellings, format_flags, parse_prompt
from generation.requests.request import GenerationRequest, HiresFix, Mode, Variation
from generation.settings import DefaultSettings

D = DefaultSettings()


def parse(text, defaults=D, **kw):
    return parse_prompt(text, defaults, **kw)


def test_defaults_fill_what_is_left_out():
    r = parse("a lighthouse at dusk", DefaultSettings(width=640, steps=25, negative_prompt="blurry", count=2))
    assert r == GenerationRequest(
        prompt="a lighthouse at dusk",
        negative_prompt="blurry",
        width=640,
        height=512,
        steps=25,
        count=2,
        strength=D.img2img_strength,
    )


def test_the_brief_example():
    r = parse(
        "a lighthouse at dusk --ar 16:9 --seed 42 --no fog, boats --steps 30 --cfg 6.5 "
        '--sampler "DPM++ 2M Karras" --n 1 --tile --hires 2'
    )
    assert r.prompt == "a lighthouse at dusk"
    assert (r.width, r.height) == (680, 384)
    assert r.seed == 42
    assert r.negative_prompt == "fog, boats"
    assert (r.steps, r.cfg_scale, r.sampler, r.count, r.tiling) == (30, 6.5, "DPM++ 2M Karras", 1, True)
    assert r.hires == HiresFix(scale=2.0, strength=D.hires_strength)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("--ar 16:9", {"width": 680, "height": 384}),
        ("--ar 1:1", {"width": 512, "height": 512}),
        ("--ar 2:3", {"width": 416, "height": 624}),
        ("--aspect 3x2", {"width": 624, "height": 416}),
        ("--ar 16:9 --w 1024", {"width": 1024, "height": 576}),
        ("--ar 2:3 --h 768", {"width": 512, "height": 768}),
        ("--w 768", {"width": 768, "height": 512}),
        ("--width 768 --height 640", {"width": 768, "height": 640}),
        ("--h 640", {"height": 640}),
        ("--seed 42", {"seed": 42}),
        ("--seed -1", {"seed": -1}),
        ("--seed random", {"seed": -1}),
        ("--no fog, boats", {"negative_prompt": "fog, boats"}),
        ('--no "fog, boats"', {"negative_prompt": "fog, boats"}),
        ('--no ""', {"negative_prompt": ""}),
        ("--steps 30", {"steps": 30}),
        ("--cfg 6.5", {"cfg_scale": 6.5}),
        ("--cfg 7", {"cfg_scale": 7.0}),
        ('--sampler "DPM++ 2M Karras"', {"sampler": "DPM++ 2M Karras"}),
        ("--sampler DPM++ 2M Karras", {"sampler": "DPM++ 2M Karras"}),
        ("--sampler “Euler a”", {"sampler": "Euler a"}),
        ("--n 1", {"count": 1}),
        ("--count 2", {"count": 2}),
        ("--tile", {"tiling": True}),
        ("--tile off", {"tiling": False}),
        ("--hires", {"hires": HiresFix(2.0, D.hires_strength)}),
        ("--hires 1.5", {"hires": HiresFix(1.5, D.hires_strength)}),
        ("--hires 1.5x", {"hires": HiresFix(1.5, D.hires_strength)}),
        ("--hires --hires-strength 0.3", {"hires": HiresFix(2.0, 0.3)}),
        ("--hires-strength 0.3", {"hires": HiresFix(2.0, 0.3)}),
        ("--hires 2 --hires-steps 10", {"hires": HiresFix(2.0, D.hires_strength, 10)}),
        ("--strength 0.6", {"strength": 0.6}),
        ("--vseed 7", {"variation": Variation(7, 0.1)}),
        ("--vseed 7 --vstrength 0.25", {"variation": Variation(7, 0.25)}),
        ("--model shapes", {"model": "shapes"}),
        ('--model "my model"', {"model": "my model"}),
        ("--seed=42", {"seed": 42}),
        ("--SEED 42", {"seed": 42}),
        ("--steps 30, --seed 4", {"steps": 30, "seed": 4}),
    ],
)
def test_every_flag(flags, expected):
    r = parse(f"a cat {flags}")
    assert r.prompt == "a cat"
    for field, value in expected.items():
        assert getattr(r, field) == value, field


def test_flags_in_any_order_and_the_prompt_before_them():
    r = parse("a red fox, snow --no people --seed 3 --ar 1:2")
    assert (r.prompt, r.negative_prompt, r.seed) == ("a red fox, snow", "people", 3)
    assert r.width * 2 == r.height or abs(r.width * 2 - r.height) <= 8


def test_em_dash_and_en_dash_work_like_two_hyphens():
    r = parse("a cat —seed 5 —no dogs —ar 16:9 –steps 12")
    assert (r.seed, r.negative_prompt, r.size, r.steps) == (5, "dogs", (680, 384), 12)


def test_dashes_inside_text_are_not_flags():
    r = parse("a sci-fi city — at night, well--lit --seed 1")
    assert r.prompt == "a sci-fi city — at night, well--lit"
    assert r.seed == 1


def test_quoted_text_is_never_a_flag():
    r = parse('a sign saying "--hello" --no "a --b" --seed 2')
    assert (r.prompt, r.negative_prompt, r.seed) == ('a sign saying "--hello"', "a --b", 2)


def test_trailing_comma_of_the_prompt_is_dropped():
    assert parse("a cat, --seed 1").prompt == "a cat"


def test_flags_only_give_an_empty_prompt():
    assert parse("--seed 1").prompt == ""


def test_ar_never_exceeds_the_default_area():
    d = DefaultSettings(width=1024, height=1024)
    r = parse("x --ar 16:9", d)
    assert r.width % 8 == 0 and r.height % 8 == 0
    assert r.width * r.height <= 1024 * 1024
    assert (r.width, r.height) == (1360, 768)


def test_sampler_is_canonicalised():
    assert parse('x --sampler "dpm++ 2m karras"').sampler == "DPM++ 2M Karras"
    assert parse("x --sampler  dpm++   2m  Karras").sampler == "DPM++ 2M Karras"
    with pytest.raises(PromptError) as info:
        parse("x --sampler Bogus")
    problem = info.value
    assert (problem.code, problem.fields["name"], problem.fields["flag"]) == (
        "prompt.unknown_sampler",
        "Bogus",
        "sampler",
    )
    assert "Euler a" in problem.fields["samplers"]
    assert describe(problem).startswith(
        "--sampler: unknown sampler 'Bogus'; the samplers are: Euler, Euler a, "
    )


FLAG_LIST = "flags are --ar/--aspect, --w/--width, --h/--height, --seed, --no, --steps"


@pytest.mark.parametrize(
    ("text", "code", "fields", "message"),
    [
        (
            "x --ar wide",
            "prompt.bad_value",
            {"flag": "ar", "kind": "ratio", "value": "wide"},
            "--ar needs a ratio like 16:9, got 'wide'",
        ),
        (
            "x --ar 16:0",
            "prompt.ratio_not_positive",
            {"flag": "ar", "value": "16:0"},
            "--ar needs two numbers above 0, like 16:9, got '16:0'",
        ),
        ("x --ar", "prompt.bad_value", {"flag": "ar", "value": None}, "--ar needs a ratio like 16:9"),
        (
            "x --ar 16:9 --w 512 --h 512",
            "prompt.ratio_with_both_sides",
            {"flag": "ar"},
            "--ar cannot be used with both --w and --h",
        ),
        (
            "x --w big",
            "prompt.bad_value",
            {"flag": "w", "kind": "int", "value": "big"},
            "--w needs a width in pixels like 768, got 'big'",
        ),
        (
            "x --width 7.5",
            "prompt.bad_value",
            {"flag": "w", "value": "7.5"},
            "--w needs a width in pixels like 768, got '7.5'",
        ),
        ("x --h", "prompt.bad_value", {"flag": "h", "value": None}, "--h needs a height in pixels like 768"),
        (
            "x --seed abc",
            "prompt.bad_value",
            {"flag": "seed", "value": "abc"},
            "--seed needs a whole number from 0 to 4294967294, or -1 for random, got 'abc'",
        ),
        (
            "x --no",
            "prompt.bad_value",
            {"flag": "no", "kind": "text", "value": None},
            "--no needs the things to leave out, like --no fog, boats",
        ),
        (
            "x --steps many",
            "prompt.bad_value",
            {"flag": "steps"},
            "--steps needs a whole number of steps like 30, got 'many'",
        ),
        (
            "x --cfg high",
            "prompt.bad_value",
            {"flag": "cfg", "kind": "float"},
            "--cfg needs a number like 7 or 6.5, got 'high'",
        ),
        (
            "x --cfg nan",
            "prompt.bad_value",
            {"flag": "cfg", "value": "nan"},
            "--cfg needs a number like 7 or 6.5, got 'nan'",
        ),
        (
            "x --sampler",
            "prompt.bad_value",
            {"flag": "sampler", "value": None},
            '--sampler needs a sampler name like "DPM++ 2M Karras"',
        ),
        (
            "x --n four",
            "prompt.bad_value",
            {"flag": "n"},
            "--n needs a number of images from 1 to 4, got 'four'",
        ),
        (
            "x --tile please",
            "prompt.bad_value",
            {"flag": "tile", "kind": "switch", "value": "please"},
            "--tile takes no value (or on/off), got 'please'",
        ),
        (
            "x --hires big",
            "prompt.bad_value",
            {"flag": "hires", "kind": "hires"},
            "--hires needs an optional upscale factor like 1.5 or 2, got 'big'",
        ),
        (
            "x --hires-strength",
            "prompt.bad_value",
            {"flag": "hires-strength"},
            "--hires-strength needs a number between 0 and 1 like 0.5",
        ),
        (
            "x --hires-steps x",
            "prompt.bad_value",
            {"flag": "hires-steps"},
            "--hires-steps needs a whole number of steps like 10, got 'x'",
        ),
        (
            "x --strength lots",
            "prompt.bad_value",
            {"flag": "strength"},
            "--strength needs a number between 0 and 1 like 0.6, got 'lots'",
        ),
        (
            "x --vseed y",
            "prompt.bad_value",
            {"flag": "vseed"},
            "--vseed needs a whole number from 0 to 4294967294, got 'y'",
        ),
        (
            "x --vstrength 0.3",
            "prompt.variation_strength_without_seed",
            {"flag": "vstrength", "needs": "vseed"},
            "--vstrength needs --vseed too",
        ),
        (
            "x --vseed 1 --vstrength z",
            "prompt.bad_value",
            {"flag": "vstrength"},
            "--vstrength needs a number between 0 and 1 like 0.1, got 'z'",
        ),
        ("x --model", "prompt.bad_value", {"flag": "model"}, "--model needs a model name"),
        ("x --model ''", None, None, None),  # single quotes are text: a model named ''
        (
            "x --foo",
            "prompt.unknown_flag",
            {"typed": "--foo", "suggested": None},
            "unknown flag --foo; " + FLAG_LIST,
        ),
        (
            "x --sed 4",
            "prompt.unknown_flag",
            {"typed": "--sed", "suggested": "seed"},
            "unknown flag --sed (did you mean --seed?); " + FLAG_LIST,
        ),
        ("x —foo", "prompt.unknown_flag", {"typed": "—foo"}, "unknown flag —foo; flags are"),
        (
            "x --seed 4 a cat",
            "prompt.text_after_value",
            {"flag": "seed", "value": "4", "text": "a cat"},
            "unexpected text 'a cat' after --seed 4: --seed takes one value",
        ),
        (
            "x --seed 1 --seed 2",
            "prompt.flag_twice",
            {"flag": "seed", "typed": None},
            "--seed is given twice; give each flag once",
        ),
        (
            "x --w 5 --width 6",
            "prompt.flag_twice",
            {"flag": "w", "typed": ["--w", "--width"]},
            "--w is given twice (as --w and --width)",
        ),
    ],
)
def test_bad_flags_say_what_is_allowed(text, code, fields, message):
    if code is None:
        parse(text)
        return
    with pytest.raises(PromptError) as info:
        parse(text)
    problem = info.value
    assert problem.code == code
    assert {key: problem.fields[key] for key in fields} == fields
    assert describe(problem).startswith(message), describe(problem)
    assert isinstance(problem, ValueError) and isinstance(problem, Problem)


def test_an_unknown_flag_lists_every_flag_and_alias():
    with pytest.raises(PromptError) as info:
        parse("x --foo")
    assert info.value.fields["flags"] == flag_spellings()
    assert flag_spellings()[:3] == [["ar", "aspect"], ["w", "width"], ["h", "height"]]
    assert [names[0] for names in flag_spellings()] == list(FLAGS)
    assert describe(info.value).endswith("--clipskip/--clip-skip, --vae, --style, --permute, --repeat")


def test_base_keeps_what_is_not_given():
    base = GenerationRequest(
        prompt="a castle",
        mode=Mode.IMG2IMG,
        source_image="/tmp/x.png",
        seed=9,
        width=768,
        hires=HiresFix(1.5, 0.4, 12),
        variation=Variation(3, 0.2),
    )
    r = parse("--steps 12 --hires-strength 0.6 --vstrength 0.5", base=base)
    assert r.prompt == "a castle" and r.mode is Mode.IMG2IMG and r.source_image == "/tmp/x.png"
    assert (r.seed, r.width, r.steps) == (9, 768, 12)
    assert r.hires == HiresFix(1.5, 0.6, 12)
    assert r.variation == Variation(3, 0.5)
    assert parse("a tower", base=base).prompt == "a tower"


ROUND_TRIP = [
    GenerationRequest(prompt="a cat", strength=D.img2img_strength),
    GenerationRequest(
        prompt="a lighthouse at dusk",
        negative_prompt="fog, boats",
        width=680,
        height=384,
        steps=30,
        cfg_scale=6.5,
        sampler="DPM++ 2M Karras",
        seed=42,
        count=1,
        tiling=True,
        hires=HiresFix(1.5, 0.35, 10),
        variation=Variation(77, 0.25),
        model="my model",
        strength=0.6,
    ),
    GenerationRequest(prompt="x", negative_prompt="a --b, c:1.2", seed=0, strength=D.img2img_strength),
    GenerationRequest(prompt="x", negative_prompt='"quoted" start', strength=D.img2img_strength),
]


@pytest.mark.parametrize("request_", ROUND_TRIP)
def test_format_flags_round_trip(request_):
    flags = format_flags(request_, D)
    assert parse(f"{request_.prompt} {flags}") == request_


def test_format_flags_writes_only_what_differs():
    assert format_flags(GenerationRequest(prompt="x", strength=D.img2img_strength), D) == ""
    r = parse('x --seed 42 --sampler "DPM++ 2M Karras" --cfg 6.5 --hires')
    assert format_flags(r, D) == '--seed 42 --cfg 6.5 --sampler "DPM++ 2M Karras" --hires 2'


def test_format_flags_can_clear_a_default_negative():
    d = DefaultSettings(negative_prompt="blurry")
    r = GenerationRequest(prompt="x", negative_prompt="", strength=d.img2img_strength)
    assert format_flags(r, d) == '--no ""'
    assert parse('x --no ""', d) == r
