"""Check a request against the server's limits before it is queued.

`validate` returns the request normalised (sizes rounded to multiples of 8, the sampler's canonical
name, the prompt stripped, one image for upscales) or raises `ValidationError` whose message is one
sentence a Discord user can act on, naming the flag to change where there is one.

Sizes: for text-to-image and img2img, `width` x `height` is the size generated; each side must be
within `limits.min_size`..`limits.max_size` and the area within `limits.max_pixels`. A hires fix
makes `round8(width * scale)` x `round8(height * scale)`, and an upscale (where `width` x `height`
is the source image's size) `round8(width * upscale_factor)` x `round8(height * upscale_factor)`;
those results must fit `limits.max_upscaled_pixels`.

Torch-free: the Discord front end imports this module.
"""

from __future__ import annotations

import math

from generation.requests.prompt import canonical_sampler_or_keep
from generation.requests.request import MAX_SEED, RANDOM_SEED, GenerationRequest, Mode
from generation.settings import LimitSettings, Settings

__all__ = ["ValidationError", "round_to_8", "validate"]


class ValidationError(ValueError):
    """The request breaks a limit; the message tells the user what to change."""


def round_to_8(x: float) -> int:
    """The nearest multiple of 8 (at least 8)."""
    return max(8, int(x / 8 + 0.5) * 8)


