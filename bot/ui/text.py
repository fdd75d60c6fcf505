"""Every sentence the bot shows users, in one place.

`generation/` hands problems over as codes and fields (`generation.problems.Problem`);
`describe(problem)` words them. A template is a `str.format` pattern over the problem's fields, or a
function of the fields for wording that depends on them. The rest of the module words what the
bot itself says: job messages, button labels, the answers of the commands. (Command and option
descriptions stay with the commands they declare: Discord shows them from the command tree.)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Container, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from generation.jobs.problems import Refusal, StoreProblem
from generation.jobs.types import LEGACY_ERROR, Job
from generation.problems import Problem
from generation.requests.excerpts import EXCERPT_LIMIT, excerpt
from generation.requests.numbers import format_number as _n
from generation.requests.request import MAX_SEED, GenerationRequest, Mode
from generation.workers.protocol import WorkerInfo, WorkerProblem

if TYPE_CHECKING:
    from generation.jobs.quotas import QuotaStatus
    from generation.requests.applied import Applied
    from generation.safety.check import ImageCheck

Template = str | Callable[[Mapping[str, Any]], str]

# -- users' text as inline code -------------------------------------------------------------------
# (quoting in prose: `user_text` and `quoted` below; bot.ui.fit is the last guard on length)

MAX_CODE = 60  # characters of a typed id or name shown as code


def code(value: object, limit: int = MAX_CODE) -> str:
    """A typed id or name as inline code (markdown and mentions do not work inside one)."""
    text = " ".join(str(value).split()).replace("`", "'")
    return f"`{text if len(text) <= limit else text[: limit - 1] + '…'}`"


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
    "clipskip": "a whole number from 1 to 12, like 2",
    "vae": 'a VAE name, "None" (the model\'s own) or "Automatic"',
    # the job flags (issue 12): styles, permutations, repeats
    "style": "one or more style names, like --style cinematic, film noir",
    "permute": "no value (or on/off)",
    "repeat": "a number of jobs like 3",
}


# -- quoting what users typed -----------------------------------------------------------------

MAX_PROBLEM_LENGTH = 300  # (exclusive) a worded problem says what to change in a line or two, never a wall
_LONGEST_PROBLEM = MAX_PROBLEM_LENGTH - 1  # the characters a worded problem may use
_INLINE_MARKDOWN = re.compile(r"([\\*_~|`\[\]<>])")
_MASS_MENTION = re.compile(r"@(everyone|here)")


def user_text(value: object, limit: int = EXCERPT_LIMIT) -> str:
    """What a user typed, as a message may show it: a short excerpt on one line (control and
    invisible characters escaped, long text cut in the middle: `generation.requests.excerpts`),
    with Discord markdown and @everyone/@here defused. Every template that echoes input uses it."""
    text = _INLINE_MARKDOWN.sub(r"\\\1", excerpt(value, limit))
    return _MASS_MENTION.sub("@\u200b\\1", text)


def quoted(value: object, limit: int = EXCERPT_LIMIT) -> str:
    """`user_text` in single quotes: `got 'wide'`."""
    return f"'{user_text(value, limit)}'"


def _listing(names: Sequence[str], room: int) -> str:
    """`names` joined with commas in at most `room` characters, the rest counted: `a, b and 9 more`."""
    shown: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        tail = f" and {rest} more" if rest else ""
        if len(", ".join([*shown, name])) + len(tail) > room and shown:
            return ", ".join(shown) + f" and {len(names) - len(shown)} more"
        shown.append(name)
    return ", ".join(shown)


_NUMBER_REASONS = {
    "nan": "NaN is not a number",
    "infinite": "infinity is not a number you can use",
    "too_large": "far too large",
    "too_small": "far too small",
    "not_whole": "not a whole number",
    "not_a_number": "not a number",
}


def _number_reason(f: Mapping[str, Any]) -> str:
    """` (400 digits: far too large)` for a bad number, naming NaN and infinity; `` without a reason."""
    reason = f.get("reason")
    if not reason:
        return ""
    words = _NUMBER_REASONS.get(reason, reason.replace("_", " "))
    return f" ({f['digits']:,} digits: {words})" if f.get("digits") else f" ({words})"


# -- problem templates ---------------------------------------------------------------------------


def _bad_value(f: Mapping[str, Any]) -> str:
    flag, value = f["flag"], f["value"]
    if f["kind"] == "switch":
        return f"--{flag} takes {FLAG_VALUES[flag]}, got {quoted(value)}"
    got = f", got {quoted(value)}{_number_reason(f)}" if value else ""
    return f"--{flag} needs {FLAG_VALUES[flag]}{got}"


def _unknown_flag(f: Mapping[str, Any]) -> str:
    hint = f" (did you mean --{f['suggested']}?)" if f["suggested"] else ""
    head = f"unknown flag {user_text(f['typed'], 24)}{hint}; flags are "
    spellings = ["/".join(f"--{name}" for name in names) for names in f["flags"]]
    return head + _listing(spellings, _LONGEST_PROBLEM - len(head))


_FIELD_LABELS = {
    "width": "Width",
    "height": "Height",
    "steps": "Steps",
    "cfg_scale": "CFG scale",
    "seed": "The seed",
    "count": "The number of images",
    "strength": "Strength",
    "upscale_factor": "The upscale factor",
    "hires.scale": "The hires scale",
    "hires.strength": "The hires strength",
    "hires.steps": "Hires steps",
    "variation.seed": "The variation seed",
    "variation.strength": "The variation strength",
}


def _bad_number(f: Mapping[str, Any]) -> str:
    """A request's number that is NaN, infinite, of 400 digits or not a number at all."""
    flag = f["flag"]
    label = _FIELD_LABELS.get(f["field"], f["field"])
    if f.get("min") is not None:
        rule = f"must be between {_n(f['min'])} and {_n(f['max'])}"
    elif flag:
        rule = f"needs {FLAG_VALUES[flag]}"
    else:
        rule = "must be a number above 1, like 2"
    fix = f"; set it with --{flag}." if flag else "."
    return f"{label} {rule}, not {quoted(f['value'], 24)}{_number_reason(f)}{fix}"


def _unbalanced_quote(f: Mapping[str, Any]) -> str:
    return (
        f"The quote {f['quote']} in {quoted(f['near'], 24)} has no partner ({f['count']} quote marks in "
        "all), so the flags after it would be read as text; remove it, or close it."
    )


def _flag_twice(f: Mapping[str, Any]) -> str:
    spellings = f" (as {user_text(f['typed'][0])} and {user_text(f['typed'][1])})" if f["typed"] else ""
    return f"--{f['flag']} is given twice{spellings}; give each flag once"


def _unknown_sampler(f: Mapping[str, Any], around: int = 30) -> str:
    """`unknown sampler 'x' (why); the samplers are: ...`, as both sampler problems begin; the list
    fits what is left of the message after `around` characters of the wording around it."""
    if f["schedule"]:
        why = f" (schedule type {quoted(f['schedule'], 16)} is not supported: use Karras or Automatic)"
    else:
        why = "" if f["name"].strip() else " (empty name)"
    head = f"unknown sampler {quoted(f['name'], 24)}{why}; the samplers are: "
    return head + _listing(f["samplers"], _LONGEST_PROBLEM - around - len(head))


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


# -- styles, variants and other tools' parameters (issue 12) -------------------------------------


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _unknown_style(f: Mapping[str, Any]) -> str:
    if f["suggested"]:
        hint = f"; did you mean {_names(f['suggested'])}?"
    elif f["count"]:
        hint = "; the style option of /imagine lists them."
    else:
        hint = "; there are no styles yet (admins add them with /style add)."
    return f"There is no style called {f['name']!r}{hint}"


