"""Parse the prompt text users type, Midjourney style, into a `GenerationRequest`.

    a lighthouse at dusk --ar 16:9 --seed 42 --no fog, boats --sampler "DPM++ 2M Karras" --hires 2

The rules:

- A flag is `--name` (or `—name` / `–name`: phones turn `--` into a dash) at the start of the text
  or after whitespace, with a letter right after the dashes. `--name=value` works too. Flag names
  are case-insensitive. Text inside double quotes (`"..."`, or curly quotes) is never a flag.
- The prompt is everything before the first flag (surrounding spaces and trailing commas dropped).
- Each flag's value is the text up to the next flag. `--no`, `--sampler` and `--model` take all of
  it (so `--no fog, boats` and `--sampler DPM++ 2M Karras` work unquoted); one pair of quotes around
  the whole value is removed (`--no ""` asks for no negative prompt at all). Every other flag takes
  one word (`--hires` and `--tile` may take none), and any further text after it is an error, as
  the prompt only ever comes before the flags.
- A flag given twice (or under two spellings, like `--w` and `--width`) is an error.
- The parser checks syntax only (a whole number, a ratio...); ranges and server limits are checked
  by `generation.validation.validate`.

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
import math
import re
from dataclasses import dataclass

from generation.requests.request import RANDOM_SEED, GenerationRequest, HiresFix, Mode, Variation
from generation.settings import DefaultSettings

__all__ = ["FLAGS", "PromptError", "canonical_sampler_or_keep", "format_flags", "parse_prompt"]

DEFAULT_HIRES_SCALE = 2.0
DEFAULT_VARIATION_STRENGTH = Variation.__dataclass_fields__["strength"].default

_QUOTES = '"“”„'
_DASH_PREFIXES = ("--", "—", "–")  # ASCII, em dash, en dash
_FLAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_RATIO = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*[:x×/]\s*(\d+(?:\.\d+)?|\.\d+)", re.IGNORECASE)
_SWITCH_VALUES = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}


class PromptError(ValueError):
    """The prompt text has an unknown or malformed flag; the message says what is allowed."""


@dataclass(frozen=True)
class _Flag:
    name: str  # canonical, without dashes
    kind: str  # int | float | text | ratio | switch | hires
    what: str  # what the value should be, for messages


_FLAG_LIST = (
    _Flag("ar", "ratio", "a ratio like 16:9"),
    _Flag("w", "int", "a width in pixels like 768"),
    _Flag("h", "int", "a height in pixels like 768"),
    _Flag("seed", "int", "a whole number from 0 to 4294967294, or -1 for random"),
    _Flag("no", "text", "the things to leave out, like --no fog, boats"),
    _Flag("steps", "int", "a whole number of steps like 30"),
    _Flag("cfg", "float", "a number like 7 or 6.5"),
    _Flag("sampler", "text", 'a sampler name like "DPM++ 2M Karras"'),
    _Flag("n", "int", "a number of images from 1 to 4"),
    _Flag("tile", "switch", "no value (or on/off)"),
    _Flag("hires", "hires", "an optional upscale factor like 1.5 or 2"),
    _Flag("hires-strength", "float", "a number between 0 and 1 like 0.5"),
    _Flag("hires-steps", "int", "a whole number of steps like 10"),
    _Flag("strength", "float", "a number between 0 and 1 like 0.6"),
    _Flag("vseed", "int", "a whole number from 0 to 4294967294"),
    _Flag("vstrength", "float", "a number between 0 and 1 like 0.1"),
    _Flag("model", "text", "a model name"),
)
FLAGS: dict[str, _Flag] = {flag.name: flag for flag in _FLAG_LIST}
_ALIASES = {"aspect": "ar", "width": "w", "height": "h", "count": "n"}
_FLAG_HELP = ", ".join(
    "/".join([f"--{name}"] + [f"--{alias}" for alias, target in _ALIASES.items() if target == name])
    for name in FLAGS
)


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


def _scan(text: str) -> tuple[str, list[_Token]]:
    """Split the text into the prompt and the flags with their raw values."""
    starts: list[tuple[int, str, int]] = []  # (start, typed, name end)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _QUOTES:
            end = _closing_quote(text, i)
            if end != -1:
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
    if value:
        return PromptError(f"--{flag.name} needs {flag.what}, got {value!r}")
    return PromptError(f"--{flag.name} needs {flag.what}")


def _one_word(flag: _Flag, token: _Token, *, optional: bool = False) -> str | None:
    words = _words(token.value.rstrip(",").rstrip())
    if not words:
        if optional:
            return None
        raise _fail(flag, None)
    if len(words) > 1:
        raise PromptError(
            f"unexpected text {' '.join(words[1:])!r} after --{flag.name} {words[0]}: "
            f"--{flag.name} takes one value, and the prompt goes before the first flag"
        )
    return words[0]


def _int(flag: _Flag, word: str) -> int:
    if word.lower() == "random" and flag.name == "seed":
        return RANDOM_SEED
    if not _INT.fullmatch(word):
        raise _fail(flag, word)
    return int(word)


def _float(flag: _Flag, word: str) -> float:
    if not _FLOAT.fullmatch(word):
        raise _fail(flag, word)
    return float(word)


def _round_down8(x: float) -> int:
    return max(8, int(x) // 8 * 8)


def _round8(x: float) -> int:
    return max(8, int(x / 8 + 0.5) * 8)


def canonical_sampler_or_keep(name: str) -> str:
    """The canonical A1111 name via `generation.samplers`, or the name itself when that module
    is not there. Raises ValueError (the samplers module's message) for an unknown sampler."""
    name = " ".join(name.split())
    try:
        from generation.requests.samplers import canonical_sampler
    except ImportError:
        return name
    try:
        canonical = canonical_sampler(name)
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}") from None
    if not canonical:
        raise ValueError(f"unknown sampler {name!r}")
    return canonical


