"""What other tools wrote into their images, read with `sd-parsers`, and a request made from it.

`read_image_parameters(data)` finds the parameters that AUTOMATIC1111's web UI (and this bot: the
same `parameters` text), ComfyUI (`prompt` + `workflow` JSON), InvokeAI (`invokeai_metadata`),
NovelAI (`Comment` JSON beside `Description` and `Source`) or Fooocus wrote, as one
`ImageParameters` whatever the tool. `request_from_image` turns them into a text-to-image request
here: names this bot does not have are mapped to the closest it has (a sampler by its spelling
in that tool, a model by name), numbers beyond this server's limits brought within them, and
each change noted as a `Problem` (not raised) for the front end to word.

Torch-free: the Discord front end imports this module.
"""

from __future__ import annotations

import difflib
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from PIL import Image, UnidentifiedImageError

from generation.images.metadata import ParametersError, request_from_parameters
from generation.problems import Problem
from generation.requests.request import MAX_SEED, GenerationRequest, Mode
from generation.requests.samplers import SAMPLER_NAMES, UnknownSampler, canonical_sampler
from generation.requests.sizes import largest_fitting_size, round_to_8
from generation.settings import Settings

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageParameters",
    "Reading",
    "ReadingError",
    "closest_model",
    "closest_sampler",
    "read_image_parameters",
    "request_from_image",
]

DEFAULT_MAX_PIXELS = 40_000_000  # reading text after the pixels decodes them: refuse bombs first
A1111 = "AUTOMATIC1111"


class ReadingError(Problem, ValueError):
    """The file cannot be read for parameters: not an image, or too many pixels to open."""


@dataclass(frozen=True)
class ImageParameters:
    """The parameters found in an image, whichever tool wrote them (None: not written)."""

    tool: str  # AUTOMATIC1111 | ComfyUI | InvokeAI | NovelAI | Fooocus (sd-parsers' names)
    prompt: str
    negative_prompt: str = ""
    sampler: str | None = None  # as the tool names it; a separate schedule as ", Schedule type: x"
    steps: int | None = None
    cfg_scale: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    model: str | None = None
    model_hash: str | None = None
    parameters: str | None = None  # the web UI's `parameters` text, when that is what was written
    image_size: tuple[int, int] | None = None  # the image's own size


@dataclass(frozen=True)
class Reading:
    """A request made from an image's parameters, and what had to change on the way."""

    request: GenerationRequest
    notes: tuple[Problem, ...] = field(default=())


# -- reading -----------------------------------------------------------------------------------


def read_image_parameters(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageParameters | None:
    """The parameters an image file carries, or None when it has none that any tool wrote.
    Raises ReadingError for a file that is not an image or has more than `max_pixels` pixels."""
    from sd_parsers import Eagerness, ParserManager

    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise ReadingError("reading.not_an_image") from exc
    with image:
        if image.width * image.height > max_pixels:
            raise ReadingError(
                "reading.too_many_pixels", width=image.width, height=image.height, max=max_pixels
            )
        try:
            # FAST reads the chunks before the pixels; DEFAULT also those after them (PNG text
            # chunks may follow the image data), which decodes the pixels.
            info = ParserManager(eagerness=Eagerness.FAST).parse(image)
            if info is None:
                info = ParserManager(eagerness=Eagerness.DEFAULT).parse(image)
        except (OSError, ValueError, SyntaxError) as exc:  # a truncated or broken file
            raise ReadingError("reading.not_an_image") from exc
        size = image.size
    if info is None:
        return None
    return _parameters(info, size)


def _parameters(info: Any, size: tuple[int, int]) -> ImageParameters:
    tool = str(getattr(info.generator, "value", info.generator))
    raw = info.raw_parameters or {}
    text = raw.get("parameters") if tool == A1111 else None
    sampler = info.samplers[0] if info.samplers else None
    params: dict[str, Any] = dict(sampler.parameters) if sampler is not None else {}
    meta = info.metadata or {}
    model = sampler.model if sampler is not None else None
    width, height = _size(tool, params, meta, raw)
    return ImageParameters(
        tool=tool,
        prompt=_text(info.full_prompt),
        negative_prompt=_text(info.full_negative_prompt),
        sampler=_sampler_name(sampler.name, params) if sampler is not None else None,
        steps=_int(_first(params, meta, "steps")),
        cfg_scale=_float(_first(params, meta, "cfg_scale")),
        seed=_int(_first(params, meta, "seed")),
        width=width,
        height=height,
        model=(model.name if model is not None else None) or _invokeai_model(tool, raw),
        model_hash=model.hash if model is not None else None,
        parameters=text if isinstance(text, str) else None,
        image_size=size,
    )


def _first(params: dict[str, Any], meta: dict[str, Any], key: str) -> Any:
    """A sampler parameter, or the same key among the tool's other metadata (NovelAI keeps its
    steps there)."""
    return params.get(key, meta.get(key))


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _sampler_name(name: Any, params: dict[str, Any]) -> str | None:
    """The sampler as the tool wrote it, with a separate schedule (A1111's `Schedule type`,
    ComfyUI's `scheduler`, NovelAI's `noise_schedule`) joined the web UI's way."""
    if not isinstance(name, str) or not name.strip() or name == "unknown":
        return None
    schedule = params.get("scheduler") or params.get("noise_schedule")
    if isinstance(schedule, str) and schedule.strip() and schedule.strip().lower() != "native":
        return f"{name.strip()}, Schedule type: {schedule.strip()}"
    return name.strip()


def _size(tool: str, params: dict[str, Any], meta: dict[str, Any], raw: dict[str, Any]) -> tuple[Any, Any]:
    if tool == A1111:
        found = re.search(r"\bSize:\s*(\d+)\s*x\s*(\d+)", str(raw.get("parameters", "")))
        return (int(found.group(1)), int(found.group(2))) if found else (None, None)
    for source in (params, meta):
        width, height = _int(source.get("width")), _int(source.get("height"))
        if width and height:
            return width, height
    for nodes in meta.values():  # ComfyUI: the latent image node, left in the metadata
        for node in nodes if isinstance(nodes, list) else [nodes]:
            if isinstance(node, dict) and _int(node.get("width")) and _int(node.get("height")):
                return _int(node["width"]), _int(node["height"])
    return None, None


def _invokeai_model(tool: str, raw: dict[str, Any]) -> str | None:
    """InvokeAI 4 and later call the model's name `name` (sd-parsers reads 3's `model_name`)."""
    if tool != "InvokeAI":
        return None
    try:
        model = json.loads(raw["invokeai_metadata"])["model"]
        return str(model.get("name") or model.get("model_name")) or None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None and number == int(number) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip()[:40])  # a bounded text: no 4,000-digit numbers
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# -- names this bot has ------------------------------------------------------------------------