def _unknown_wildcard(f: Mapping[str, Any]) -> str:
    if f["suggested"]:
        hint = f"; did you mean {_names(['__' + n + '__' for n in f['suggested']])}?"
    elif f["count"]:
        hint = f" among the {f['count']} wildcard files."
    else:
        hint = "; there are no wildcard files (admins put them in the wildcards folder)."
    return f"There is no wildcard file for __{f['name']}__{hint}"


def _variants_syntax(f: Mapping[str, Any]) -> str:
    near = f" near “{f['excerpt']}”" if f.get("excerpt") else ""
    return (
        f"The prompt's {{a|b}} variants do not read{near}: every {{ needs its }}, with the options "
        "separated by |, like {red|green|blue}."
    )


def _too_many_jobs(f: Mapping[str, Any]) -> str:
    combos, counted = f["combinations"], f["counted"]
    if f["repeat"] > 1:
        made = (
            f"{combos} combinations x {f['repeat']} repeats = {f['jobs']} jobs"
            if combos is not None
            else f"more than {counted} combinations x {f['repeat']} repeats"
        )
    else:
        made = f"{combos} jobs" if combos is not None else f"more than {counted} jobs"
    return (
        f"This prompt would make {made}; one prompt may make at most {f['max']}. "
        "Use fewer {a|b} options or a smaller --repeat."
    )


STYLE_AND_VARIANT_PROBLEMS: dict[str, Template] = {
    "style.unknown": _unknown_style,
    "style.bad_name": (
        "A style's name needs 1 to {max} characters and no comma (--style takes names separated by "
        "commas), not {name!r}."
    ),
    "style.empty": "The style {name!r} needs a prompt or a negative prompt.",
    "style.too_long": lambda f: (
        f"The style's {'negative prompt' if f['which'] == 'negative_prompt' else 'prompt'} is "
        f"{f['length']:,} characters long; the limit is {f['max']:,}."
    ),
    "style.bad_csv": lambda f: (
        "That is not a styles.csv: it needs a header row with the columns name, prompt and "
        "negative_prompt" + (f" (it has {', '.join(f['columns'])})." if f["columns"] else ".")
    ),
    "variants.syntax": _variants_syntax,
    "variants.unknown_wildcard": _unknown_wildcard,
    "variants.prompt_too_long": (
        "With its variants drawn, the prompt is {length:,} characters long; shorten it (or the "
        "wildcard lines) to {max:,} characters or fewer."
    ),
    "variants.repeat_out_of_range": "--{flag} needs a number of jobs from 1 to {max}, not {value}.",
    "variants.too_many_jobs": _too_many_jobs,
    # reading another tool's image (generation.images.reading): refusals, then what was changed
    "reading.not_an_image": "That attachment is not an image I can read (use PNG, JPEG or WebP).",
    "reading.too_many_pixels": "The image is {width}x{height}; that is too large to read.",
    "reading.model_missing": lambda f: (
        f"There is no model {f['given']!r} here; "
        + (f"the active model `{f['used']}` makes it instead." if f["used"] else "the active model makes it.")
    ),
    "reading.model_mapped": "There is no model {given!r} here; `{used}` is the closest.",
    "reading.sampler_mapped": "The sampler {given!r} is not here; {used} is the closest.",
    "reading.sampler_unknown": "The sampler {given!r} is not here; the default, {used}, is used.",
    "reading.size_changed": lambda f: (
        f"The size {f['given'][0]}x{f['given'][1]} is beyond this server's limits; "
        f"{f['used'][0]}x{f['used'][1]} keeps its shape."
    ),
    "reading.steps_changed": "{given} steps is beyond this server's limits; {used} are used.",
    "reading.cfg_changed": lambda f: (
        f"CFG scale {_n(f['given'])} is beyond this server's limits; {_n(f['used'])} is used."
    ),
    "reading.seed_changed": "The seed {given} is beyond the web UI's range; {used} is used.",
    "reading.made_from_an_image": (
        "The image was made from another image ({mode}); this makes it again from the prompt alone."
    ),
}


def _clip(text: str, length: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def reset_phrase(seconds_left: float, resets_at: float) -> str:
    """ "in 3 h 12 min (00:00 UTC)": when a quota day ends."""
    seconds = max(0, math.ceil(seconds_left))
    hours, rest = divmod(seconds, 3600)
    minutes = math.ceil(rest / 60) if hours == 0 else rest // 60
    when = dt.datetime.fromtimestamp(resets_at, dt.UTC).strftime("%H:%M UTC")
    if hours and minutes:
        span = f"{hours} h {minutes} min"
    elif hours:
        span = f"{hours} h"
    else:
        span = f"{max(1, minutes)} min"
    return f"in {span} ({when})"


def quota_line(status: QuotaStatus, now: float) -> str:
    """A user's GPU time today, as /info and the /quota commands show it."""
    if status.unlimited:
        return f"Unlimited GPU time ({status.used:.0f} s used today)."
    return (
        f"{status.used:.0f} s of {status.limit:.0f} s GPU time used today"
        + (f", {status.reserved:.0f} s held by waiting jobs" if status.reserved >= 0.5 else "")
        + f"; {status.remaining:.0f} s left. Resets {reset_phrase(status.resets_at - now, status.resets_at)}."
    )


def _too_many_waiting(f: Mapping[str, Any]) -> str:
    listed = "; ".join(f"`{job['id']}` “{_clip(job['prompt'])}”" for job in f["waiting"])
    return (
        f"You already have {f['count']} jobs waiting, the most one person can have queued "
        f"(the limit is {f['limit']}): {listed}. Wait for one to start, or cancel one."
    )


def _queue_full(f: Mapping[str, Any]) -> str:
    first = f["next_start"]
    return (
        f"The queue is full: {f['count']} jobs are waiting, the most it holds "
        f"(the limit is {f['limit']}). Try again in a few minutes"
        + (f" (the next job should start in about {format_seconds(first)})." if first > 0 else ".")
    )


def _quota_exceeded(f: Mapping[str, Any]) -> str:
    held = f" ({f['reserved']:.0f} s held by your waiting jobs)" if f["reserved"] >= 0.5 else ""
    return (
        f"This needs about {f['needed']} s of GPU time, but you have "
        f"{f['remaining']:.0f} s left of your {f['limit']:.0f} s daily budget{held}. "
        f"Your budget resets {reset_phrase(f['resets_in'], f['resets_at'])}; "
        "fewer images, fewer steps or a smaller size need less."
    )


def _unknown_model(f: Mapping[str, Any]) -> str:
    head = f"There is no model called {user_text(f['model'])}; the models are: "
    return head + (_listing(f["names"], _LONGEST_PROBLEM - len(head) - 1) or "none") + "."  # (1: the ".")


def _switch_failed(f: Mapping[str, Any]) -> str:
    kept = f"; {f['kept']} stays active" if f.get("kept") else ""
    return f"Could not switch to {user_text(f['model'])}: {f['detail']}{kept}."


def _number_problem(f: Mapping[str, Any]) -> str:
    """A number parsed on its own (`generation.requests.numbers.NumberError`), e.g. a slash option."""
    code = f["code"].removeprefix("number.")
    if code in ("too_large", "too_small") and not f["digits"]:  # just outside these bounds: not "far"
        reason = f" ({code.replace('_', ' ')})"
    else:
        reason = _number_reason({"reason": code, "digits": f["digits"]})
    bounds = f"{_n(f['low'])} to {_n(f['high'])}"
    return f"{quoted(f['value'], 24)} cannot be used{reason}; give a number from {bounds}."


# -- images handed in (generation.images.intake) --------------------------------------------------

_ATTACH = "attach a PNG, JPEG or WebP image"
_KINDS = {
    "PDF": "a PDF",
    "ZIP": "a ZIP archive",
    "video": "a video",
    "SVG": "an SVG drawing",
    "HTML": "a web page",
    "text": "text",
}


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f}".removesuffix(".0")


