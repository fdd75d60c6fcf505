"""Hostile input to the prompt parser and validation: huge, NaN and infinite numbers, stray quotes,
long text. Each is refused with the project's own Problem, worded short, quoting input briefly."""

import math

import pytest

from bot.ui.text import MAX_PROBLEM_LENGTH, describe
from generation.cli.errors import problem_line
from generation.requests.prompt import PromptError, parse_prompt
from generation.requests.request import GenerationRequest, HiresFix, Mode, Variation
from generation.requests.validation import ValidationError, validate
from generation.settings import DefaultSettings, Settings

D = DefaultSettings()
S = Settings()
HUGE = "9" * 400


def refused(text):
    with pytest.raises(PromptError) as info:
        parse_prompt(text, D)
    problem = info.value
    message, line = describe(problem), problem_line(problem)
    assert len(message) < MAX_PROBLEM_LENGTH and len(line) < MAX_PROBLEM_LENGTH, (message, line)
    return problem, message


@pytest.mark.parametrize(
    ("text", "flag", "reason", "message"),
    [
        (f"a --ar {HUGE}:1", "ar", "too_large", "--ar needs a ratio like 16:9, got '999"),
        ("a --w 1" + "0" * 400, "w", "too_large", "(401 digits: far too large)"),
        ("a --seed " + "1" * 4400, "seed", "too_large", "(4,400 digits: far too large)"),
        ("a --vseed " + "1" * 4400, "vseed", "too_large", "(4,400 digits: far too large)"),
        ("a --strength inf", "strength", "infinite", "got 'inf' (infinity is not a number you can use)"),
        ("a --strength nan", "strength", "nan", "got 'nan' (NaN is not a number)"),
        ("a --cfg 1e999", "cfg", "too_large", "got '1e999' (far too large)"),
        ("a --cfg -Infinity", "cfg", "infinite", "(infinity is not"),
        ("a --steps 1e999", "steps", "too_large", "--steps needs a whole number of steps"),
        ("a --n 2.5", "n", "not_whole", "got '2.5' (not a whole number)"),
        ("a --hires infx", "hires", "infinite", "--hires needs an optional upscale factor"),
        ("a --hires-strength NaN", "hires-strength", "nan", "(NaN is not a number)"),
        ("a --hires-steps " + HUGE, "hires-steps", "too_large", "(400 digits"),
        ("a --vseed 1 --vstrength inf", "vstrength", "infinite", "(infinity"),
        ("a --ar inf:1", "ar", "infinite", "got 'inf:1'"),
        ("a --ar 1:nan", "ar", "nan", "got '1:nan'"),
        ("a --ar 0.0001:1", "ar", "too_small", "got '0.0001:1' (far too small)"),
        ("a --ar 1:" + HUGE, "ar", "too_large", "(400 digits: far too large)"),
    ],
)
def test_numbers_past_every_range_are_refused_by_name(text, flag, reason, message):
    problem, worded = refused(text)
    assert (problem.code, problem.fields["flag"], problem.fields["reason"]) == (
        "prompt.bad_value",
        flag,
        reason,
    )
    assert message in worded, worded
    assert HUGE not in worded and "1" * 100 not in worded


def test_numbers_inside_the_sanity_bounds_reach_validation_and_its_limits():
    request = parse_prompt("a --w 100000 --ar 1920:1080", D)
    assert (request.width, request.height) == (100000, 56248)
    with pytest.raises(ValidationError) as info:
        validate(request, S)
    assert describe(info.value).startswith("Width 100000 is too large: each side must be between 64 and 2048")
    wide = parse_prompt("a --w 64 --ar 1:1000000", D)  # extreme but finite: validation says what to change
    with pytest.raises(ValidationError) as info:
        validate(wide, S)
    assert info.value.code == "request.side_out_of_range" and info.value.fields["side"] == "height"


def test_a_stray_curly_quote_cannot_swallow_the_flags_after_it():
    problem, worded = refused('a ”b --model "x y"')
    assert problem.code == "prompt.unbalanced_quote"
    assert problem.fields == {"quote": "”", "count": 3, "near": "”b --model"}
    assert worded.startswith("The quote ” in '”b --model' has no partner (3 quote marks in all)")
    problem, worded = refused('a "b --seed 4 “c d”')  # a straight stray quote, curly pair after it
    assert problem.fields["quote"] == '"' and problem.fields["near"] == '"b --seed'


def test_typographic_quotes_work_like_straight_ones():
    for opening, closing in ('""', "“”", "„“", "＂＂", "«»", '“"'):
        request = parse_prompt(f"a sign saying {opening}--hi{closing} --model {opening}x y{closing}", D)
        assert request.prompt == f"a sign saying {opening}--hi{closing}"
        assert request.model == "x y"


