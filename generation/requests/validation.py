"""Check a request against the server's limits before it is queued.

`validate` returns the request normalised (sizes rounded to multiples of 8, the sampler's canonical
name, the prompt stripped, one image for upscales) or raises `ValidationError`, a `Problem` whose
code says which rule was broken and whose fields hold the value given, the limits, the flag that
sets it and, where there is one, a value that would pass. Front ends word it (`bot/ui/text.py`).

Sizes: for text-to-image and img2img, `width` x `height` is the size generated; each side must be
within `limits.min_size`..`limits.max_size` and the area within `limits.max_pixels`. A hires fix
makes `scaled_size(width, height, scale)`, and an upscale (where `width` x `height` is the source
image's size) `scaled_size(width, height, upscale_factor)`; those must fit `limits.max_upscaled_pixels`.

Numbers come first (`checked_numbers`): a request can arrive from the prompt parser, a slash
option, JSON or the command line, so before any rule does arithmetic every number is checked to be
a finite number of a sane size (`generation.requests.numbers`); NaN, infinity and 400-digit values
are refused by name (`request.bad_number`).

Torch-free: the Discord front end imports this module.
"""

from __future__ import annotations

from generation.problems import Problem
from generation.requests.numbers import SANE_NUMBER, SANE_WHOLE, NumberError, check_number, number_text
from generation.requests.request import MAX_SEED, RANDOM_SEED, GenerationRequest, HiresFix, Mode, Variation
from generation.requests.samplers import SAMPLER_NAMES, UnknownSampler, canonical_sampler
from generation.requests.sizes import (
    largest_fitting_size,
    largest_scale,
    round_to_8,
    scaled_size,
    square_side,
)
from generation.requests.steps import runs_a_step
from generation.settings import LimitSettings, Settings

__all__ = ["ValidationError", "checked_numbers", "validate"]


class ValidationError(Problem, ValueError):
    """The request breaks a limit: the code names the rule, the fields what to change."""


def validate(request: GenerationRequest, settings: Settings) -> GenerationRequest:
    """The request normalised, or ValidationError saying what to change."""
    limits = settings.limits
    request = checked_numbers(request, limits)
    changes: dict[str, object] = {}

    # -- prompt --------------------------------------------------------------------------
    prompt = request.prompt.strip()
    if not prompt and request.mode is Mode.TXT2IMG:
        raise ValidationError("request.prompt_empty")
    if len(prompt) > limits.max_prompt_length:
        raise ValidationError("request.prompt_too_long", length=len(prompt), max=limits.max_prompt_length)
    negative = request.negative_prompt.strip()
    if len(negative) > limits.max_prompt_length:
        raise ValidationError(
            "request.negative_prompt_too_long", length=len(negative), max=limits.max_prompt_length, flag="no"
        )
    changes["prompt"], changes["negative_prompt"] = prompt, negative

    # -- source image --------------------------------------------------------------------
    if request.mode is not Mode.TXT2IMG and not request.source_image:
        raise ValidationError("request.source_image_missing", mode=request.mode.value)

    # -- size ----------------------------------------------------------------------------
    width, height = request.width, request.height
    if request.mode is Mode.UPSCALE:
        _check_upscale(request, limits)
        changes["count"] = 1
    else:
        width, height = round_to_8(width), round_to_8(height)
        for side, value, flag in (("width", width, "w"), ("height", height, "h")):
            if not limits.min_size <= value <= limits.max_size:
                raise ValidationError(
                    "request.side_out_of_range",
                    side=side,
                    value=value,
                    min=limits.min_size,
                    max=limits.max_size,
                    flag=flag,
                )
        if width * height > limits.max_pixels:
            fit_w, fit_h = largest_fitting_size(width, height, limits.max_pixels, limits)
            raise ValidationError(
                "request.too_many_pixels",
                width=width,
                height=height,
                pixels=width * height,
                max=limits.max_pixels,
                square=square_side(limits.max_pixels),
                fit_width=fit_w,
                fit_height=fit_h,
            )
        changes["width"], changes["height"] = width, height

    # -- sampling ------------------------------------------------------------------------
    if not 1 <= request.steps <= limits.max_steps:
        raise ValidationError(
            "request.steps_out_of_range", value=request.steps, min=1, max=limits.max_steps, flag="steps"
        )
    if not limits.min_cfg <= request.cfg_scale <= limits.max_cfg:
        raise ValidationError(
            "request.cfg_out_of_range",
            value=request.cfg_scale,
            min=limits.min_cfg,
            max=limits.max_cfg,
            flag="cfg",
        )
    if request.mode is not Mode.UPSCALE and not 1 <= request.count <= limits.max_count:
        raise ValidationError(
            "request.count_out_of_range", value=request.count, min=1, max=limits.max_count, flag="n"
        )
    changes["sampler"] = _canonical_sampler(request.sampler)

    # -- seeds ---------------------------------------------------------------------------
    if request.seed != RANDOM_SEED and not 0 <= request.seed <= MAX_SEED:
        raise ValidationError("request.seed_out_of_range", value=request.seed, max=MAX_SEED, flag="seed")
    if request.variation is not None:
        variation = request.variation
        if not 0 <= variation.seed <= MAX_SEED:
            raise ValidationError(
                "request.variation_seed_out_of_range", value=variation.seed, max=MAX_SEED, flag="vseed"
            )
        if not 0 <= variation.strength <= 1:
            raise ValidationError(
                "request.variation_strength_out_of_range", value=variation.strength, flag="vstrength"
            )

    # -- denoising strength --------------------------------------------------------------
    if not 0 < request.strength <= 1:
        raise ValidationError("request.strength_out_of_range", value=request.strength, flag="strength")
    if request.mode is not Mode.TXT2IMG and not runs_a_step(request.steps, request.strength):
        raise ValidationError("request.no_denoising_step", steps=request.steps, strength=request.strength)

    # -- hires fix -----------------------------------------------------------------------
    if request.hires is not None:
        _check_hires(request, width, height, limits)

    return request.replace(**changes)