# Other tools' sampler names that the web UI's spellings do not cover (canonical_sampler reads
# `dpmpp_2m`, `k_euler_ancestral`, `euler_a` and `DPM++ 2M, Schedule type: Karras` already).
_FOREIGN_SAMPLERS = {
    "kdpm_2": "DPM2",
    "kdpm_2_a": "DPM2 a",
    "dpm_2": "DPM2",
    "dpm_2_ancestral": "DPM2 a",
    "unipc": "UniPC",
    "uni_pc": "UniPC",
    "uni_pc_bh2": "UniPC",
    "pndm": "PLMS",
    "ddim_v3": "DDIM",
    "k_dpmpp_2s_ancestral": "DPM++ 2M",
    "dpmpp_2s_ancestral": "DPM++ 2M",
    "dpmpp_3m_sde": "DPM++ 2M SDE",
    "euler_ancestral_cfg_pp": "Euler a",
    "euler_cfg_pp": "Euler",
    "deis": "DPM++ 2M",
}
_SCHEDULE = re.compile(r",\s*Schedule type:\s*(.+)$", re.IGNORECASE)


def closest_sampler(name: str) -> tuple[str, bool] | None:
    """This bot's sampler for another tool's name, and whether it is the same one (False: only
    the closest); None when nothing is close."""
    try:
        return canonical_sampler(name), True
    except UnknownSampler:
        pass
    schedule_match = _SCHEDULE.search(name)
    base = name[: schedule_match.start()] if schedule_match else name
    schedule = schedule_match.group(1).strip().lower() if schedule_match else ""
    key = base.strip().lower().replace(" ", "_")
    if key.endswith("_k"):  # InvokeAI: dpmpp_2m_k is DPM++ 2M Karras
        key, schedule = key[:-2], "karras"
    karras = schedule == "karras"
    for candidate in (key, key.removeprefix("k_")):
        for spelling in ([f"{candidate}_karras"] if karras else []) + [candidate]:
            try:
                return canonical_sampler(spelling), not schedule or karras
            except UnknownSampler:
                pass
        mapped = _FOREIGN_SAMPLERS.get(candidate)
        if mapped is not None:
            if karras and f"{mapped} Karras" in SAMPLER_NAMES:
                mapped = f"{mapped} Karras"
            return mapped, False
    close = difflib.get_close_matches(base.strip(), SAMPLER_NAMES, n=1, cutoff=0.6)
    return (close[0], False) if close else None


