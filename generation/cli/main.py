"""Command line: one request through the same parser, validation, pipelines and image code the bot uses.

    python -m generation imagine "a red circle on a blue background --seed 42 --n 4" --out DIR
    python -m generation upscale DIR/0.png --out DIR2 [--factor 2] [--strength 0.3]
    python -m generation vary DIR/0.png --out DIR3 [--prompt "..."] [--strength 0.6]
    python -m generation inpaint DIR/0.png --mask MASK.png --out DIR4 [--prompt "..."] [--only-masked]
    python -m generation zoom DIR/0.png --factor 2 --out DIR5
    python -m generation pan DIR/0.png --direction left --out DIR6

Each prints one JSON object: job id, files, seeds, model, model hash and timings. A refused request
prints one `error: ...` line (`generation.cli.errors`) and exits with status 2: a bad flag or
option value (numbers go through `generation.requests.numbers`, like the bot's), an input file
that is no usable image (`generation.images.intake`, as the bot's uploads), a model that cannot be
found or loaded. What the intake changed on the way in (a tiny image scaled up) is a `note:` line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generation.cli.errors import CommandError, model_error_line, problem_line
from generation.cli.standin import TINY_MODEL_NAME, tiny_stand_in
from generation.models.errors import ModelError
from generation.problems import Problem
from generation.requests.numbers import SANE_NUMBER, NumberError, parse_number
from generation.requests.request import RANDOM_SEED, GenerationRequest, Pan
from generation.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from PIL import Image

STAND_IN_ROOT = Path(tempfile.gettempdir()) / "imagine-bot-tiny-model"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m generation", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="a config.toml (default: the project's)")
    sub = parser.add_subparsers(dest="command", required=True)

    imagine = sub.add_parser("imagine", help="text to image")
    imagine.add_argument("prompt", help='the prompt with inline flags, e.g. "a cat --ar 16:9 --seed 42"')

    upscale = sub.add_parser("upscale", help="upscale one image (reads its parameters back)")
    upscale.add_argument("image", type=Path)
    upscale.add_argument("--factor", default="2", help="how much larger, e.g. 2")
    upscale.add_argument("--strength", help="img2img strength of the detail pass")

    vary = sub.add_parser("vary", help="img2img variations of one image (reads its parameters back)")
    vary.add_argument("image", type=Path)
    vary.add_argument("--prompt", help="a new prompt with inline flags (default: the image's own)")
    vary.add_argument("--strength", help="how far to move from the image, 0-1")

    inpaint = sub.add_parser("inpaint", help="repaint the white of a mask on one image (Vary (Region))")
    inpaint.add_argument("image", type=Path)
    inpaint.add_argument("--mask", type=Path, required=True, help="white = repaint, black = keep")
    inpaint.add_argument("--prompt", help="a new prompt with inline flags (default: the image's own)")
    inpaint.add_argument("--strength", help="denoising strength in the mask, 0-1 (default 1)")
    inpaint.add_argument("--blur", help="feather of the mask's edge in pixels (default 4)")
    inpaint.add_argument(
        "--only-masked", action="store_true", help="generate only the mask's box, at full size"
    )

    zoom = sub.add_parser("zoom", help="zoom out of one image: a larger canvas, the new border painted")
    zoom.add_argument("image", type=Path)
    zoom.add_argument("--factor", default="2", help="above 1, at most 2 (default 2)")

    pan = sub.add_parser("pan", help="pan one image: half a side more canvas on one side, painted")
    pan.add_argument("image", type=Path)
    pan.add_argument("--direction", choices=[p.value for p in Pan], required=True)

    for sp in (zoom, pan):
        sp.add_argument("--strength", help="denoising strength of the new area, 0-1")

    for sp in (imagine, upscale, vary, inpaint, zoom, pan):
        sp.add_argument("--out", type=Path, required=True, help="output folder (a job folder is made inside)")
        sp.add_argument("--model", help="model name from the models directory (default: config's)")
        sp.add_argument("--config", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    return parser


# -- building the request ------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What the command runs: the request, and the source image the intake read (img2img, upscale)."""

    request: GenerationRequest
    source: Image.Image | None = None
    notes: tuple[Problem, ...] = ()


def option_number(option: str, text: str | None) -> float | None:
    """A numeric option's value, bounded like a flag's (validation applies the limits)."""
    if text is None:
        return None
    try:
        return float(parse_number(text, SANE_NUMBER))
    except NumberError as exc:
        raise Problem(
            "cli.bad_number",
            option=option,
            value=text,
            reason=exc.code.removeprefix("number."),
            digits=exc.fields["digits"],
        ) from None


