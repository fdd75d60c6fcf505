"""Command line: one request through the same parser, validation, pipelines and image code the bot uses.

    python -m generation imagine "a red circle on a blue background --seed 42 --n 4" --out DIR
    python -m generation upscale DIR/0.png --out DIR2 [--factor 2] [--strength 0.3]
    python -m generation vary DIR/0.png --out DIR3 [--prompt "..."] [--strength 0.6]

Each prints one JSON object: job id, files, seeds, model, model hash and timings. A refused request
prints one `error: ...` line (`generation.cli.errors`) and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from generation.cli.errors import CommandError, problem_line
from generation.cli.standin import TINY_MODEL_NAME, tiny_stand_in
from generation.problems import Problem
from generation.requests.request import RANDOM_SEED, GenerationRequest
from generation.settings import ConfigError, Settings, load_settings

STAND_IN_ROOT = Path(tempfile.gettempdir()) / "imagine-bot-tiny-model"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m generation", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="a config.toml (default: the project's)")
    sub = parser.add_subparsers(dest="command", required=True)

    imagine = sub.add_parser("imagine", help="text to image")
    imagine.add_argument("prompt", help='the prompt with inline flags, e.g. "a cat --ar 16:9 --seed 42"')

    upscale = sub.add_parser("upscale", help="upscale one image (reads its parameters back)")
    upscale.add_argument("image", type=Path)
    upscale.add_argument("--factor", type=float, default=2.0)
    upscale.add_argument("--strength", type=float, help="img2img strength of the detail pass")

    vary = sub.add_parser("vary", help="img2img variations of one image (reads its parameters back)")
    vary.add_argument("image", type=Path)
    vary.add_argument("--prompt", help="a new prompt with inline flags (default: the image's own)")
    vary.add_argument("--strength", type=float, help="how far to move from the image, 0-1")

    for sp in (imagine, upscale, vary):
        sp.add_argument("--out", type=Path, required=True, help="output folder (a job folder is made inside)")
        sp.add_argument("--model", help="model name from the models directory (default: config's)")
        sp.add_argument("--config", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    return parser


# -- building the request ------------------------------------------------------------------


def request_from_args(args: argparse.Namespace, settings: Settings) -> GenerationRequest:
    from generation.images.metadata import read_parameters, request_from_parameters
    from generation.requests.followups import upscale_of, variation_of
    from generation.requests.prompt import parse_prompt

    if args.command == "imagine":
        request = parse_prompt(args.prompt, settings.defaults)
    else:
        if not args.image.is_file():
            raise CommandError(f"{args.image} is not a file")
        text = read_parameters(args.image)
        if text:
            base = request_from_parameters(text)
        else:  # an image from elsewhere: describe it as a plain txt2img result of its own size
            width, height = _image_size(args.image)
            base = GenerationRequest(prompt="", width=width, height=height, seed=RANDOM_SEED)
        source = args.image.resolve()
        if args.command == "upscale":
            factor, strength = args.factor, args.strength
            request = upscale_of(base, source, base.seed, settings, factor=factor, strength=strength)
        else:
            if args.prompt:
                base = parse_prompt(args.prompt, settings.defaults, base=base)
            request = variation_of(base, source, settings, strength=args.strength)
    if args.model:
        request = request.replace(model=args.model)
    return request


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


# -- the model -------------------------------------------------------------------------------


def load_requested_model(name: str, settings: Settings):
    """Load `name` from the registry; the tiny random model stands in when the default is absent."""
    from generation.models import ModelNotFound, ModelRegistry, load_model

    registry = ModelRegistry(settings.paths.models_dir, settings.models.hub_models)
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
    from generation.pipelines.engine import generate
    from generation.requests.validation import validate

    settings = load_settings(getattr(args, "config", None))
    request = validate(request_from_args(args, settings), settings).resolve_seed()
    timings: dict[str, float] = {}

    started = time.perf_counter()
    model = load_requested_model(request.model or settings.models.default, settings)
    timings["load_s"] = time.perf_counter() - started

    started = time.perf_counter()
    [images] = generate(model, [request], settings=settings.models)
    timings["generate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    job_id = f"cli-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
    saved = save_job_images(args.out, job_id, request, images, model.name, model.short_hash)
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
    except Problem as problem:  # a refused prompt or request, an unreadable image's parameters
        print(f"error: {problem_line(problem)}", file=sys.stderr)
        return 2
    except (CommandError, ConfigError, ValueError, LookupError) as exc:
        # Config and model-not-found errors (and argument mistakes) carry a message meant for people.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0