def _not_an_image(f: Mapping[str, Any]) -> str:
    kind = _KINDS.get(f["looks_like"] or "")
    return (
        f"That file is {kind}, not an image; {_ATTACH}." if kind else f"That file is not an image; {_ATTACH}."
    )


def _unsupported_image(f: Mapping[str, Any]) -> str:
    if f["format"] == "HEIC":
        return f"HEIC photos cannot be read here; export it as JPEG (or {_ATTACH})."
    if f["format"] and f["mode"]:
        what = f"{user_text(f['format'], 12)} images in mode {user_text(f['mode'], 12)}"
    else:
        what = f"{user_text(f['format'] or 'Such', 12)} images"
    return f"{what} are not supported; {_ATTACH}."


def _too_many_pixels(f: Mapping[str, Any]) -> str:
    if f["width"] is None:  # Pillow stopped it at the header: a decompression bomb
        claims = f"claims {f['pixels']:,} pixels" if f["pixels"] else "claims far too many pixels"
        return (
            f"The image {claims}, far over the limit of {f['max']:,} (a decompression bomb); "
            "attach a smaller image."
        )
    return (
        f"The image is {f['width']}x{f['height']} ({f['pixels']:,} pixels), over the limit of {f['max']:,}; "
        "attach a smaller image."
    )


def _image_format(f: Mapping[str, Any]) -> str:
    return f"{user_text(f['format'], 12)} file" if f.get("format") else "file"


def _bad_parameter(f: Mapping[str, Any]) -> str:
    kinds = {"int": "a whole number", "number": "a number", "size": "a size like 512x512"}
    return (
        f"The image's {user_text(f['key'], 24)} is {quoted(f['value'], 24)}{_number_reason(f)}, not "
        f"{kinds.get(f['kind'], f['kind'])}; its parameters cannot be read back."
    )


# -- the models folders (generation.models.registry.Skipped) ----------------------------------------

_SKIPPED = {
    "folder_missing": "the folder does not exist",
    "broken_link": "it is a link to nothing",
    "link_loop": "it is a link that loops back on itself",
    "unreadable": "it cannot be read (check its permissions)",
    "no_model_index": "it looks like a diffusers folder but has no model_index.json",
}


def _skipped(f: Mapping[str, Any]) -> str:
    if f["reason"] == "name_taken":
        why = f"its name is taken by {user_text(f['detail'], 60)}" if f["detail"] else "its name is taken"
    else:
        why = _SKIPPED.get(f["reason"], user_text(f["reason"], 24))
    return f"Skipped {user_text(f['path'], 80)}: {why}."


_ARCH_LABELS = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "SDXL"}


def _or_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"


def _unknown_addon(what: str, plural: str) -> Callable[[Mapping[str, Any]], str]:
    def word(f: Mapping[str, Any]) -> str:
        count = f"{f['count']} {what if f['count'] == 1 else plural} {'is' if f['count'] == 1 else 'are'}"
        start = f"There is no {what} called {f['name']}"
        if f["closest"]:
            return f"{start}; did you mean {_or_list(f['closest'])}? ({count} installed)"
        return f"{start} ({count} installed)."

    return word


def _lora_wrong_arch(f: Mapping[str, Any]) -> str:
    made_for = _ARCH_LABELS.get(
        f["lora_arch"] or "", f"another kind of model (context width {f['lora_context']})"
    )
    return (
        f"The LoRA {f['name']} was made for {made_for} and cannot be used with this "
        f"{_ARCH_LABELS.get(f['model_arch'], f['model_arch'])} model."
    )


def _lora_unsupported(f: Mapping[str, Any]) -> str:
    if f["kind"] == "unknown":
        return f"{f['name']} is not a LoRA file this bot can read (no LoRA weights in it)."
    return (
        f"The LoRA {f['name']} is a LyCORIS {f['kind']}, which cannot be loaded here; "
        "LoRA and LoCon files work."
    )


def _embedding_skipped(f: Mapping[str, Any]) -> str:
    why = "it was made for another kind of model" if f["reason"] == "arch" else "it could not be read"
    return f"The embedding {f['name']} was not used: {why} ({f['detail']})."