# Each number of a request: (field, the flag that sets it or None, whole?).
_NUMBERS = (
    ("width", "w", True),
    ("height", "h", True),
    ("steps", "steps", True),
    ("cfg_scale", "cfg", False),
    ("seed", "seed", True),
    ("count", "n", True),
    ("strength", "strength", False),
    ("upscale_factor", None, False),
)
_HIRES_NUMBERS = (("scale", "hires", False), ("strength", "hires-strength", False))
_VARIATION_NUMBERS = (("seed", "vseed", True), ("strength", "vstrength", False))


def _ranges(limits: LimitSettings) -> dict[str, tuple[float, float]]:
    """The plain min..max of the fields that have one, for the message about a bad number."""
    sides = (limits.min_size, limits.max_size)
    return {
        "width": sides,
        "height": sides,
        "steps": (1, limits.max_steps),
        "cfg_scale": (limits.min_cfg, limits.max_cfg),
        "count": (1, limits.max_count),
        "strength": (0, 1),
        "hires.scale": (1, limits.max_hires_scale),
        "hires.strength": (0, 1),
        "hires.steps": (1, limits.max_steps),
        "variation.strength": (0, 1),
    }


def checked_numbers(request: GenerationRequest, limits: LimitSettings | None = None) -> GenerationRequest:
    """The request with every number checked: a real, finite number (a whole one where it must be)
    of a sane size; whole floats become ints. Raises ValidationError("request.bad_number") naming
    the field, its flag, the value as text, the reason (`nan`, `infinite`, `too_large`...) and,
    where the field has a plain range, its `min` and `max`."""
    ranges = _ranges(limits or LimitSettings())
    changes = _numbers(request, _NUMBERS, "", ranges)
    if request.hires is not None:
        numbers = _HIRES_NUMBERS
        if request.hires.steps is not None:  # None: the request's own steps
            numbers += (("steps", "hires-steps", True),)
        checked = _numbers(request.hires, numbers, "hires.", ranges)
        changes["hires"] = HiresFix(**{**vars(request.hires), **checked})
    if request.variation is not None:
        checked = _numbers(request.variation, _VARIATION_NUMBERS, "variation.", ranges)
        changes["variation"] = Variation(**{**vars(request.variation), **checked})
    return request.replace(**changes)