def _floor8(x: float) -> int:
    return max(8, int(x) // 8 * 8)


def _num(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def _pixels(n: int) -> str:
    return f"{n:,}"


def _fit_size(width: int, height: int, max_pixels: int, limits: LimitSettings) -> tuple[int, int]:
    """The largest size with about the same shape that fits max_pixels and the side limits."""
    scale = min(math.sqrt(max_pixels / (width * height)), limits.max_size / width, limits.max_size / height)
    w, h = _floor8(width * scale), _floor8(height * scale)
    while w * h > max_pixels and w > 8 and h > 8:  # flooring makes this rare
        w, h = w - 8, h - 8
    return w, h


def validate(request: GenerationRequest, settings: Settings) -> GenerationRequest:
    """The request normalised, or ValidationError saying what to change."""
    limits = settings.limits
    changes: dict[str, object] = {}

    # -- prompt --------------------------------------------------------------------------
    prompt = request.prompt.strip()
    if not prompt and request.mode is Mode.TXT2IMG:
        raise ValidationError(
            "The prompt is empty: describe the image you want, like 'a lighthouse at dusk'."
        )
    if len(prompt) > limits.max_prompt_length:
        raise ValidationError(
            f"The prompt is {len(prompt):,} characters long; shorten it to "
            f"{limits.max_prompt_length:,} characters or fewer."
        )
    negative = request.negative_prompt.strip()
    if len(negative) > limits.max_prompt_length:
        raise ValidationError(
            f"The negative prompt (--no) is {len(negative):,} characters long; shorten it to "
            f"{limits.max_prompt_length:,} characters or fewer."
        )
    changes["prompt"], changes["negative_prompt"] = prompt, negative

    # -- source image --------------------------------------------------------------------
    if request.mode is Mode.IMG2IMG and not request.source_image:
        raise ValidationError("Image-to-image needs a source image: attach the image to start from.")
    if request.mode is Mode.UPSCALE and not request.source_image:
        raise ValidationError("Upscaling needs a source image: attach the image to upscale.")

    # -- size ----------------------------------------------------------------------------
    width, height = request.width, request.height
    if request.mode is Mode.UPSCALE:
        _check_upscale(request, limits)
        changes["count"] = 1
    else:
        width, height = round_to_8(width), round_to_8(height)
        for side, value, flag in (("Width", width, "--w"), ("Height", height, "--h")):
            if not limits.min_size <= value <= limits.max_size:
                what = "small" if value < limits.min_size else "large"
                raise ValidationError(
                    f"{side} {value} is too {what}: each side must be between {limits.min_size} and "
                    f"{limits.max_size} pixels (set it with {flag})."
                )
        if width * height > limits.max_pixels:
            w, h = _fit_size(width, height, limits.max_pixels, limits)
            side = _floor8(math.sqrt(limits.max_pixels))
            raise ValidationError(
                f"{width}x{height} is {_pixels(width * height)} pixels, over this server's limit of "
                f"{_pixels(limits.max_pixels)} (about {side}x{side}); try --w {w} --h {h}, which keeps "
                "the shape."
            )
        changes["width"], changes["height"] = width, height

    # -- sampling ------------------------------------------------------------------------
    if not 1 <= request.steps <= limits.max_steps:
        raise ValidationError(
            f"Steps must be between 1 and {limits.max_steps}, not {request.steps}; "
            f"use --steps {limits.max_steps} or fewer."
        )
    if not limits.min_cfg <= request.cfg_scale <= limits.max_cfg:
        raise ValidationError(
            f"CFG scale must be between {_num(limits.min_cfg)} and {_num(limits.max_cfg)}, "
            f"not {_num(request.cfg_scale)}; set it with --cfg (7 is a good start)."
        )
    if request.mode is not Mode.UPSCALE and not 1 <= request.count <= limits.max_count:
        raise ValidationError(
            f"The number of images must be between 1 and {limits.max_count}, not {request.count}; "
            f"use --n {limits.max_count} or fewer."
        )
    changes["sampler"] = _canonical_sampler(request.sampler)

    # -- seeds ---------------------------------------------------------------------------
    if request.seed != RANDOM_SEED and not 0 <= request.seed <= MAX_SEED:
        raise ValidationError(
            f"The seed must be a whole number from 0 to {MAX_SEED}, or -1 for a random one, "
            f"not {request.seed} (--seed)."
        )
    if request.variation is not None:
        variation = request.variation
        if not 0 <= variation.seed <= MAX_SEED:
            raise ValidationError(
                f"The variation seed must be a whole number from 0 to {MAX_SEED}, "
                f"not {variation.seed} (--vseed)."
            )
        if not 0 <= variation.strength <= 1:
            raise ValidationError(
                f"The variation strength must be between 0 and 1, not {_num(variation.strength)}; "
                "try --vstrength 0.1 for a small change."
            )

    # -- denoising strength --------------------------------------------------------------
    if not 0 < request.strength <= 1:
        raise ValidationError(
            f"Strength must be above 0 and at most 1, not {_num(request.strength)}; lower keeps more of "
            "the source image (try --strength 0.6)."
        )
    if request.mode is not Mode.TXT2IMG and int(request.steps * request.strength) < 1:
        raise ValidationError(
            f"With {request.steps} steps at strength {_num(request.strength)} not a single denoising "
            "step runs; raise --strength or --steps."
        )

    # -- hires fix -----------------------------------------------------------------------
    if request.hires is not None:
        _check_hires(request, width, height, limits)

    return request.replace(**changes)


def _check_hires(request: GenerationRequest, width: int, height: int, limits: LimitSettings) -> None:
    hires = request.hires
    assert hires is not None
    if request.mode is not Mode.TXT2IMG:
        raise ValidationError(
            "The hires fix (--hires) works only when generating from a prompt; drop --hires."
        )
    if not 1 < hires.scale <= limits.max_hires_scale:
        raise ValidationError(
            f"The hires scale must be above 1 and at most {_num(limits.max_hires_scale)}, "
            f"not {_num(hires.scale)}; try --hires {_num(min(2.0, limits.max_hires_scale))}."
        )
    if not 0 < hires.strength <= 1:
        raise ValidationError(
            f"The hires strength must be above 0 and at most 1, not {_num(hires.strength)}; "
            "try --hires-strength 0.5."
        )
    if hires.steps is not None and not 1 <= hires.steps <= limits.max_steps:
        raise ValidationError(
            f"Hires steps must be between 1 and {limits.max_steps}, not {hires.steps} (--hires-steps)."
        )
    out_w, out_h = round_to_8(width * hires.scale), round_to_8(height * hires.scale)
    if out_w * out_h > limits.max_upscaled_pixels:
        best = math.floor(math.sqrt(limits.max_upscaled_pixels / (width * height)) * 10) / 10
        best = min(best, limits.max_hires_scale)
        fix = f"use --hires {_num(best)} or a smaller size" if best > 1 else "use a smaller size"
        raise ValidationError(
            f"The hires fix at {_num(hires.scale)}x makes {out_w}x{out_h} ({_pixels(out_w * out_h)} pixels), "
            f"over this server's limit of {_pixels(limits.max_upscaled_pixels)}; {fix}."
        )


def _check_upscale(request: GenerationRequest, limits: LimitSettings) -> None:
    factor = request.upscale_factor
    if not factor > 1:
        raise ValidationError(f"The upscale factor must be above 1, not {_num(factor)}; try 2.")
    if request.width < 1 or request.height < 1:
        raise ValidationError("The source image has no pixels; attach a real image to upscale.")
    out_w, out_h = round_to_8(request.width * factor), round_to_8(request.height * factor)
    if out_w * out_h > limits.max_upscaled_pixels:
        best = math.floor(math.sqrt(limits.max_upscaled_pixels / (request.width * request.height)) * 10) / 10
        fix = f"upscale by {_num(best)} instead" if best > 1 else "start from a smaller image"
        raise ValidationError(
            f"Upscaling {request.width}x{request.height} by {_num(factor)} makes {out_w}x{out_h} "
            f"({_pixels(out_w * out_h)} pixels), over this server's limit of "
            f"{_pixels(limits.max_upscaled_pixels)}; {fix}."
        )


def _canonical_sampler(name: str) -> str:
    try:
        return canonical_sampler_or_keep(name)
    except ValueError as exc:
        message = str(exc).rstrip(".")
        raise ValidationError(f"{message[:1].upper()}{message[1:]} (set it with --sampler).") from None