PROBLEMS: dict[str, Template] = {
    # -- requests: prompt flags and validation ---------------------------------------------------
    "prompt.bad_value": _bad_value,
    "prompt.text_after_value": lambda f: (
        f"unexpected text {quoted(f['text'])} after --{f['flag']} {user_text(f['value'], 24)}: "
        f"--{f['flag']} takes one value, and the prompt goes before the first flag"
    ),
    "prompt.unknown_flag": _unknown_flag,
    "prompt.flag_twice": _flag_twice,
    "prompt.ratio_with_both_sides": (
        "--{flag} cannot be used with both --w and --h; give --{flag} with one of them, or neither"
    ),
    "prompt.ratio_not_positive": lambda f: (
        f"--{f['flag']} needs two numbers above 0, like 16:9, got {quoted(f['value'])}"
    ),
    "prompt.unbalanced_quote": _unbalanced_quote,
    "prompt.variation_strength_without_seed": (
        "--{flag} needs --{needs} too: the seed to vary towards, like --{needs} 1234"
    ),
    "prompt.unknown_sampler": lambda f: f"--{f['flag']}: {_unknown_sampler(f)}",
    "request.bad_number": _bad_number,
    **{
        code: (lambda f, code=code: _number_problem({**f, "code": code}))
        for code in (
            "number.not_a_number",
            "number.not_whole",
            "number.nan",
            "number.infinite",
            "number.too_large",
            "number.too_small",
        )
    },
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
    # -- requests: editing an image (Vary (Region), Zoom Out, Pan) ---------------------------------
    "request.mask_missing": "Repainting a region needs a mask: white where to repaint, black where to keep.",
    "request.mask_blur_out_of_range": lambda f: (
        f"The mask blur must be a whole number of pixels from 0 to {f['max']}, not {_n(f['value'])}."
    ),
    "request.mask_padding_out_of_range": lambda f: (
        f"The padding around the mask must be a whole number of pixels from 0 to {f['max']}, "
        f"not {_n(f['value'])}."
    ),
    "request.inpaint_too_large": (
        "{width}x{height} is {pixels:,} pixels, over this server's limit of {max:,} for repainting "
        "part of an image; start from a smaller image."
    ),
    "request.outpaint_direction_missing": lambda f: (
        "Say how to extend the image: zoom out by a factor above 1, or pan "
        + ", ".join(f["directions"][:-1])
        + f" or {f['directions'][-1]}."
    ),
    "request.zoom_out_of_range": lambda f: (
        f"Zoom out must be above {_n(f['min'])} and at most {_n(f['max'])}, not {_n(f['value'])}; "
        "try 1.5 or 2."
    ),
    "request.pan_unknown": lambda f: (
        f"Cannot pan {f['value']!r}; pan " + ", ".join(f["directions"][:-1]) + f" or {f['directions'][-1]}."
    ),
    "request.zoom_and_pan": "Zoom out or pan, not both at once: zoom first, then pan the result.",
    # -- requests: prompt syntax and add-ons (LoRA tags, clip skip) --------------------------------
    "request.bad_lora_tag": lambda f: (
        f"The tag {f['tag']} cannot be read: "
        + ("it names no LoRA" if f["part"] == "name" else "its weight is not a number")
        + "; write it like <lora:name:0.8>."
    ),
    "request.clip_skip_out_of_range": (
        "Clip skip must be a whole number from {min} to {max}, not {value}; --{flag} 2 is the usual choice."
    ),
    # -- requests: follow-ups of a job's images ----------------------------------------------------
    "request.no_such_image": "Job `{job_id}` has images 1 to {count}, not {number}.",
    "request.job_has_no_images": "Job `{job_id}` has no images (it is {status}).",
    "request.image_blocked": (
        "Image {number} of job `{job_id}` was hidden by this server's image check, so nothing can be "
        "made from it."
    ),
    "sampler.unknown": lambda f: f"{_capitalised(_unknown_sampler(f))}.",
    # -- images handed in: refusals, then notes on what was changed ------------------------------
    "image.empty": f"The file is empty; {_ATTACH}.",
    "image.too_many_bytes": lambda f: (
        f"The file is {_megabytes(f['size'])} MB; images can be at most {_megabytes(f['max'])} MB."
    ),
    "image.not_an_image": _not_an_image,
    "image.unsupported": _unsupported_image,
    "image.too_many_pixels": _too_many_pixels,
    "image.truncated": lambda f: (
        f"The {_image_format(f)} is cut off: not all of its {f['width']}x{f['height']} pixels are there; "
        "upload it again."
    ),
    "image.unreadable": lambda f: (
        f"The {_image_format(f)} is broken and cannot be read; save it again as PNG."
    ),
    "image.extreme_shape": lambda f: (
        f"The image is {f['width']}x{f['height']}, too thin to use: scaled up to {f['min']} pixels across "
        f"it would be over {f['max']:,} pixels."
    ),
    "image.bad_parameter": _bad_parameter,
    "image.scaled_up": (
        "The image was only {width}x{height}, so it was scaled up to {to_width}x{to_height} ({min} pixels "
        "is the smallest side that works)."
    ),
    "image.first_frame": lambda f: (
        f"The {user_text(f['format'], 12)} is animated; only its first frame is used."
    ),
    "image.flattened": "The image's transparent parts were filled with white.",
    "image.converted": lambda f: f"The image ({user_text(f['mode'], 12)}) was converted to 8-bit RGB.",
    # -- jobs: submitting, the queue, quotas ------------------------------------------------------
    Refusal.CLOSING: "The bot is restarting; try again in a minute.",
    Refusal.NO_MODEL: "No model is set up yet; ask an admin to add one.",
    Refusal.UNKNOWN_MODEL: _unknown_model,
    Refusal.TOO_MANY_WAITING: _too_many_waiting,
    Refusal.QUEUE_FULL: _queue_full,
    Refusal.QUOTA_EXCEEDED: _quota_exceeded,
    # -- the database: at start (one line, with the file), and writes refused while running --------
    StoreProblem.IS_A_DIRECTORY: (
        "the database {path} is a folder: set paths.database to a file (like data/bot.sqlite3)."
    ),
    StoreProblem.NOT_A_DATABASE: (
        "{path} is not an SQLite database ({detail}): set paths.database to another file, or move "
        "this one away and the bot starts a new database."
    ),
    StoreProblem.TRUNCATED: (
        "the database {path} is cut short ({size:,} of {expected:,} bytes, an incomplete copy?): restore "
        "it from a backup, or move it away and the bot starts a new one."
    ),
    StoreProblem.CORRUPT: (
        "the database {path} is damaged ({detail}): restore it from a backup, or move it away and the "
        "bot starts a new one."
    ),
    StoreProblem.NEWER_SCHEMA: (
        "the database {path} has schema version {version}, and this bot knows versions up to {known}: "
        "it is another program's or a newer bot's. Set paths.database to another file, or run the "
        "newer bot."
    ),
    StoreProblem.FOREIGN_SCHEMA: lambda f: (
        f"the database {f['path']} holds another program's tables ({', '.join(f['tables'])}): set "
        "paths.database to another file."
    ),
    StoreProblem.LOCKED: (
        "the database {path} is locked by another program (is the bot running already?): stop that "
        "one, or set paths.database to another file."
    ),
    StoreProblem.READ_ONLY: (
        "the database {path} cannot be written ({detail}): free some disk space, or let the bot write "
        "to the file and its folder."
    ),
    StoreProblem.CANNOT_OPEN: (
        "the database {path} cannot be opened ({detail}): check paths.database and the permissions of "
        "its folder."
    ),
    StoreProblem.WRITE_FAILED: (
        "The bot could not save that right now (its storage refuses writes: {detail}); nothing was "
        "changed. Try again in a few minutes, or tell an admin."
    ),
    Refusal.STORE_UNAVAILABLE: (
        "The bot cannot store new jobs right now (its database refuses writes: {detail}), so nothing "
        "was queued. Try again in a few minutes, or tell an admin."
    ),
    # -- models ------------------------------------------------------------------------------------
    "models.skipped": _skipped,
    WorkerProblem.MODEL_SWITCH_FAILED: _switch_failed,
    # -- add-ons: LoRAs and VAEs a request names (generation.models.assets.AddonProblem) ------------
    "lora.unknown": _unknown_addon("LoRA", "LoRAs"),
    "lora.wrong_arch": _lora_wrong_arch,
    "lora.unsupported": _lora_unsupported,
    "lora.unreadable": "The LoRA {name} could not be read: {detail}.",
    "vae.unknown": _unknown_addon("VAE", "VAEs"),
    "vae.unusable": "The VAE {name} could not be used: {detail}.",
    # -- add-ons that were not applied (the image was made without them) ---------------------------
    "note.lora_in_negative": (
        "<lora:{name}> in the negative prompt was ignored: LoRA tags work in the prompt."
    ),
    "note.other_network": "<{kind}:{name}> was ignored: only LoRA tags are supported.",
    "note.embedding_skipped": _embedding_skipped,
    "note.clip_skip_ignored": lambda f: (
        f"Clip skip {f['clip_skip']} was not applied: only Stable Diffusion 1.x models use it, and this is "
        f"{_ARCH_LABELS.get(f['arch'], f['arch'])}."
    ),
    # -- running a job: failures --------------------------------------------------------------------
    WorkerProblem.OUT_OF_MEMORY: (
        "The GPU ran out of memory on this job. Try fewer images, a smaller size or no hires fix, "
        "or try again when the queue is quieter."
    ),
    WorkerProblem.SOURCE_UNREADABLE: (
        "The source image could not be read ({detail}). Attach a PNG or JPEG image and try again."
    ),
    WorkerProblem.MASK_UNREADABLE: (
        "The mask of this edit could not be read ({detail}). Pick the region again and try again."
    ),
    WorkerProblem.MODEL_NOT_LOADED: (
        "The model {model} could not be loaded: {detail}. Ask an admin, or pick another model."
    ),
    WorkerProblem.MODEL_UNUSABLE: "The model could not be used: {detail}",
    WorkerProblem.GENERATION_FAILED: (
        "The generation failed: {detail}. Try other settings, or try again later."
    ),
    WorkerProblem.NOT_SAVED: "The images could not be saved: {detail}. Try again.",
    WorkerProblem.INTERNAL: "Something went wrong on our side; the error was logged.",
    WorkerProblem.WORKERS_LOST: (
        "The GPU worker running this job went down {attempts} times, so it was stopped (and not "
        "charged). Try again, perhaps with fewer images or a smaller size."
    ),
    LEGACY_ERROR: "{text}",  # an error stored as text by an older version
    **STYLE_AND_VARIANT_PROBLEMS,
}

UNKNOWN_PROBLEM = "Something went wrong on our side; the error was logged."
ANSWERED_PRIVATELY = "Answered privately."  # the public note while a private answer is sent


MAX_FIELD_TEXT = 300  # a problem's text fields as worded: details and names, never a whole input


def _bounded(value: Any) -> Any:
    """A field's value with its text cut short (lists and dicts too); numbers stay numbers."""
    if isinstance(value, str):
        if len(value) <= MAX_FIELD_TEXT:
            return value
        half = MAX_FIELD_TEXT // 2  # start and end kept, as `user_text` shows them
        return value[:half] + "…" + value[-(half - 1) :]
    if isinstance(value, list | tuple):
        return [_bounded(v) for v in value[:100]]
    if isinstance(value, dict):
        return {k: _bounded(v) for k, v in value.items()}
    return value