def request_from_args(args: argparse.Namespace, settings: Settings) -> Job:
    from generation.images.intake import IntakeLimits, read_image_file
    from generation.images.metadata import request_from_parameters
    from generation.requests.followups import pan_of, region_of, upscale_of, variation_of, zoom_out_of
    from generation.requests.prompt import parse_prompt

    if args.command == "imagine":
        job = Job(parse_prompt(args.prompt, settings.defaults))
    else:
        if not args.image.is_file():
            raise CommandError(f"{args.image} is not a file")
        intake = read_image_file(args.image, IntakeLimits.from_settings(settings))
        if intake.parameters:
            base = request_from_parameters(intake.parameters)
        else:  # an image from elsewhere: describe it as a plain txt2img result of its own size
            width, height = intake.size
            base = GenerationRequest(prompt="", width=width, height=height, seed=RANDOM_SEED)
        source = args.image.resolve()
        if args.command == "upscale":
            factor = option_number("--factor", args.factor)
            strength = option_number("--strength", args.strength)
            request = upscale_of(base, source, base.seed, settings, factor=factor, strength=strength)
        elif args.command == "zoom":
            factor = option_number("--factor", args.factor)
            strength = option_number("--strength", args.strength)
            request = zoom_out_of(base, source, factor, settings, strength=strength)
        elif args.command == "pan":
            strength = option_number("--strength", args.strength)
            request = pan_of(base, source, args.direction, settings, strength=strength)
        else:
            if args.prompt:
                base = parse_prompt(args.prompt, settings.defaults, base=base)
            strength = option_number("--strength", args.strength)
            if args.command == "inpaint":
                if not args.mask.is_file():
                    raise CommandError(f"{args.mask} is not a file")
                request = region_of(
                    base,
                    source,
                    args.mask.resolve(),
                    settings,
                    strength=strength,
                    only_masked=args.only_masked,
                    mask_blur=None if args.blur is None else round(option_number("--blur", args.blur)),
                )
            else:
                request = variation_of(base, source, settings, strength=strength)
        job = Job(request, intake.image, intake.notes)
    if args.model:
        job = Job(job.request.replace(model=args.model), job.source, job.notes)
    return job


# -- the model -------------------------------------------------------------------------------


def load_requested_model(name: str, settings: Settings):
    """Load `name` from the registry; the tiny random model stands in when the default is absent."""
    from generation.models import ModelNotFound, ModelRegistry, load_model

    registry = ModelRegistry(settings.paths.model_folders, settings.models.hub_models)
    try:
        entry = registry.get(name)
    except ModelNotFound:
        folder = tiny_stand_in(name, settings, STAND_IN_ROOT)
        if folder is None:
            raise
        from generation.models.loaded import ModelEntry

        print(
            f"note: model {name!r} not found in {settings.paths.models_dir}; "
            "using a tiny random model (it draws noise)",
            file=sys.stderr,
        )
        entry = ModelEntry(name=TINY_MODEL_NAME, path=folder, kind="diffusers")
    return load_model(entry, settings.models, compile_cache=settings.paths.cache_dir)


# -- running ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    from generation.images.saving import save_job_images
    from generation.models.assets import AssetLibrary
    from generation.pipelines.engine import generate_result
    from generation.requests.validation import validate
    from generation.requests.wildcards import Wildcards, with_image_prompts

    settings = load_settings(getattr(args, "config", None))
    job = request_from_args(args, settings)
    for note in job.notes:
        print(f"note: {problem_line(note)}", file=sys.stderr)
    request = validate(job.request, settings).resolve_seed()
    # each image's {a|b} / __wildcard__ variant, drawn from its seed as the bot draws it
    wildcards = Wildcards.of(settings.variants.wildcards_dir)
    request = with_image_prompts(request, wildcards, max_length=settings.limits.max_prompt_length)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    model = load_requested_model(request.model or settings.models.default, settings)
    timings["load_s"] = time.perf_counter() - started

    started = time.perf_counter()
    assets = AssetLibrary.from_settings(settings.paths)
    result = generate_result(model, [request], settings=settings.models, sources=[job.source], assets=assets)
    [images], [applied] = result.images, result.applied
    timings["generate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    job_id = f"cli-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
    saved = save_job_images(args.out, job_id, request, images, model.name, model.short_hash, applied=applied)
    timings["save_s"] = time.perf_counter() - started

    return {
        "job_id": job_id,
        "mode": request.mode.value,
        "grid": str(saved.grid),
        "files": [str(p) for p in saved.images],
        "seeds": saved.seeds,
        "model": model.name,
        "model_hash": model.short_hash,
        "size": [images[0].width, images[0].height],
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except Problem as problem:  # a refused prompt, option, request or image; unreadable parameters
        print(f"error: {problem_line(problem)}", file=sys.stderr)
        return 2
    except ModelError as exc:  # not found, unsafe pickle, unknown architecture, a failed load
        print(f"error: {model_error_line(exc)}", file=sys.stderr)
        return 2
    except (CommandError, ConfigError, ValueError, LookupError) as exc:
        # Config and model-not-found errors (and argument mistakes) carry a message meant for people.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0
