"""The web UI's `parameters` metadata: written into our images, read back from anyone's.

Metadata follows the AUTOMATIC1111 web UI so that its "PNG Info" tab, `sd-parsers` and the like
read our images, and we read theirs:

    <prompt>
    Negative prompt: <negative>          (left out when empty)
    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x512, Model hash: 43f0501ac4, Model: name

followed, when they apply, by `Denoising strength`, `Hires upscale`, `Hires steps`, `Hires
upscaler`, `Variation seed`, `Variation seed strength`, `Tiling` and `Upscale by` (ours, for
upscale jobs). A value is JSON-quoted when it contains `,`, `:` or a newline. PNGs carry it in a
`parameters` text chunk; WebP and JPEG uploads in the EXIF UserComment, as the web UI does.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import BinaryIO, TypeVar

from PIL import ExifTags, Image, PngImagePlugin, UnidentifiedImageError

from generation.problems import Problem
from generation.requests.numbers import SANE_NUMBER, SANE_WHOLE, NumberError, format_number, parse_number
from generation.requests.request import GenerationRequest, HiresFix, Mode, Variation
from generation.requests.samplers import UnknownSampler, canonical_sampler

__all__ = [
    "ParametersError",
    "format_parameters",
    "parse_parameters",
    "read_parameters",
    "request_from_parameters",
]
T = TypeVar("T")

PARAMETERS_KEY = "parameters"
DEFAULT_HIRES_UPSCALER = "Latent"


class ParametersError(Problem, ValueError):
    """The `parameters` text has a value that cannot be read back: `key` (as written, e.g.
    `Steps`), the `value` found and the `kind` of value it should be (int, number or size); for a
    number past its bounds also the `reason` (`nan`, `infinite`, `too_large`...) and, for a long
    one, its `digits`. Numbers are read with `generation.requests.numbers`, as typed flags are."""


# -- the `parameters` text -------------------------------------------------------------------

# The web UI's own pattern for one `Key: value` item (infotext_utils.re_param_code).
_RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_RE_SIZE = re.compile(r"\s*(\d+)\s*[x×]\s*(\d+)\s*")
_NEGATIVE = "Negative prompt:"
# Schedule types that older web UI versions wrote as part of the sampler's name.
_NAMED_SCHEDULES = ("Karras", "Exponential")


def _quote(value: object) -> str:
    text = str(value)
    if "," not in text and ":" not in text and "\n" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _unquote(text: str) -> str:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def format_parameters(
    request: GenerationRequest,
    seed: int,
    model_name: str | None,
    model_hash: str | None,
    *,
    hires_upscaler: str = DEFAULT_HIRES_UPSCALER,
) -> str:
    """The web UI's `parameters` text for one image of the request, made with `seed`."""
    items: list[tuple[str, object]] = [
        ("Steps", request.steps),
        ("Sampler", request.sampler),
        ("CFG scale", format_number(request.cfg_scale)),
        ("Seed", seed),
        ("Size", f"{request.width}x{request.height}"),
    ]
    if model_hash:
        items.append(("Model hash", model_hash))
    if model_name:
        items.append(("Model", model_name))
    if request.mode is not Mode.TXT2IMG:
        items.append(("Denoising strength", format_number(request.strength)))
    elif request.hires is not None:
        items.append(("Denoising strength", format_number(request.hires.strength)))
    if request.hires is not None:
        items.append(("Hires upscale", format_number(request.hires.scale)))
        if request.hires.steps is not None:
            items.append(("Hires steps", request.hires.steps))
        items.append(("Hires upscaler", hires_upscaler))
    if request.variation is not None:
        items.append(("Variation seed", request.variation.seed))
        items.append(("Variation seed strength", format_number(request.variation.strength)))
    if request.tiling:
        items.append(("Tiling", "True"))
    if request.mode is Mode.UPSCALE:
        items.append(("Upscale by", format_number(request.upscale_factor)))
    lines = [request.prompt]
    if request.negative_prompt:
        lines.append(f"{_NEGATIVE} {request.negative_prompt}")
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in items))
    return "\n".join(lines)