def describe(problem: Problem) -> str:
    """The problem in words for users."""
    template = PROBLEMS.get(problem.code)
    if template is None:
        return UNKNOWN_PROBLEM
    fields = {key: _bounded(value) for key, value in problem.fields.items()}
    if callable(template):
        return template(fields)
    return template.format_map(fields)


def message_for(error: Exception) -> str:
    """What to tell the user about an error: a Problem in words; the bot's own errors (uploads,
    job lookups) carry their sentence as their message."""
    return describe(error) if isinstance(error, Problem) else str(error)


# -- pieces --------------------------------------------------------------------------------------

MAX_PROMPT_SHOWN = 300  # a message holds 2000 characters; the prompt is only a reminder


def short_prompt(prompt: str, limit: int = MAX_PROMPT_SHOWN) -> str:
    """The prompt on one line, markdown and mass mentions defused, cut at `limit` (a reminder of the
    job, so its start matters: cut at the end, unlike `user_text`)."""
    text = _MASS_MENTION.sub("@\u200b\\1", _INLINE_MARKDOWN.sub(r"\\\1", " ".join(prompt.split())))
    return (text if len(text) <= limit else text[: limit - 1] + "…") or "(empty prompt)"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def mention(user_id: int) -> str:
    return f"<@{user_id}>"


# -- job messages: queued, running, finished, failed ---------------------------------------------


def headline(request: GenerationRequest, user_id: int) -> str:
    what = {
        Mode.TXT2IMG: "",
        Mode.IMG2IMG: " (variation)",
        Mode.UPSCALE: f" (upscale x{request.upscale_factor:g})",
        Mode.INPAINT: " (region repainted)",
        Mode.OUTPAINT: edit_headline(request),
    }[request.mode]
    return f"**{short_prompt(request.prompt)}**{what} - {mention(user_id)}"


def edit_headline(request: GenerationRequest) -> str:
    """What an outpaint did, for its headline: " (zoom out 2x)", " (pan left)"."""
    edit = request.edit
    if edit is not None and edit.pan is not None:
        return f" (pan {edit.pan})"
    zoom = edit.zoom if edit is not None else 1.0
    return f" (zoom out {_n(zoom)}x)"


def queued_text(request: GenerationRequest, user_id: int, position: int | None, eta: float | None) -> str:
    where = "waiting" if position is None else f"#{position} in the queue"
    when = "" if eta is None else f", starts in about {format_seconds(eta)}"
    return f"{headline(request, user_id)}\nQueued: {where}{when}"


def running_text(
    request: GenerationRequest, user_id: int, step: int | None, total: int | None, eta: float | None
) -> str:
    done = f"step {step}/{total} ({100 * step // total} %)" if step and total else "starting"
    left = "" if eta is None else f", about {format_seconds(eta)} left"
    return f"{headline(request, user_id)}\nGenerating: {done}{left}"


def result_text(job: Job) -> str:
    seed = job.images[0].seed if job.images else job.request.seed
    model = job.model_name or "?"
    return f"{headline(job.request, job.owner.user_id)}\nSeed `{seed}` · Model `{model}` · Job `{job.id}`"


def failed_text(request: GenerationRequest, user_id: int, message: str | None) -> str:
    return f"{headline(request, user_id)}\nFailed: {message or 'the job could not be generated.'}"


def cancelled_text(request: GenerationRequest, user_id: int) -> str:
    return f"{headline(request, user_id)}\nCancelled."


def with_mention(content: str, user_id: int) -> str:
    """A result posted in the channel mentions its user, so they are notified."""
    return content if mention(user_id) in content else f"{mention(user_id)} {content}"


def finished_elsewhere(content: str, jump_url: str) -> str:
    """The old message of a job whose result was posted as a new one."""
    return f"{content.splitlines()[0]}\nFinished: {jump_url}"


def cannot_reach_discord(api_base: str | None, error: BaseException) -> str:
    """The start's one line when Discord's API cannot be reached at all."""
    where = api_base or "discord.com"
    reason = getattr(error, "os_error", None) or error
    return (
        f"Discord cannot be reached at {where} ({reason}): check this machine's network, "
        "or DISCORD_API_BASE if you set it."
    )


# -- buttons ---------------------------------------------------------------------------------------

VARY_SUBTLE_LABEL = "Vary (subtle)"
VARY_STRONG_LABEL = "Vary (strong)"
UPSCALE_AGAIN_LABEL = "Upscale x2"
CANCEL_LABEL = "Cancel"


def upscale_label(number: int) -> str:
    return f"U{number}"


def vary_label(number: int) -> str:
    return f"V{number}"


def job_gone(job_id: str) -> str:
    return f"Job `{job_id}` is gone (it may have been deleted)."


CANNOT_UPSCALE_FURTHER = "This image cannot be upscaled any further."
ONLY_OWNER_DELETES = "Only the person who made this (or an admin) can delete it."
ONLY_OWNER_CANCELS = "Only the person who asked for this (or an admin) can cancel it."
DELETED = "Deleted."


def cancelled_job(job_id: str) -> str:
    return f"Cancelled job {code(job_id)}."


def already_ended(job: Job) -> str:
    return f"Job `{job.id}` has already {job.status}."


def job_info(job: Job, parameters: str) -> str:
    """The job's parameters (as the web UI writes them), plus where it came from."""
    lines = [f"**Job** `{job.id}` · {job.request.mode} · {job.status}"]
    if job.parent_id:
        lines.append(f"From job `{job.parent_id}`")
    if job.gpu_seconds:
        lines.append(f"GPU time {job.gpu_seconds:.1f} s")
    if job.error:
        lines.append(f"Error: {describe(job.error)}")
    if job.image_check is not None:
        lines.extend(image_check_lines(job.image_check))
    body = parameters if len(parameters) < 1500 else parameters[:1499] + "…"
    body = body.replace("```", "'''")
    return "\n".join(lines) + f"\n```\n{body}\n```"


# -- submitting --------------------------------------------------------------------------------------


def banned_word(word: str) -> str:
    return f'Your prompt contains "{user_text(word)}", which is not allowed on this server.'


# -- /vary -------------------------------------------------------------------------------------------

VARY_NEEDS_A_SOURCE = "Attach an image, or give a job (and image number) to vary."
UPLOAD_NOT_DOWNLOADED = "I could not download that attachment; try again."


def strength_not_understood(given: str) -> str:
    return f"Strength must be subtle, strong or a number like 0.5, not {quoted(given)}."


def strength_out_of_range(value: float) -> str:
    return f"Strength must be above 0 and at most 1, not {value:g}."


def bad_option(option: str, problem: Problem) -> str:
    """A slash option's number that cannot be used (a NumberError), naming the option."""
    return describe(problem).removesuffix(".") + f" for the {option} option."


def with_note(content: str, note: str) -> str:
    """A job's message with what the bot changed about the request (an upload scaled up)."""
    return f"{content}\n-# {note}" if note else content


def strength_bad_number(problem: Problem) -> str:
    """A strength that is NaN, infinite or far too long (a NumberError)."""
    f = problem.fields
    reason = _number_reason({"reason": problem.code.removeprefix("number."), "digits": f["digits"]})
    return f"Strength must be above 0 and at most 1, not {quoted(f['value'], 24)}{reason}."


# -- /show and /info ---------------------------------------------------------------------------------


def no_job_you_can_see(job_id: str) -> str:
    return f"There is no job {code(job_id)} you can see."


def job_not_done(job: Job, position: int | None) -> str:
    state = f"#{position} in the queue" if position is not None else str(job.status)
    note = f": {describe(job.error)}" if job.error else ""
    return f"Job `{job.id}` is {state}{note}."