def closest_model(name: str, names: Sequence[str]) -> tuple[str, bool] | None:
    """This bot's model for another tool's checkpoint name, and whether it is the same name
    (False: only the closest). `SDXL/sd_xl_base_1.0.safetensors` is `sd_xl_base_1.0` (folders
    and extensions dropped, case and separators ignored); beyond that only a near-identical name
    (a typo) is taken: similar names of different checkpoints ("Stable Diffusion XL" and
    "stable-diffusion-v1-5") make different pictures, so None rather than a wrong guess."""
    if name in names:
        return name, True
    stem = PurePath(name.replace("\\", "/")).name
    for suffix in (".safetensors", ".ckpt", ".pt", ".bin", ".pth"):
        stem = stem.removesuffix(suffix)
    keyed = {_model_key(n): n for n in names}
    if _model_key(stem) in keyed:
        return keyed[_model_key(stem)], True
    close = difflib.get_close_matches(_model_key(stem), list(keyed), n=1, cutoff=0.92)
    return (keyed[close[0]], False) if close else None


def _model_key(name: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", name.casefold())


# -- a request from them -----------------------------------------------------------------------


def request_from_image(
    found: ImageParameters, settings: Settings, *, models: Sequence[str], active_model: str | None
) -> Reading:
    """A text-to-image request with the image's parameters, within this server's limits; the
    notes say what was mapped or changed (codes `reading.*`, fields `given` and `used`)."""
    defaults, limits = settings.defaults, settings.limits
    notes: list[Problem] = []
    base = GenerationRequest(
        prompt=found.prompt,
        negative_prompt=found.negative_prompt,
        width=defaults.width,
        height=defaults.height,
        steps=defaults.steps,
        cfg_scale=defaults.cfg_scale,
        sampler=defaults.sampler,
        count=defaults.count,
    )
    changes: dict[str, Any] = {}
    if found.parameters is not None:  # the web UI's text: read all of it (hires fix, variation seed)
        try:
            own = request_from_parameters(found.parameters)
        except ParametersError:
            own = None
        if own is not None:
            base = own.replace(count=defaults.count, model=None)
            if own.mode is not Mode.TXT2IMG:
                notes.append(Problem("reading.made_from_an_image", mode=own.mode.value))
                base = base.replace(mode=Mode.TXT2IMG, strength=defaults.img2img_strength)
    if found.steps is not None and found.parameters is None:
        changes["steps"] = found.steps
    if found.cfg_scale is not None and found.parameters is None:
        changes["cfg_scale"] = found.cfg_scale
    if found.seed is not None:
        changes["seed"] = found.seed
    base = base.replace(**changes)

    # sampler: this bot's name for it, or the closest, or the default
    if found.sampler:
        mapped = closest_sampler(found.sampler)
        if mapped is None:
            notes.append(Problem("reading.sampler_unknown", given=found.sampler, used=defaults.sampler))
            base = base.replace(sampler=defaults.sampler)
        else:
            base = base.replace(sampler=mapped[0])
            if not mapped[1]:
                notes.append(Problem("reading.sampler_mapped", given=found.sampler, used=mapped[0]))

    # model: the same name here, or the closest, or the active one
    if found.model:
        mapped = closest_model(found.model, models)
        if mapped is None:
            notes.append(Problem("reading.model_missing", given=found.model, used=active_model))
        else:
            base = base.replace(model=None if mapped[0] == active_model else mapped[0])
            if not mapped[1]:
                notes.append(Problem("reading.model_mapped", given=found.model, used=mapped[0]))

    # size, steps, guidance and seed within this server's limits
    if found.width and found.height:
        width, height = found.width, found.height
    else:  # not written: the image's own size, which is the size it was made at unless upscaled
        width, height = found.image_size or (defaults.width, defaults.height)
    fitted = _fit(width, height, settings)
    if fitted != (width, height):
        notes.append(Problem("reading.size_changed", given=[width, height], used=list(fitted)))
    base = base.replace(width=fitted[0], height=fitted[1])
    if not 1 <= base.steps <= limits.max_steps:
        used = min(max(base.steps, 1), limits.max_steps)
        notes.append(Problem("reading.steps_changed", given=base.steps, used=used))
        base = base.replace(steps=used)
    if not limits.min_cfg <= base.cfg_scale <= limits.max_cfg:
        used_cfg = min(max(base.cfg_scale, limits.min_cfg), limits.max_cfg)
        notes.append(Problem("reading.cfg_changed", given=base.cfg_scale, used=used_cfg))
        base = base.replace(cfg_scale=used_cfg)
    if base.seed is not None and not 0 <= base.seed <= MAX_SEED and base.seed != -1:
        used_seed = base.seed % (MAX_SEED + 1)
        notes.append(Problem("reading.seed_changed", given=base.seed, used=used_seed))
        base = base.replace(seed=used_seed)
    # what parse_prompt gives a text-to-image request, so the request reads back from its flags
    return Reading(base.replace(strength=defaults.img2img_strength), tuple(notes))


def _fit(width: int, height: int, settings: Settings) -> tuple[int, int]:
    limits = settings.limits
    w = min(max(round_to_8(width), limits.min_size), limits.max_size)
    h = min(max(round_to_8(height), limits.min_size), limits.max_size)
    if w * h > limits.max_pixels:
        w, h = largest_fitting_size(w, h, limits.max_pixels, limits)
    return w, h