def test_a_stray_quote_that_hides_no_flag_is_text():
    request = parse_prompt('a 12" vinyl record --ar 1:1 --seed 3', D)
    assert (request.prompt, request.seed) == ('a 12" vinyl record', 3)
    request = parse_prompt("a “quoted” word” --seed 3", D)
    assert (request.prompt, request.seed) == ("a “quoted” word”", 3)
    assert parse_prompt("don’t ‘touch’ --seed 2", D).seed == 2  # single quotes are text


@pytest.mark.parametrize(
    "text",
    [
        "a --" + "x" * 2500,
        "a --sampler " + "z" * 2100,
        "a --strength " + "7" * 3000,
        "a --sampler " + "y" * 2000 + " karras",
        "a --model x --seed 4 " + "q" * 3000,
        "a --ar " + "w" * 3000,
        "a --tile " + "p" * 3000,
        "a --ar -" + "1" * 3000 + ":0",
    ],
)
def test_long_input_is_quoted_as_a_short_excerpt(text):
    _, worded = refused(text)
    assert not any(ch * 50 in worded for ch in "xzy7qwp1"), worded


def test_a_1500_character_model_name_is_only_a_name():
    assert parse_prompt("a --model " + "m" * 1500, D).model == "m" * 1500  # the registry refuses it


def req(**kw):
    kw.setdefault("prompt", "a lighthouse")
    return GenerationRequest(**kw)


@pytest.mark.parametrize(
    ("changes", "field", "reason", "message"),
    [
        (
            {"width": 10**400},
            "width",
            "too_large",
            "Width must be between 64 and 2048, not '100000000000000…00000000' (401 digits: far too large); "
            "set it with --w.",
        ),
        (
            {"seed": 10**5000},
            "seed",
            "too_large",
            "The seed needs a whole number from 0 to 4294967294, or -1 for random, not "
            "'1000000000…0000000000' (5,001 digits: far too large); set it with --seed.",
        ),
        (
            {"steps": math.nan},
            "steps",
            "nan",
            "Steps must be between 1 and 60, not 'nan' (NaN is not a number)",
        ),
        (
            {"strength": math.inf},
            "strength",
            "infinite",
            "Strength must be between 0 and 1, not 'inf' (infinity",
        ),
        ({"count": 2.5}, "count", "not_whole", "The number of images must be between 1 and 4, not '2.5'"),
        (
            {"count": True},
            "count",
            "not_a_number",
            "The number of images must be between 1 and 4, not 'True'",
        ),
        ({"cfg_scale": "7"}, "cfg_scale", "not_a_number", "CFG scale must be between 1 and 20, not '7'"),
        (
            {"mode": Mode.UPSCALE, "source_image": "a.png", "upscale_factor": math.inf},
            "upscale_factor",
            "infinite",
            "The upscale factor must be a number above 1, like 2, not 'inf' (infinity is not a number "
            "you can use).",
        ),
        (
            {"hires": HiresFix(scale=math.nan)},
            "hires.scale",
            "nan",
            "The hires scale must be between 1 and 2",
        ),
        ({"hires": HiresFix(steps=-(10**30))}, "hires.steps", "too_small", "Hires steps must be between 1"),
        ({"variation": Variation(seed=math.inf)}, "variation.seed", "infinite", "The variation seed needs"),
        (
            {"variation": Variation(1, math.nan)},
            "variation.strength",
            "nan",
            "The variation strength must be",
        ),
    ],
)
def test_validation_checks_every_number_before_any_arithmetic(changes, field, reason, message):
    with pytest.raises(ValidationError) as info:
        validate(req(**changes), S)
    problem = info.value
    assert (problem.code, problem.fields["field"], problem.fields["reason"]) == (
        "request.bad_number",
        field,
        reason,
    )
    worded = describe(problem)
    assert worded.startswith(message), worded
    assert len(worded) < MAX_PROBLEM_LENGTH and len(problem_line(problem)) < MAX_PROBLEM_LENGTH
    problem.to_dict()  # plain fields: it can be stored and sent


def test_whole_floats_become_ints():
    request = validate(req(steps=20.0, width=512.0, hires=HiresFix(steps=10.0)), S)
    assert (request.steps, request.width, request.hires.steps) == (20, 512, 10)
    assert all(type(v) is int for v in (request.steps, request.width, request.hires.steps))


def test_writing_flags_back_never_raises_for_a_stray_quote():
    from generation.requests.prompt import format_flags

    request = GenerationRequest(prompt="x", negative_prompt='a --b "c', strength=D.img2img_strength)
    assert format_flags(request, D).startswith("--no ")