def job_line(job: Job) -> str:
    return f"`{job.id}` {job.status} · {short_prompt(job.request.prompt, 60)}"


def job_choice(job: Job) -> str:
    """An autocomplete entry for a job (Discord allows 100 characters)."""
    return f"{job.id} · {short_prompt(job.request.prompt, 80)}"[:100]


def info(
    quota_line: str,
    model: str | None,
    waiting: int,
    paused: bool,
    places: Sequence[tuple[int, Job]],
    recent: Sequence[Job],
) -> str:
    """/info: the user's quota, the model, the queue, their places in it and their recent jobs."""
    lines = [
        f"**Quota:** {quota_line}",
        f"**Model:** `{model or 'none loaded yet'}`",
        f"**Queue:** {waiting} waiting" + (" (paused)" if paused else ""),
    ]
    if places:
        lines.append("**Your place:** " + ", ".join(f"`{j.id}` #{p}" for p, j in places))
    if recent:
        lines.append("**Your recent jobs:**")
        lines += [f"- {job_line(j)}" for j in recent]
    return "\n".join(lines)


# -- admin commands ------------------------------------------------------------------------------------

ADMIN_ONLY = "Only admins can do that (it needs the Manage Server permission)."
MAX_LISTED = 20  # jobs /queue list shows


def model_list(names: Sequence[str], active: str | None) -> str:
    lines = [f"- `{n}`" + (" (active)" if n == active else "") for n in names]
    return "**Models:**\n" + ("\n".join(lines) if lines else "none found")


def model_switch_failed(name: str, reason: Exception) -> str:
    """ModelSwitchError is a Problem; ModelNotFound carries its own sentence."""
    return f"Could not switch to {code(name)}: {message_for(reason)}"


def model_switched(name: str) -> str:
    return f"The active model is now `{name}`."


def quota_of(user_mention: str, quota_line: str) -> str:
    return f"{user_mention}: {quota_line}"


def quota_granted(seconds: float, user_mention: str, quota_line: str) -> str:
    return f"Granted {seconds:g} s to {user_mention}. {quota_line}"


def quota_set(seconds: float | None, user_mention: str, quota_line: str) -> str:
    what = "the default" if seconds is None else f"{seconds:g} s a day"
    return f"{user_mention} now has {what}. {quota_line}"


def queue_list(waiting: Sequence[Job], paused: bool, shown: Container[str] | None = None) -> str:
    """The queue; jobs not in `shown` (made elsewhere) are listed without their owner and prompt."""
    lines = [
        f"{i}. `{job.id}` {mention(job.owner.user_id)} {short_prompt(job.request.prompt, 60)}"
        if shown is None or job.id in shown
        else f"{i}. `{job.id}` (from another server)"
        for i, job in enumerate(waiting[:MAX_LISTED], start=1)
    ]
    if len(waiting) > MAX_LISTED:
        lines.append(f"... and {len(waiting) - MAX_LISTED} more")
    state = " (paused)" if paused else ""
    body = "\n".join(lines) if lines else "Nothing is waiting."
    return f"**Queue{state}:** {len(waiting)} waiting\n{body}"


def workers_list(workers: Sequence[WorkerInfo]) -> str:
    """/queue workers: one line a GPU worker (where, which GPU, its model, what it does)."""
    if not workers:
        return "**Workers:** none is up yet."
    lines = []
    for worker in workers:
        model = f"`{worker.model}`" if worker.model else "no model"
        jobs = ", ".join(f"`{job_id}`" for job_id in worker.jobs[:4]) or "-"
        lines.append(
            f"`{worker.id}` on {worker.node} ({worker.device}): {model}, {worker.state.value}, "
            f"jobs {jobs}, {worker.jobs_done} done"
        )
    busy = sum(worker.state.value != "idle" for worker in workers)
    return f"**Workers:** {len(workers)} ({busy} busy)\n" + "\n".join(lines)


def not_waiting_or_running(job_id: str) -> str:
    return f"Job {code(job_id)} is not waiting or running."


QUEUE_PAUSED = "The queue is paused (also across restarts) until `/queue resume`."
QUEUE_RESUMED = "The queue is running again."


def word_banned(word: str) -> str:
    return f'Prompts containing "{user_text(word, 100)}" are now refused here.'


def word_not_listed(word: str) -> str:
    return f'"{user_text(word)}" is not on this server\'s list.'


def word_allowed(word: str) -> str:
    return f'"{user_text(word, 100)}" is allowed again.'


def banned_words(server: Sequence[str], everywhere: Sequence[str]) -> str:
    text = "**This server:** " + (", ".join(code(w, 100) for w in server) or "none")
    return text + "\n**Everywhere (config):** " + (", ".join(code(w, 100) for w in everywhere) or "none")


def spoilers(enabled: bool) -> str:
    state = "as spoilers" if enabled else "normally"
    return f"Results outside NSFW channels are now posted {state}."


# -- the image check (generation.safety; /safety images, /safety channel) ----------------------------

IMAGE_CHECK_MODES = {
    "off": "not checked",
    "spoiler": "checked; flagged ones are posted as spoilers",
    "block": "checked; flagged ones are replaced with a placeholder",
}


def _image_numbers(indexes: Sequence[int], total: int) -> str:
    if len(indexes) == total and total > 1:
        return "all the images"
    if total == 1:
        return "the image"
    names = ", ".join(str(i + 1) for i in indexes)
    return f"image {names}" if len(indexes) == 1 else f"images {names}"


def image_check_note(check: ImageCheck) -> str:
    """Under a result the image check changed: what was done to which images, and why."""
    total = len(check.images)
    which = _image_numbers(check.flagged, total)
    if check.failed:
        if check.mode == "block":
            return "🛡️ The image check could not run, so the images are hidden to be safe. Try again later."
        return "🛡️ The image check could not run, so the result is posted as a spoiler to be safe."
    if check.mode == "block":
        verb = "were" if which.startswith(("images", "all")) else "was"
        return (
            f"🛡️ {which.capitalize()} {verb} hidden: the image check flagged explicit content, "
            "which is blocked here."
        )
    return f"🛡️ Posted as a spoiler: the image check flagged {which} as explicit."


def image_check_lines(check: ImageCheck) -> list[str]:
    """The job's image check for its info answer: the mode, the detector, each image's scores."""
    lines = [f"Image check: {check.mode} ({check.detector}, flagged from {check.threshold:g})"]
    if check.failed:
        lines.append(f"The check failed ({user_text(check.error, 120)}): every image counts as flagged")
        return lines
    for verdict in check.images:
        top = verdict.top(check.labels, 2) or verdict.top(None, 1)
        scores = ", ".join(f"{label.lower()} {score:.2f}" for label, score in top) or "nothing found"
        state = "flagged" if verdict.flagged else "passed"
        lines.append(f"Image {verdict.index + 1}: {state} ({scores})")
    return lines


def image_check_server(mode: str, exempt_nsfw: bool, channels: Mapping[int, str]) -> str:
    """/safety images: the server's image check now, with its channels' own."""
    lines = [f"Generated images here are now {IMAGE_CHECK_MODES[mode]}."]
    lines.append("NSFW channels are not checked." if exempt_nsfw else "NSFW channels are checked too.")
    if channels:
        own = ", ".join(f"<#{channel}> {value}" for channel, value in sorted(channels.items()))
        lines.append(f"Channels with their own: {own}")
    return "\n".join(lines)


def image_check_channel(channel_id: int, mode: str | None, server_mode: str) -> str:
    """/safety channel: the channel's own image check, or back to the server's."""
    if mode is None:
        return f"<#{channel_id}> follows the server again: images are {IMAGE_CHECK_MODES[server_mode]}."
    return f"Images in <#{channel_id}> are now {IMAGE_CHECK_MODES[mode]}, whatever the server's setting."


