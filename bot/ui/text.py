"""Every sentence the bot shows users, in one place.

`generation/` hands problems over as codes and fields (`generation.problems.Problem`);
`describe(problem)` words them. A template is a `str.format` pattern over the problem's fields, or a
function of the fields for wording that depends on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from generation.problems import Problem
from generation.requests.numbers import format_number as _n
from generation.requests.request import MAX_SEED

Template = str | Callable[[Mapping[str, Any]], str]

# What each prompt flag takes, as its "needs ..." message says (`generation.requests.prompt.FLAGS`).
FLAG_VALUES = {
    "ar": "a ratio like 16:9",
    "w": "a width in pixels like 768",
    "h": "a height in pixels like 768",
    "seed": f"a whole number from 0 to {MAX_SEED}, or -1 for random",
    "no": "the things to leave out, like --no fog, boats",
    "steps": "a whole number of steps like 30",
    "cfg": "a number like 7 or 6.5",
    "sampler": 'a sampler name like "DPM++ 2M Karras"',
    "n": "a number of images from 1 to 4",
    "tile": "no value (or on/off)",
    "hires": "an optional upscale factor like 1.5 or 2",
    "hires-strength": "a number between 0 and 1 like 0.5",
    "hires-steps": "a whole number of steps like 10",
    "strength": "a number between 0 and 1 like 0.6",
    "vseed": f"a whole number from 0 to {MAX_SEED}",
    "vstrength": "a number between 0 and 1 like 0.1",
    "model": "a model name",
}


def _bad_value(f: Mapping[str, Any]) -> str:
    flag, value = f["flag"], f["value"]
    if f["kind"] == "switch":
        return f"--{flag} takes {FLAG_VALUES[flag]}, got {value!r}"
    return f"--{flag} needs {FLAG_VALUES[flag]}" + (f", got {value!r}" if value else "")


def _unknown_flag(f: Mapping[str, Any]) -> str:
    hint = f" (did you mean --{f['suggested']}?)" if f["suggested"] else ""
    flags = ", ".join("/".join(f"--{name}" for name in names) for names in f["flags"])
    return f"unknown flag {f['typed']}{hint}; flags are {flags}"


def _flag_twice(f: Mapping[str, Any]) -> str:
    spellings = f" (as {f['typed'][0]} and {f['typed'][1]})" if f["typed"] else ""
    return f"--{f['flag']} is given twice{spellings}; give each flag once"


def _unknown_sampler(f: Mapping[str, Any]) -> str:
    """`unknown sampler 'x' (why); the samplers are: ...`, as both sampler problems begin."""
    if f["schedule"]:
        why = f" (schedule type {f['schedule']!r} is not supported: use Karras or Automatic)"
    else:
        why = "" if f["name"].strip() else " (empty name)"
    return f"unknown sampler {f['name']!r}{why}; the samplers are: {', '.join(f['samplers'])}"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _side_out_of_range(f: Mapping[str, Any]) -> str:
    what = "small" if f["value"] < f["min"] else "large"
    return (
        f"{f['side'].capitalize()} {f['value']} is too {what}: each side must be between {f['min']} and "
        f"{f['max']} pixels (set it with --{f['flag']})."
    )


def _hires_too_large(f: Mapping[str, Any]) -> str:
    fix = f"use --hires {_n(f['suggested'])} or a smaller size" if f["suggested"] else "use a smaller size"
    return (
        f"The hires fix at {_n(f['scale'])}x makes {f['out_width']}x{f['out_height']} ({f['pixels']:,} "
        f"pixels), over this server's limit of {f['max']:,}; {fix}."
    )


def _upscale_too_large(f: Mapping[str, Any]) -> str:
    fix = f"upscale by {_n(f['suggested'])} instead" if f["suggested"] else "start from a smaller image"
    return (
        f"Upscaling {f['width']}x{f['height']} by {_n(f['factor'])} makes {f['out_width']}x{f['out_height']} "
        f"({f['pixels']:,} pixels), over this server's limit of {f['max']:,}; {fix}."
    )


PROBLEMS: dict[str, Template] = {
    # -- requests: prompt flags and validation ---------------------------------------------------
    "prompt.bad_value": _bad_value,
    "prompt.text_after_value": (
        "unexpected text {text!r} after --{flag} {value}: --{flag} takes one value, and the prompt goes "
        "before the first flag"
    ),
    "prompt.unknown_flag": _unknown_flag,
    "prompt.flag_twice": _flag_twice,
    "prompt.ratio_with_both_sides": (
        "--{flag} cannot be used with both --w and --h; give --{flag} with one of them, or neither"
    ),
    "prompt.ratio_not_positive": "--{flag} needs two numbers above 0, like 16:9, got {value!r}",
    "prompt.variation_strength_without_seed": (
        "--{flag} needs --{needs} too: the seed to vary towards, like --{needs} 1234"
    ),
    "prompt.unknown_sampler": lambda f: f"--{f['flag']}: {_unknown_sampler(f)}",
    "request.prompt_empty": "The prompt is empty: describe the image you want, like 'a lighthouse at dusk'.",
    "request.prompt_too_long": (
        "The prompt is {length:,} characters long; shorten it to {max:,} characters or fewer."
    ),
    "request.negative_prompt_too_long": (
        "The negative prompt (--{flag}) is {length:,} characters long; shorten it to {max:,} characters "
        "or fewer."
    ),
    "request.source_image_missing": lambda f: (
        "Upscaling needs a source image: attach the image to upscale."
        if f["mode"] == "upscale"
        else "Image-to-image needs a source image: attach the image to start from."
    ),
    "request.source_image_empty": "The source image has no pixels; attach a real image to upscale.",
    "request.side_out_of_range": _side_out_of_range,
    "request.too_many_pixels": (
        "{width}x{height} is {pixels:,} pixels, over this server's limit of {max:,} (about "
        "{square}x{square}); try --w {fit_width} --h {fit_height}, which keeps the shape."
    ),
    "request.steps_out_of_range": (
        "Steps must be between {min} and {max}, not {value}; use --{flag} {max} or fewer."
    ),
    "request.cfg_out_of_range": lambda f: (
        f"CFG scale must be between {_n(f['min'])} and {_n(f['max'])}, not {_n(f['value'])}; "
        f"set it with --{f['flag']} (7 is a good start)."
    ),
    "request.count_out_of_range": (
        "The number of images must be between {min} and {max}, not {value}; use --{flag} {max} or fewer."
    ),
    "request.unknown_sampler": lambda f: f"{_capitalised(_unknown_sampler(f))} (set it with --{f['flag']}).",
    "request.seed_out_of_range": (
        "The seed must be a whole number from 0 to {max}, or -1 for a random one, not {value} (--{flag})."
    ),
    "request.variation_seed_out_of_range": (
        "The variation seed must be a whole number from 0 to {max}, not {value} (--{flag})."
    ),
    "request.variation_strength_out_of_range": lambda f: (
        f"The variation strength must be between 0 and 1, not {_n(f['value'])}; "
        f"try --{f['flag']} 0.1 for a small change."
    ),
    "request.strength_out_of_range": lambda f: (
        f"Strength must be above 0 and at most 1, not {_n(f['value'])}; lower keeps more of the source "
        f"image (try --{f['flag']} 0.6)."
    ),
    "request.no_denoising_step": lambda f: (
        f"With {f['steps']} steps at strength {_n(f['strength'])} not a single denoising step runs; "
        "raise --strength or --steps."
    ),
    "request.hires_needs_txt2img": (
        "The hires fix (--{flag}) works only when generating from a prompt; drop --{flag}."
    ),
    "request.hires_scale_out_of_range": lambda f: (
        f"The hires scale must be above 1 and at most {_n(f['max'])}, not {_n(f['value'])}; "
        f"try --{f['flag']} {_n(f['suggested'])}."
    ),
    "request.hires_strength_out_of_range": lambda f: (
        f"The hires strength must be above 0 and at most 1, not {_n(f['value'])}; try --{f['flag']} 0.5."
    ),
    "request.hires_steps_out_of_range": (
        "Hires steps must be between {min} and {max}, not {value} (--{flag})."
    ),
    "request.hires_too_large": _hires_too_large,
    "request.upscale_factor_too_small": lambda f: (
        f"The upscale factor must be above 1, not {_n(f['value'])}; try {_n(f['suggested'])}."
    ),
    "request.upscale_too_large": _upscale_too_large,
    # -- jobs: submitting, the queue, quotas ------------------------------------------------------
    # -- models ------------------------------------------------------------------------------------
    # -- running a job: failures --------------------------------------------------------------------
}

UNKNOWN_PROBLEM = "Something went wrong on our side; the error was logged."


def describe(problem: Problem) -> str:
    """The problem in words for users."""
    template = PROBLEMS.get(problem.code)
    if template is None:
        return UNKNOWN_PROBLEM
    if callable(template):
        return template(problem.fields)
    return template.format_map(problem.fields)


def message_for(error: Exception) -> str:
    """What to tell the user about an error: a Problem in words; the bot's own errors (uploads,
    job lookups) carry their sentence as their message."""
    return describe(error) if isinstance(error, Problem) else str(error)