# -- parsing ---------------------------------------------------------------------------------


def _lookup(token: _Token) -> _Flag:
    name = _ALIASES.get(token.name, token.name)
    flag = FLAGS.get(name)
    if flag is None:
        known = list(FLAGS) + list(_ALIASES)
        close = difflib.get_close_matches(token.name, known, n=1, cutoff=0.7)
        hint = f" (did you mean --{_ALIASES.get(close[0], close[0])}?)" if close else ""
        raise PromptError(f"unknown flag {token.typed}{hint}; flags are {_FLAG_HELP}")
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
            also = "" if first.lstrip("-—–").lower() == token.name else f" (as {first} and {token.typed})"
            raise PromptError(f"--{flag.name} is given twice{also}; give each flag once")
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
        rw, rh = values["ar"]  # type: ignore[misc]
        if width is not None and height is not None:
            raise PromptError(
                "--ar cannot be used with both --w and --h; give --ar with one of them, or neither"
            )
        if width is not None:
            height = _round8(width * rh / rw)  # type: ignore[operator]
        elif height is not None:
            width = _round8(height * rw / rh)  # type: ignore[operator]
        else:
            area = defaults.width * defaults.height
            width = _round_down8(math.sqrt(area * rw / rh))
            height = _round_down8(math.sqrt(area * rh / rw))
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
            raise PromptError("--vstrength needs --vseed too: the seed to vary towards, like --vseed 1234")
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
                return canonical_sampler_or_keep(value)
            except ValueError as exc:
                raise PromptError(f"--sampler: {exc}") from None
        return value
    if flag.kind == "switch":
        word = _one_word(flag, token, optional=True)
        if word is None:
            return True
        if word.lower() not in _SWITCH_VALUES:
            raise PromptError(f"--{flag.name} takes no value (or on/off), got {word!r}")
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
        match = _RATIO.fullmatch(word)
        if not match:
            raise _fail(flag, word)
        rw, rh = float(match.group(1)), float(match.group(2))
        if rw <= 0 or rh <= 0:
            raise PromptError(f"--ar needs two numbers above 0, like 16:9, got {word!r}")
        return rw, rh
    raise AssertionError(flag.kind)


# -- formatting ------------------------------------------------------------------------------


def _num(x: float) -> str:
    """7.0 -> '7', 6.5 -> '6.5', 0.1 -> '0.1'."""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def _text_flag(name: str, value: str, *, quote_spaces: bool = False) -> str:
    """`--name value`, quoting the value when it would not come back unchanged unquoted."""
    candidates = [value, f'"{value}"'] if value else ['""']
    if quote_spaces and any(ch.isspace() for ch in value):
        candidates.reverse()
    for candidate in candidates:
        prompt, tokens = _scan(f"x --{name} {candidate}")
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
        parts.append(f"--cfg {_num(request.cfg_scale)}")
    if request.sampler != defaults.sampler:
        parts.append(_text_flag("sampler", request.sampler, quote_spaces=True))
    if request.count != defaults.count:
        parts.append(f"--n {request.count}")
    if request.tiling:
        parts.append("--tile")
    if request.hires is not None:
        parts.append(f"--hires {_num(request.hires.scale)}")
        if request.hires.strength != defaults.hires_strength:
            parts.append(f"--hires-strength {_num(request.hires.strength)}")
        if request.hires.steps is not None:
            parts.append(f"--hires-steps {request.hires.steps}")
    default_strength = (
        defaults.upscale_strength if request.mode is Mode.UPSCALE else defaults.img2img_strength
    )
    if request.strength != default_strength:
        parts.append(f"--strength {_num(request.strength)}")
    if request.variation is not None:
        parts.append(f"--vseed {request.variation.seed} --vstrength {_num(request.variation.strength)}")
    if request.model is not None:
        parts.append(_text_flag("model", request.model, quote_spaces=True))
    if request.negative_prompt != defaults.negative_prompt:
        parts.append(_text_flag("no", request.negative_prompt))
    return " ".join(parts)