def _numbers(
    owner: object,
    numbers: tuple[tuple[str, str | None, bool], ...],
    prefix: str,
    ranges: dict[str, tuple[float, float]],
) -> dict[str, object]:
    checked: dict[str, object] = {}
    for name, flag, whole in numbers:
        value = getattr(owner, name)
        try:
            if isinstance(value, str):  # a number's text is the parser's business, not a request's
                raise NumberError("number.not_a_number", value=value, digits=None)
            checked[name] = check_number(value, SANE_WHOLE if whole else SANE_NUMBER)
        except NumberError as exc:
            low, high = ranges.get(prefix + name, (None, None))
            raise ValidationError(
                "request.bad_number",
                field=prefix + name,
                flag=flag,
                value=exc.fields["value"] if isinstance(value, str) else _text(value),
                reason=exc.code.removeprefix("number."),
                digits=exc.fields["digits"],
                min=low,
                max=high,
            ) from None
    return checked


def _text(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value, count=False)  # the count is the problem's `digits`
    return repr(value)


def _check_hires(request: GenerationRequest, width: int, height: int, limits: LimitSettings) -> None:
    hires = request.hires
    assert hires is not None
    if request.mode is not Mode.TXT2IMG:
        raise ValidationError("request.hires_needs_txt2img", mode=request.mode.value, flag="hires")
    if not 1 < hires.scale <= limits.max_hires_scale:
        raise ValidationError(
            "request.hires_scale_out_of_range",
            value=hires.scale,
            max=limits.max_hires_scale,
            suggested=min(2.0, limits.max_hires_scale),
            flag="hires",
        )
    if not 0 < hires.strength <= 1:
        raise ValidationError(
            "request.hires_strength_out_of_range", value=hires.strength, flag="hires-strength"
        )
    if hires.steps is not None and not 1 <= hires.steps <= limits.max_steps:
        raise ValidationError(
            "request.hires_steps_out_of_range",
            value=hires.steps,
            min=1,
            max=limits.max_steps,
            flag="hires-steps",
        )
    out_w, out_h = scaled_size(width, height, hires.scale)
    if out_w * out_h > limits.max_upscaled_pixels:
        best = min(largest_scale(width, height, limits.max_upscaled_pixels), limits.max_hires_scale)
        raise ValidationError(
            "request.hires_too_large",
            scale=hires.scale,
            out_width=out_w,
            out_height=out_h,
            pixels=out_w * out_h,
            max=limits.max_upscaled_pixels,
            suggested=best if best > 1 else None,
            flag="hires",
        )


def _check_upscale(request: GenerationRequest, limits: LimitSettings) -> None:
    factor = request.upscale_factor
    if not factor > 1:
        raise ValidationError("request.upscale_factor_too_small", value=factor, suggested=2.0)
    if request.width < 1 or request.height < 1:
        raise ValidationError("request.source_image_empty", width=request.width, height=request.height)
    out_w, out_h = scaled_size(request.width, request.height, factor)
    if out_w * out_h > limits.max_upscaled_pixels:
        best = largest_scale(request.width, request.height, limits.max_upscaled_pixels)
        raise ValidationError(
            "request.upscale_too_large",
            width=request.width,
            height=request.height,
            factor=factor,
            out_width=out_w,
            out_height=out_h,
            pixels=out_w * out_h,
            max=limits.max_upscaled_pixels,
            suggested=best if best > 1 else None,
        )


def _canonical_sampler(name: str) -> str:
    try:
        return canonical_sampler(" ".join(name.split()))
    except UnknownSampler as exc:
        raise ValidationError(
            "request.unknown_sampler", **unknown_sampler_fields(exc), flag="sampler"
        ) from None


def unknown_sampler_fields(exc: UnknownSampler) -> dict[str, object]:
    """An unknown sampler's fields: its name, the schedule type it names when that is what is not
    supported (None otherwise), and the samplers there are."""
    return {"name": exc.name, "schedule": exc.schedule, "samplers": list(SAMPLER_NAMES)}
