"""Parse the prompt text users type, Midjourney style, into a `GenerationRequest`.

    a lighthouse at dusk --ar 16:9 --seed 42 --no fog, boats --sampler "DPM++ 2M Karras" --hires 2

The rules:

- A flag is `--name` (or `—name` / `–name`: phones turn `--` into a dash) at the start of the text
  or after whitespace, with a letter right after the dashes. `--name=value` works too. Flag names
  are case-insensitive. Text inside double quotes is never a flag: straight, curly (`“...”`,
  `„...“`), fullwidth and guillemet quotes are all the same quote, as phones insert any of them.
  Quotes pair up left to right; when their number is odd and a quoted stretch would hide a flag
  (`a ”b --model "x y"`: the stray `”` would swallow `--model`), the text is refused
  (`prompt.unbalanced_quote`, naming that quote), never guessed.
- The prompt is everything before the first flag (surrounding spaces and trailing commas dropped).
- Each flag's value is the text up to the next flag. `--no`, `--sampler` and `--model` take all of
  it (so `--no fog, boats` and `--sampler DPM++ 2M Karras` work unquoted); one pair of quotes around
  the whole value is removed (`--no ""` asks for no negative prompt at all). Every other flag takes
  one word (`--hires` and `--tile` may take none), and any further text after it is an error, as
  the prompt only ever comes before the flags.
- A flag given twice (or under two spellings, like `--w` and `--width`) is an error.
- The parser checks syntax (a whole number, a ratio...) and sanity bounds only, with
  `generation.requests.numbers` (NaN, infinity and 400-digit numbers are refused by name, before
  any arithmetic); ranges and server limits are checked by `generation.requests.validation.validate`.
- A mistake raises `PromptError`, a `Problem` whose code says what is wrong and whose fields name
  the flag and the text given (front ends word it: `bot/ui/text.py`).

Without `base`, options left out take the server's `DefaultSettings`. With `base` (editing an
existing request, e.g. a remix), options left out keep the base's values, and an empty prompt keeps
the base's prompt. `--ar` always scales to the default pixel area (defaults width x height), floored
to multiples of 8 so it never exceeds that area; with `--w` or `--h` it sets the other side instead.

`format_flags` writes a request's non-default options back as flags, so that
`parse_prompt(f"{request.prompt} {format_flags(request, defaults)}", defaults)` gives the request
back (for text-to-image requests; the mode and source image are not flags).

Torch-free: the Discord front end imports this module.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from generation.problems import Problem
from generation.requests.numbers import (
    SANE_NUMBER,
    SANE_WHOLE,
    Bounds,
    NumberError,
    format_number,
    parse_number,
)
from generation.requests.request import RANDOM_SEED, GenerationRequest, HiresFix, Mode, Variation
from generation.requests.samplers import UnknownSampler, canonical_sampler
from generation.requests.sizes import ratio_size
from generation.requests.validation import unknown_sampler_fields
from generation.settings import DefaultSettings

__all__ = ["FLAGS", "PromptError", "flag_spellings", "format_flags", "parse_prompt"]

DEFAULT_HIRES_SCALE = 2.0
DEFAULT_VARIATION_STRENGTH = Variation.__dataclass_fields__["strength"].default

# Straight, curly (“ ” „ ‟), fullwidth and guillemet double quotes: phones and keyboards insert
# them for ". Any of them closes any other. Single quotes and apostrophes are text (don’t).
_QUOTES = '"“”„‟＂«»'
_DASH_PREFIXES = ("--", "—", "–")  # ASCII, em dash, en dash
_FLAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_RATIO = re.compile(r"([^:x×/\s]+)\s*[:x×/]\s*([^:x×/\s]+)", re.IGNORECASE)
# Each side of a ratio: 1920:1080 and 0.5:1 work; 0.0001:1 or 10**7:1 would make no image.
RATIO_SIDE = Bounds(0.001, 1_000_000)
_SWITCH_VALUES = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}


class PromptError(Problem, ValueError):
    """The prompt text has an unknown or malformed flag: the code says which mistake, the fields
    the flag (its canonical name, without dashes) and the text given."""


@dataclass(frozen=True)
class _Flag:
    name: str  # canonical, without dashes
    kind: str  # int | float | text | ratio | switch | hires

    @property
    def bounds(self) -> Bounds:
        """Sanity bounds of its numbers (validation applies the server's limits)."""
        return SANE_WHOLE if self.kind == "int" else SANE_NUMBER


_FLAG_LIST = (
    _Flag("ar", "ratio"),
    _Flag("w", "int"),
    _Flag("h", "int"),
    _Flag("seed", "int"),
    _Flag("no", "text"),
    _Flag("steps", "int"),
    _Flag("cfg", "float"),
    _Flag("sampler", "text"),
    _Flag("n", "int"),
    _Flag("tile", "switch"),
    _Flag("hires", "hires"),
    _Flag("hires-strength", "float"),
    _Flag("hires-steps", "int"),
    _Flag("strength", "float"),
    _Flag("vseed", "int"),
    _Flag("vstrength", "float"),
    _Flag("model", "text"),
)
FLAGS: dict[str, _Flag] = {flag.name: flag for flag in _FLAG_LIST}
_ALIASES = {"aspect": "ar", "width": "w", "height": "h", "count": "n"}


def flag_spellings() -> list[list[str]]:
    """Each flag's names, canonical first, then its aliases: `[["ar", "aspect"], ["w", "width"], ...]`."""
    return [[name, *(alias for alias, target in _ALIASES.items() if target == name)] for name in FLAGS]


# -- scanning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    typed: str  # the flag as the user typed it, e.g. "—Seed"
    name: str  # lower case, "_" as "-", e.g. "seed"
    value: str  # raw text up to the next flag, stripped


def _closing_quote(text: str, start: int) -> int:
    """Index of the quote closing the one at `start`, or -1 when it is never closed."""
    for j in range(start + 1, len(text)):
        if text[j] in _QUOTES:
            return j
    return -1


def _flag_at(text: str, i: int) -> tuple[str, int] | None:
    """The flag starting at `i` as (typed text, end of its name), or None."""
    if i > 0 and not text[i - 1].isspace():
        return None
    for prefix in _DASH_PREFIXES:
        if text.startswith(prefix, i):
            match = _FLAG_NAME.match(text, i + len(prefix))
            if match:
                return text[i : match.end()], match.end()
            return None
    return None


def _hidden_flag(text: str, start: int, end: int) -> int | None:
    """The end of the first flag's name inside the quoted stretch text[start:end], or None."""
    for j in range(start + 1, end):
        found = _flag_at(text, j)
        if found:
            return found[1]
    return None


def _scan(text: str) -> tuple[str, list[_Token]]:
    """Split the text into the prompt and the flags with their raw values.

    Quotes pair up left to right. With an odd number of quote marks one of them is stray (a
    phone's curly quote, an inch mark), and a quoted stretch that holds a flag may be that
    stray quote swallowing the flags after it: that is refused (`prompt.unbalanced_quote`,
    naming the quote that opens the stretch) rather than guessed. A stray quote that hides no
    flag (`a 12" record --ar 1:1`) is text."""
    odd = sum(text.count(q) for q in _QUOTES) % 2 == 1
    starts: list[tuple[int, str, int]] = []  # (start, typed, name end)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _QUOTES:
            end = _closing_quote(text, i)
            if end != -1:
                hidden = _hidden_flag(text, i, end) if odd else None
                if hidden is not None:
                    raise PromptError(
                        "prompt.unbalanced_quote",
                        quote=ch,
                        count=sum(text.count(q) for q in _QUOTES),
                        near=text[i:hidden],
                    )
                i = end + 1
                continue
        found = _flag_at(text, i)
        if found:
            typed, end = found
            starts.append((i, typed, end))
            i = end
            continue
        i += 1
    prompt_end = starts[0][0] if starts else len(text)
    prompt = text[:prompt_end].strip().rstrip(",").strip()
    tokens = []
    for k, (_start, typed, name_end) in enumerate(starts):
        value_end = starts[k + 1][0] if k + 1 < len(starts) else len(text)
        value = text[name_end:value_end]
        if value.startswith("="):
            value = value[1:]
        name = typed.lstrip("-—–").lower().replace("_", "-")
        tokens.append(_Token(typed, name, value.strip()))
    return prompt, tokens


def _unquote(value: str) -> str:
    """Remove one pair of quotes around the whole value."""
    if len(value) >= 2 and value[0] in _QUOTES and _closing_quote(value, 0) == len(value) - 1:
        return value[1:-1]
    return value


def _words(value: str) -> list[str]:
    """Whitespace-separated words; a quoted stretch is one word (its quotes removed)."""
    words: list[str] = []
    current = ""
    i = 0
    while i < len(value):
        ch = value[i]
        if ch in _QUOTES and (end := _closing_quote(value, i)) != -1:
            current += value[i + 1 : end]
            i = end + 1
            continue
        if ch.isspace():
            if current:
                words.append(current)
            current = ""
        else:
            current += ch
        i += 1
    if current:
        words.append(current)
    return words


# -- values ----------------------------------------------------------------------------------


def _fail(flag: _Flag, value: str | None) -> PromptError:
    """The flag's value is missing (None) or not of its kind."""
    return PromptError("prompt.bad_value", flag=flag.name, kind=flag.kind, value=value or None)


def _one_word(flag: _Flag, token: _Token, *, optional: bool = False) -> str | None:
    words = _words(token.value.rstrip(",").rstrip())
    if not words:
        if optional:
            return None
        raise _fail(flag, None)
    if len(words) > 1:
        raise PromptError("prompt.text_after_value", flag=flag.name, value=words[0], text=" ".join(words[1:]))
    return words[0]


def _number(flag: _Flag, word: str, bounds: Bounds | None = None) -> int | float:
    """The flag's number, within sanity bounds (NaN, infinity and 400-digit numbers refused)."""
    try:
        return parse_number(word, bounds or flag.bounds)
    except NumberError as exc:
        raise _bad_number(flag, word, exc) from None


def _bad_number(flag: _Flag, word: str, exc: NumberError) -> PromptError:
    reason = None if exc.code == "number.not_a_number" else exc.code.removeprefix("number.")
    return PromptError(
        "prompt.bad_value",
        flag=flag.name,
        kind=flag.kind,
        value=word,
        reason=reason,
        digits=exc.fields["digits"],
    )


def _int(flag: _Flag, word: str) -> int:
    if word.lower() == "random" and flag.name == "seed":
        return RANDOM_SEED
    return int(_number(flag, word))


def _float(flag: _Flag, word: str) -> float:
    return float(_number(flag, word))


def _ratio(flag: _Flag, word: str) -> tuple[float, float]:
    match = _RATIO.fullmatch(word)
    if not match:
        raise _fail(flag, word)
    try:
        rw, rh = (float(parse_number(side)) for side in match.groups())
        if rw <= 0 or rh <= 0:
            raise PromptError("prompt.ratio_not_positive", flag=flag.name, value=word)
        for side in match.groups():
            parse_number(side, RATIO_SIDE)
    except NumberError as exc:
        raise _bad_number(flag, word, exc) from None
    return rw, rh


# -- parsing ---------------------------------------------------------------------------------


def _lookup(token: _Token) -> _Flag:
    name = _ALIASES.get(token.name, token.name)
    flag = FLAGS.get(name)
    if flag is None:
        known = list(FLAGS) + list(_ALIASES)
        close = difflib.get_close_matches(token.name, known, n=1, cutoff=0.7)
        raise PromptError(
            "prompt.unknown_flag",
            typed=token.typed,
            suggested=_ALIASES.get(close[0], close[0]) if close else None,
            flags=flag_spellings(),
        )
    return flag


def parse_prompt(
    text: str, defaults: DefaultSettings, *, base: GenerationRequest | None = None
) -> GenerationRequest:
    """Parse `prompt --flag value ...` into a request; raises PromptError for a bad flag."""
    prompt, tokens = _scan(text)
    values: dict[str, object] = {}
    typed_as: dict[str, str] = {}
    for token in tokens:
        flag = _lookup(token)
        if flag.name in values:
            first = typed_as[flag.name]
            same = first.lstrip("-—–").lower() == token.name
            raise PromptError(
                "prompt.flag_twice", flag=flag.name, typed=None if same else [first, token.typed]
            )
        typed_as[flag.name] = token.typed
        values[flag.name] = _parse_value(flag, token)

    if base is None:
        request = GenerationRequest(
            prompt=prompt,
            negative_prompt=defaults.negative_prompt,
            width=defaults.width,
            height=defaults.height,
            steps=defaults.steps,
            cfg_scale=defaults.cfg_scale,
            sampler=defaults.sampler,
            count=defaults.count,
            strength=defaults.img2img_strength,
        )
    else:
        request = base.replace(prompt=prompt or base.prompt)

    changes: dict[str, object] = {}
    width, height = values.get("w"), values.get("h")
    if "ar" in values:
        ratio_w, ratio_h = values["ar"]  # type: ignore[misc]
        if width is not None and height is not None:
            raise PromptError("prompt.ratio_with_both_sides", flag="ar")
        area = defaults.width * defaults.height
        width, height = ratio_size(ratio_w, ratio_h, area, width=width, height=height)  # type: ignore[arg-type]
    if width is not None:
        changes["width"] = width
    if height is not None:
        changes["height"] = height
    simple = {"seed": "seed", "no": "negative_prompt", "steps": "steps", "cfg": "cfg_scale"}
    simple |= {"sampler": "sampler", "n": "count", "tile": "tiling", "strength": "strength", "model": "model"}
    for flag_name, field_name in simple.items():
        if flag_name in values:
            changes[field_name] = values[flag_name]

    if any(name in values for name in ("hires", "hires-strength", "hires-steps")):
        hires = request.hires or HiresFix(scale=DEFAULT_HIRES_SCALE, strength=defaults.hires_strength)
        hires_changes: dict[str, object] = {}
        if values.get("hires") is not None:
            hires_changes["scale"] = values["hires"]
        if "hires-strength" in values:
            hires_changes["strength"] = values["hires-strength"]
        if "hires-steps" in values:
            hires_changes["steps"] = values["hires-steps"]
        changes["hires"] = HiresFix(
            scale=hires_changes.get("scale", hires.scale),  # type: ignore[arg-type]
            strength=hires_changes.get("strength", hires.strength),  # type: ignore[arg-type]
            steps=hires_changes.get("steps", hires.steps),  # type: ignore[arg-type]
        )

    if "vseed" in values or "vstrength" in values:
        current = request.variation
        if "vseed" not in values and current is None:
            raise PromptError("prompt.variation_strength_without_seed", flag="vstrength", needs="vseed")
        seed = values.get("vseed", current.seed if current else None)
        strength = values.get("vstrength", current.strength if current else DEFAULT_VARIATION_STRENGTH)
        changes["variation"] = Variation(seed=seed, strength=strength)  # type: ignore[arg-type]

    return request.replace(**changes)


def _text_value(raw: str) -> str | None:
    """A whole-text value (--no, --sampler, --model): None when nothing was given."""
    raw = raw.strip().rstrip(",").rstrip()
    if not raw:
        return None
    return _unquote(raw).strip()


def _parse_value(flag: _Flag, token: _Token) -> object:
    if flag.kind == "text":
        value = _text_value(token.value)
        if value is None or (not value and flag.name != "no"):
            raise _fail(flag, None)
        if flag.name != "no":
            value = " ".join(value.split())
        if flag.name == "sampler":
            try:
                return canonical_sampler(value)
            except UnknownSampler as exc:
                raise PromptError(
                    "prompt.unknown_sampler", **unknown_sampler_fields(exc), flag="sampler"
                ) from None
        return value
    if flag.kind == "switch":
        word = _one_word(flag, token, optional=True)
        if word is None:
            return True
        if word.lower() not in _SWITCH_VALUES:
            raise _fail(flag, word)
        return _SWITCH_VALUES[word.lower()]
    if flag.kind == "hires":
        word = _one_word(flag, token, optional=True)
        if word is None:
            return None
        return _float(flag, word[:-1] if word.lower().endswith("x") else word)
    word = _one_word(flag, token)
    assert word is not None
    if flag.kind == "int":
        return _int(flag, word)
    if flag.kind == "float":
        return _float(flag, word)
    if flag.kind == "ratio":
        return _ratio(flag, word)
    raise AssertionError(flag.kind)


# -- formatting ------------------------------------------------------------------------------


def _text_flag(name: str, value: str, *, quote_spaces: bool = False) -> str:
    """`--name value`, quoting the value when it would not come back unchanged unquoted."""
    candidates = [value, f'"{value}"'] if value else ['""']
    if quote_spaces and any(ch.isspace() for ch in value):
        candidates.reverse()
    for candidate in candidates:
        try:
            prompt, tokens = _scan(f"x --{name} {candidate}")
        except PromptError:  # a stray quote that would hide a flag: not this spelling
            continue
        if prompt == "x" and len(tokens) == 1 and _text_value(tokens[0].value) == value:
            return f"--{name} {candidate}"
    return f"--{name} {candidates[-1]}"


def format_flags(request: GenerationRequest, defaults: DefaultSettings) -> str:
    """The request's non-default options as flags, e.g. `--ar`-free `--w 768 --seed 42 --tile`."""
    parts: list[str] = []
    if request.width != defaults.width:
        parts.append(f"--w {request.width}")
    if request.height != defaults.height:
        parts.append(f"--h {request.height}")
    if request.seed != RANDOM_SEED:
        parts.append(f"--seed {request.seed}")
    if request.steps != defaults.steps:
        parts.append(f"--steps {request.steps}")
    if request.cfg_scale != defaults.cfg_scale:
        parts.append(f"--cfg {format_number(request.cfg_scale)}")
    if request.sampler != defaults.sampler:
        parts.append(_text_flag("sampler", request.sampler, quote_spaces=True))
    if request.count != defaults.count:
        parts.append(f"--n {request.count}")
    if request.tiling:
        parts.append("--tile")
    if request.hires is not None:
        parts.append(f"--hires {format_number(request.hires.scale)}")
        if request.hires.strength != defaults.hires_strength:
            parts.append(f"--hires-strength {format_number(request.hires.strength)}")
        if request.hires.steps is not None:
            parts.append(f"--hires-steps {request.hires.steps}")
    default_strength = (
        defaults.upscale_strength if request.mode is Mode.UPSCALE else defaults.img2img_strength
    )
    if request.strength != default_strength:
        parts.append(f"--strength {format_number(request.strength)}")
    if request.variation is not None:
        parts.append(
            f"--vseed {request.variation.seed} --vstrength {format_number(request.variation.strength)}"
        )
    if request.model is not None:
        parts.append(_text_flag("model", request.model, quote_spaces=True))
    if request.negative_prompt != defaults.negative_prompt:
        parts.append(_text_flag("no", request.negative_prompt))
    return " ".join(parts)