def parse_parameters(text: str) -> dict[str, str]:
    """The `parameters` text as a dict: `prompt`, `negative_prompt`, then each key as written
    (`Steps`, `Sampler`, ...), values unquoted. A newer `Sampler: DPM++ 2M, Schedule type: Karras`
    reads as `Sampler: DPM++ 2M Karras` (`Schedule type` stays in the dict too)."""
    *lines, last = text.strip().replace("\r\n", "\n").split("\n")
    if len(_RE_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in lines:
        line = line.strip()
        if line.startswith(_NEGATIVE):
            in_negative = True
            line = line[len(_NEGATIVE) :].strip()
        (negative if in_negative else prompt).append(line)
    result = {"prompt": "\n".join(prompt), "negative_prompt": "\n".join(negative)}
    for key, value in _RE_PARAM.findall(last):
        result[key.strip()] = _unquote(value.strip())
    schedule = result.get("Schedule type", "").strip()
    sampler = result.get("Sampler")
    if sampler and schedule in _NAMED_SCHEDULES and not sampler.endswith(f" {schedule}"):
        result["Sampler"] = f"{sampler} {schedule}"
    return result


def _get(params: dict[str, str], key: str, convert: Callable[[str], T], kind: str) -> T | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        return convert(value.strip())
    except NumberError as exc:  # NaN, infinity, 4,400 digits: named, as for a typed flag
        named: dict[str, object] = {}
        if exc.code != "number.not_a_number":
            named["reason"] = exc.code.removeprefix("number.")
        if exc.fields["digits"]:
            named["digits"] = exc.fields["digits"]
        raise ParametersError("image.bad_parameter", key=key, value=value, kind=kind, **named) from None
    except ValueError:
        raise ParametersError("image.bad_parameter", key=key, value=value, kind=kind) from None


def _whole(value: str) -> int:
    return int(parse_number(value, SANE_WHOLE))


def _finite(value: str) -> float:
    return float(parse_number(value, SANE_NUMBER))


def request_from_parameters(text: str) -> GenerationRequest:
    """A request that makes the image again: one image, its seed, model, sampler and options.

    Mode: `Hires upscale` means text-to-image with a hires fix (`Denoising strength` is the hires
    strength); `Upscale by` an upscale; `Denoising strength` alone img2img. The source image of
    img2img and upscale is not in the text: the caller sets `source_image`. Keys left out keep the
    request's defaults. Raises ParametersError for an unreadable value."""
    params = parse_parameters(text)
    changes: dict[str, object] = {"negative_prompt": params["negative_prompt"], "count": 1}
    if (steps := _get(params, "Steps", _whole, "int")) is not None:
        changes["steps"] = steps
    if (cfg := _get(params, "CFG scale", _finite, "number")) is not None:
        changes["cfg_scale"] = cfg
    if (seed := _get(params, "Seed", _whole, "int")) is not None:
        changes["seed"] = seed
    if (size := _get(params, "Size", _parse_size, "size")) is not None:
        changes["width"], changes["height"] = size
    if params.get("Model"):
        changes["model"] = params["Model"]
    if params.get("Sampler"):
        changes["sampler"] = _sampler(params["Sampler"], params.get("Schedule type", ""))
    if params.get("Tiling", "").strip().lower() == "true":
        changes["tiling"] = True

    strength = _get(params, "Denoising strength", _finite, "number")
    scale = _get(params, "Hires upscale", _finite, "number")
    upscale_by = _get(params, "Upscale by", _finite, "number")
    if scale is not None:
        hires_steps = _get(params, "Hires steps", _whole, "int")
        changes["hires"] = HiresFix(
            scale=scale,
            strength=strength if strength is not None else HiresFix.__dataclass_fields__["strength"].default,
            steps=hires_steps or None,  # the web UI writes 0 for "same as Steps"
        )
    elif upscale_by is not None:
        changes["mode"] = Mode.UPSCALE
        changes["upscale_factor"] = upscale_by
        if strength is not None:
            changes["strength"] = strength
    elif strength is not None:
        changes["mode"] = Mode.IMG2IMG
        changes["strength"] = strength

    variation_seed = _get(params, "Variation seed", _whole, "int")
    if variation_seed is not None:
        variation_strength = _get(params, "Variation seed strength", _finite, "number")
        if variation_strength is None:
            changes["variation"] = Variation(seed=variation_seed)
        elif variation_strength > 0:
            changes["variation"] = Variation(seed=variation_seed, strength=variation_strength)
    return GenerationRequest(prompt=params["prompt"]).replace(**changes)


def _parse_size(value: str) -> tuple[int, int]:
    match = _RE_SIZE.fullmatch(value)
    if not match:
        raise ValueError(value)
    return _whole(match.group(1)), _whole(match.group(2))


def _sampler(name: str, schedule: str) -> str:
    """The canonical name; with an unknown schedule type, the sampler's name without it."""
    try:
        return canonical_sampler(name)
    except UnknownSampler:
        pass
    if schedule and name.endswith(f" {schedule}"):
        try:
            return canonical_sampler(name[: -len(schedule) - 1])
        except UnknownSampler:
            pass
    return name  # validation tells the user if this sampler is not available


def read_parameters(path: str | os.PathLike[str] | BinaryIO) -> str | None:
    """The `parameters` text of an image file (PNG text chunk, or EXIF UserComment in WebP and
    JPEG); None when it has none or is not an image."""
    try:
        with Image.open(path) as image:
            return image_parameters(image)
    except UnidentifiedImageError:
        return None


def image_parameters(image: Image.Image) -> str | None:
    text = image.info.get(PARAMETERS_KEY)
    if isinstance(text, str):
        return text
    if isinstance(text, bytes):
        return text.decode("utf-8", errors="replace")
    try:
        comment = image.getexif().get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.UserComment)
    except Exception:  # a broken EXIF block is no metadata
        return None
    return _decode_user_comment(comment) or None


def encode_user_comment(text: str) -> bytes:
    """The web UI's (piexif's) "unicode" UserComment: a prefix, then UTF-16 big-endian."""
    return b"UNICODE\0" + text.encode("utf-16-be")


def _decode_user_comment(raw: object) -> str | None:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes) or not raw:
        return None
    prefix, body = raw[:8], raw[8:]
    if prefix == b"UNICODE\0":
        # piexif writes big-endian; some writers use little-endian. Text is mostly ASCII, whose
        # high byte (first in big-endian) is zero.
        high_first = body[0::2].count(0) >= body[1::2].count(0)
        return body.decode("utf-16-be" if high_first else "utf-16-le", errors="replace")
    if prefix in (b"ASCII\0\0\0", b"\0" * 8):
        return body.decode("utf-8", errors="replace").rstrip("\0")
    return raw.decode("utf-8", errors="replace").rstrip("\0")


def pnginfo(parameters: str | None) -> PngImagePlugin.PngInfo | None:
    if parameters is None:
        return None
    info = PngImagePlugin.PngInfo()
    info.add_text(PARAMETERS_KEY, parameters)  # iTXt by itself when not Latin-1
    return info