def synced(count: int, changed: bool) -> str:
    """/sync: the commands were sent; say whether they differed from the last sync."""
    commands = f"{count} command" + ("" if count == 1 else "s")
    if changed:
        return f"Synced {commands} with Discord: they had changed since the last sync."
    return f"Synced {commands} with Discord again; nothing had changed since the last sync."


# -- /settings: a user's own defaults ------------------------------------------------------------------

PREFS_PLACEHOLDERS = {
    "model": "Model",
    "sampler": "Sampler",
    "aspect": "Aspect ratio",
    "count": "Images per job",
}
PREFS_FORM_TITLE = "Steps, CFG and style"
PREFS_STEPS_LABEL = "Steps"
PREFS_CFG_LABEL = "CFG scale"
PREFS_STYLE_LABEL = "Style"
PREFS_EMPTY_IS_DEFAULT = "Empty: the server's default"
PREFS_NOT_YOURS = "These are someone else's settings; use /settings for your own."


def prefs_default_model(active: str | None) -> str:
    return f"Server default ({active})" if active else "Server default"


def prefs_default_value(value: str) -> str:
    return f"Server default ({value})"


def prefs_button_label(field: str, on: bool | None) -> str:
    if field == "remix":
        return f"Remix: {'on' if on else 'off'}"
    if field == "private":
        return f"Results by DM: {'on' if on else 'off'}"
    return {"more": "Steps, CFG, style…", "reset": "Reset"}[field]


def prefs_panel(prefs: Any, defaults: Any, active_model: str | None) -> str:
    """The panel's text: each default, the user's own in bold."""

    def shown(value: Any, default: Any) -> str:
        if value is None:
            return f"{default} (server)"
        return f"**{_n(value) if isinstance(value, float) else value}**"

    lines = [
        "**Your defaults** for /imagine: prompt flags and command options still win.",
        f"Model: {shown(prefs.model, active_model or 'active model')} · "
        f"Sampler: {shown(prefs.sampler, defaults.sampler)} · Steps: {shown(prefs.steps, defaults.steps)}",
        f"Aspect: {shown(prefs.aspect, '1:1')} · Images: {shown(prefs.count, defaults.count)} · "
        f"CFG: {shown(prefs.cfg, _n(defaults.cfg_scale))}",
        f"Style: {shown(short_prompt(prefs.style, 100) if prefs.style else None, 'none')}",
        f"Remix: **{'on' if prefs.remix else 'off'}** (follow-ups open the prompt to edit first) · "
        f"Results by DM: **{'on' if prefs.private else 'off'}**",
    ]
    return "\n".join(lines)


def prefs_invalid(field: str, limits: Any) -> str:
    if field == "steps":
        return f"Steps must be a whole number from 1 to {limits.max_steps} (or empty for the default)."
    if field == "cfg":
        return (
            f"CFG scale must be a number from {_n(limits.min_cfg)} to {_n(limits.max_cfg)} "
            "(or empty for the default)."
        )
    if field == "style":
        return "A style name is at most 100 characters, without double quotes."
    return "That setting is not one I know."


def sent_by_dm(job: Job, jump_url: str) -> str:
    """The job's message in the channel once its result went to the user's DMs."""
    return f"{headline(job.request, job.owner.user_id)}\nSent to your direct messages: {jump_url}"


# -- remix and edits -------------------------------------------------------------------------------------

REMIX_TITLE = "Remix: edit the prompt"
REMIX_PROMPT_LABEL = "Prompt and flags"
VARY_REGION_LABEL = "Vary (Region)"
CUSTOM_ZOOM_LABEL = "Custom Zoom"
ZOOM_FACTOR_LABEL = "Zoom out by (above 1, up to 2)"


def zoom_label(factor: float) -> str:
    return f"Zoom Out {_n(factor)}x"


def zoom_factor_invalid(typed: str, maximum: float) -> str:
    return f"Zoom out by a number above 1 and at most {_n(maximum)}, like 1.5; not {_clip(typed, 20)!r}."


REGION_PLACEHOLDER = "Pick the cells to repaint"
REGION_PROMPT_LABEL = "What the cells should show (prompt and flags)"
REGION_NO_CELLS = "Pick at least one cell of the grid to repaint."
MASK_PAGE_LABEL = "Paint the region instead"


def region_cell_label(cell: int, grid: int) -> str:
    row, column = divmod(cell - 1, grid)
    return f"Cell {cell} (row {row + 1}, column {column + 1})"


def region_picker(grid: int, with_page: bool) -> str:
    text = (
        f"**Vary (Region):** pick the cells of the {grid}x{grid} grid to repaint (several at once), "
        "then say what they should show. The rest of the image stays as it is."
    )
    if with_page:
        text += (
            "\nFor a precise region, paint it on the page the button opens (the link works once, for 15 min)."
        )
    return text


def region_form_title(cells: Sequence[int]) -> str:
    listed = ", ".join(str(c) for c in cells)
    title = f"Repaint cells {listed}" if len(cells) > 1 else f"Repaint cell {listed}"
    return title if len(title) <= 45 else f"Repaint {len(cells)} cells"


MASK_PAINTS_NOTHING = "The mask is all dark: paint the part to repaint in white (the rest black)."


# -- the mask editor page (bot/web/) ------------------------------------------------------------------

WEB_EDITOR_TITLE = "Vary (Region): paint what to repaint"
WEB_REFUSED_TITLE = "This link cannot be used"
WEB_QUEUED_TITLE = "Queued"
WEB_NOT_FOUND = "There is nothing here. Open the link from the bot's Vary (Region) reply."
WEB_MASK_UNREADABLE = "The painted region did not arrive as an image. Reload the page and try again."
WEB_MASK_EMPTY = "Nothing is painted: paint the part of the image to repaint, then submit."
WEB_LINK_REASONS = {
    "forged": "This link is not one the bot made (it may be incomplete). Copy the whole link, or click "
    "Vary (Region) again for a new one.",
    "expired": "This link has expired. Click Vary (Region) again in Discord for a new one.",
    "used": "This link has been used already: each works once. Click Vary (Region) again for a new one.",
    "unknown": "The bot no longer knows this link. Click Vary (Region) again in Discord for a new one.",
}


def web_link_refused(reason: str) -> str:
    return WEB_LINK_REASONS.get(reason, WEB_LINK_REASONS["forged"])


def web_editor_intro(job_id: str, seconds_left: float) -> str:
    minutes = max(1, math.ceil(seconds_left / 60))
    return (
        f"Job {job_id}. Paint over the part to repaint (the brush, or the lasso to outline it), edit the "
        f"prompt and submit; the rest of the image stays as it is. This link works once, for about "
        f"{minutes} more min."
    )


def web_upload_too_big(limit: int) -> str:
    return f"The painted region is larger than {limit // 1024} KiB, the most this page accepts."


def web_prompt_too_long(limit: int) -> str:
    return f"The prompt is longer than {limit:,} characters; shorten it and submit again."


def web_queued(job_id: str) -> str:
    return f"Your edit is queued as job {job_id}. The result will appear in Discord; you can close this page."


# -- /style, several jobs from one prompt (issue 12) -------------------------------------------------

MAX_STYLES_LISTED = 25
STYLE_PROMPT_SHOWN = 70


def _style_line(style: Any) -> str:
    parts = [f"`{style.name}`"]
    if style.prompt:
        parts.append(short_prompt(style.prompt, STYLE_PROMPT_SHOWN))
    if style.negative_prompt:
        parts.append(f"(not: {short_prompt(style.negative_prompt, STYLE_PROMPT_SHOWN // 2)})")
    return "- " + " ".join(parts)


def style_added(style: Any, replaced: bool) -> str:
    done = "replaced" if replaced else "added"
    return f"Style `{style.name}` {done}; use it with `--style {style.name}`.\n{_style_line(style)}"


def style_removed(name: str) -> str:
    return f"Style `{name}` removed."


def style_not_on_server(name: str) -> str:
    return f"This server has no style called {name!r} of its own (/style list shows them)."


def too_many_styles(limit: int) -> str:
    return f"This server has {limit} styles, the most it can keep; remove one first."


def styles_file_too_big(size: int, limit: int) -> str:
    return f"That file is {size / 1e6:.1f} MB; a styles.csv over {limit // 10**6} MB is not read."


def styles_imported(added: int, replaced: int, skipped: Sequence[str]) -> str:
    line = f"Imported the styles: {added} added, {replaced} replaced."
    if skipped:
        names = ", ".join(f"`{n[:40]}`" for n in skipped[:10]) + (" ..." if len(skipped) > 10 else "")
        line += f" {len(skipped)} skipped (a comma in the name, empty, too long, or no room): {names}"
    return line


def style_list(own: Sequence[Any], everywhere: Sequence[Any]) -> str:
    def block(title: str, styles: Sequence[Any]) -> list[str]:
        lines = [title + (f" ({len(styles)})" if styles else ": none")]
        lines += [_style_line(s) for s in sorted(styles, key=lambda s: s.name.casefold())[:MAX_STYLES_LISTED]]
        if len(styles) > MAX_STYLES_LISTED:
            lines.append(f"... and {len(styles) - MAX_STYLES_LISTED} more")
        return lines

    lines = block("**This server's styles**", own) + block("**Every server's (config)**", everywhere)
    return "\n".join(lines)


def no_room_for_jobs(jobs: int, room: int, limit: int) -> str:
    return (
        f"This prompt makes {jobs} jobs, but you can queue {room} more now (the most one person can "
        f"have waiting is {limit}). Wait for some to start, or make fewer."
    )


def another_job_queued(request: GenerationRequest, user_id: int, number: int, total: int) -> str:
    """The message of a further job from one prompt, until delivery shows its place."""
    return f"{headline(request, user_id)}\nQueued ({number} of {total})"


# -- /info image and "Show parameters": another tool's parameters (issue 12) -------------------------

SHOW_PARAMETERS_COMMAND = "Show parameters"  # the message command's name, as Discord lists it
IMAGINE_WITH_THESE_LABEL = "Imagine with these"
IMAGINE_COMMAND_TITLE = "To make it here: /imagine"
NO_IMAGE_TO_READ = "There is no image here to read (attach a PNG, JPEG or WebP)."
PARAMETERS_GONE = "This message no longer carries the parameters; read the image again."
CANNOT_IMAGINE_THIS_TEXT = (
    "This prompt cannot be queued as it is here (part of it reads as --flags, or it is too long); "
    "copy it into /imagine and adjust it."
)
PROMPT_SHOWN = 700
NEGATIVE_SHOWN = 300


def no_parameters(filename: str) -> str:
    return (
        f"`{short_prompt(filename, 80)}` carries no generation parameters that I can read (no tool's "
        "metadata, or it was removed, as re-saving and most image hosts do)."
    )


def image_parameters(found: Any, filename: str, notes: Sequence[str], blocked: str | None) -> str:
    """The parameters read from an image (generation.images.reading.ImageParameters), what changes
    here, and why the button is missing when it is."""
    lines = [f"**Parameters written by {found.tool}** in `{short_prompt(filename, 80)}`"]
    lines.append(f"**Prompt:** {short_prompt(found.prompt, PROMPT_SHOWN)}")
    if found.negative_prompt:
        lines.append(f"**Negative:** {short_prompt(found.negative_prompt, NEGATIVE_SHOWN)}")
    items = [
        ("Steps", found.steps),
        ("Sampler", found.sampler),
        ("CFG", None if found.cfg_scale is None else _n(found.cfg_scale)),
        ("Seed", found.seed),
        ("Size", f"{found.width}x{found.height}" if found.width and found.height else None),
        ("Model", found.model and short_prompt(found.model, 80)),
        ("Model hash", found.model_hash),
    ]
    lines.append(" · ".join(f"{key} `{value}`" for key, value in items if value is not None))
    if notes:
        lines.append("**Here:**")
        lines += [f"- {note}" for note in notes]
    if blocked:
        lines.append(blocked)
    return "\n".join(lines)


# -- what a job applied: LoRAs, embeddings, VAE, clip skip, and what was ignored ------------------

MAX_APPLIED_SHOWN = 400  # each of the result's two lines (applied, ignored): a reminder, not a report
MAX_ADDONS_LISTED = 40  # files /model loras and /model embeddings show


def _one_line(value: str, limit: int) -> str:
    line = " ".join(value.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _weights(te: float, unet: float) -> str:
    return _n(te) if te == unet else f"{_n(te)}/{_n(unet)}"  # text encoder / UNet, as the tag writes them


def applied_line(applied: Applied) -> str:
    """What the images were made with, beyond the checkpoint: "LoRA detail 0.7 · embedding
    EasyNegative · VAE other.safetensors · clip skip 2" (empty when nothing)."""
    parts = [
        f"LoRA {user_text(use.name, 60)} {_weights(use.te_weight, use.unet_weight)}" for use in applied.loras
    ]
    parts += [f"embedding {user_text(use.name, 60)}" for use in applied.embeddings]
    if applied.vae is not None:
        parts.append(f"VAE {user_text(applied.vae.name, 60)}")
    if applied.clip_skip > 1:
        parts.append(f"clip skip {applied.clip_skip}")
    return " · ".join(parts)


def with_applied(content: str, applied: Applied | None) -> str:
    """A result's message with what was applied and, below it, what was ignored and why (each
    note worded by `describe`), as small lines; unchanged when the worker said nothing."""
    if applied is None:
        return content
    lines = [applied_line(applied), " ".join(dict.fromkeys(describe(note) for note in applied.notes))]
    shown = [_one_line(line, MAX_APPLIED_SHOWN) for line in lines if line]
    return content + "".join(f"\n-# {line}" for line in shown)


_LISTED_ARCH = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL"}


class AddonListing(Protocol):
    """A listed LoRA or embedding file (generation.models.preflight.AddonListing, which the bot
    does not import)."""

    name: str
    arch: str | None
    fits: bool | None
    detail: str | None


def _addon_entry(item: AddonListing) -> str:
    what = [_LISTED_ARCH.get(item.arch, item.arch) if item.arch else "model unknown"]
    if item.detail:
        what.append(item.detail)
    if item.fits is False:
        what.append("not for this model")
    return f"- {code(item.name)} ({', '.join(what)})"


def addon_list(kind: str, items: Sequence[AddonListing], model: str | None) -> str:
    """`/model loras` and `/model embeddings`: each file, what it was made for, and whether the
    model (the active one) can use it; how to use them."""
    title, usage = {
        "lora": ("LoRAs", "Use one with `<lora:NAME:0.8>` in the prompt, or the lora option of /imagine."),
        "embedding": ("Embeddings", "Use one by writing its name in the prompt or the negative prompt."),
    }[kind]
    head = f"**{title}**" + (f" (for {code(model)})" if model else "") + ":"
    if not items:
        return f"{head}\nnone installed"
    lines = [_addon_entry(item) for item in items[:MAX_ADDONS_LISTED]]
    if len(items) > MAX_ADDONS_LISTED:
        lines.append(f"… and {len(items) - MAX_ADDONS_LISTED} more")
    return "\n".join([head, *lines, f"-# {usage}"])


def bad_lora_option(given: str) -> str:
    return f"The lora option takes a LoRA's name, optionally with a weight (name:0.8), not {quoted(given)}."
