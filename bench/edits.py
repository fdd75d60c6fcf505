"""Benchmark of the editing pipelines (CPU): time per job against text-to-image of the same size,
and how much of its picture an upscale keeps.

    python -m bench edits [--model shapes] [--size 128] [--steps 20] [--count 4] [--repeats 3]

Each row is one job through `engine.generate` (the worker's call), timed alone, interleaved with
the others `--repeats` times (the order rotates); the table shows medians and, per edit, the
ratio to a text-to-image job of the same output size and count (a zoom's is its canvas):

- `txt2img SxS` / `txt2img 2Sx2S` / `txt2img 1.5SxS`: the baselines,
- `inpaint, whole picture`: Vary (Region) of cells 6 and 7 of a 4x4 grid, strength 1,
- `inpaint, only masked`: the same, generating only the mask's box (at the model's native size),
- `zoom out 2x` / `pan left`: outpaints of the same picture (their canvas is the baseline's size),
- `upscale 2x`: U1 of each image, with the correction that keeps the picture and without it,
  and the shape IoU of each against a Lanczos upscale (`training.checker.shape_mask`; the
  shapes model only, since the random tiny model draws no shapes).

`EXTRA_ROWS` is the hook for measurements other parts add on the same images (the image-safety
detector's "ms per image" row goes there): each is called with the finished images and returns
rows (name, seconds per job or per image, note). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPT = "a red circle on a blue background"
# Measurements added on the benchmark's images: f(images) -> [(name, seconds, note), ...]. The
# image-safety check appends its detector here ("safety detector ms per image").
EXTRA_ROWS: list[Callable[[list[Any]], list[tuple[str, float, str]]]] = []


def _register_extra_rows() -> None:
    from bench.safety import detector_rows  # the image check's detector, ms per image (issue 13)

    EXTRA_ROWS.append(detector_rows)


_register_extra_rows()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model", default="shapes", help="a model in models/ (default shapes; tiny: the random one)"
    )
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--count", type=int, default=4, help="images per job")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    return run(args)


def load(name: str) -> Any:
    import tempfile

    from generation.models import ModelRegistry, load_model
    from generation.models.tiny import save_tiny_model
    from generation.settings import ModelSettings

    settings = ModelSettings(device="cpu", dtype="float32")
    if name == "tiny":
        folder = save_tiny_model(Path(tempfile.mkdtemp(prefix="bench-edits-")) / "tiny")
        return load_model(ModelRegistry(folder.parent).get("tiny"), settings)
    return load_model(ModelRegistry(ROOT / "models").get(name), settings)


def run(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image

    from generation.images.masks import grid_mask
    from generation.pipelines.engine import generate
    from generation.requests.followups import pan_of, region_of, upscale_of, zoom_out_of
    from generation.requests.request import GenerationRequest
    from generation.requests.validation import validate
    from generation.settings import ModelSettings, load_settings

    torch.set_num_threads(args.threads)
    settings = load_settings()
    model = load(args.model)
    s, n = args.size, args.count
    base = GenerationRequest(
        PROMPT, width=s, height=s, steps=args.steps, cfg_scale=9.0, sampler="Euler", count=n
    )
    base = validate(base, settings).replace(seed=1000)
    started = time.perf_counter()
    pictures = generate(model, [base])[0]
    first_call = time.perf_counter() - started
    picture = pictures[0]
    mask = grid_mask(s, s, [6, 7])

    def edit(request: GenerationRequest) -> GenerationRequest:
        return validate(request, settings).replace(seed=2000, count=n)

    region = edit(region_of(base, "bench.png", "bench-mask.png", settings))
    only = edit(region_of(base, "bench.png", "bench-mask.png", settings, only_masked=True))
    zoom = edit(zoom_out_of(base, "bench.png", 2.0, settings))
    pan = edit(pan_of(base, "bench.png", "left", settings))

    def txt2img(size: tuple[int, int]) -> Callable[[], list[Any]]:
        request = base.replace(width=size[0], height=size[1], seed=3000)
        return lambda: generate(model, [request])[0]

    jobs: dict[str, tuple[Callable[[], list[Any]], str | None]] = {
        f"txt2img {s}x{s}": (txt2img((s, s)), None),
        f"txt2img {zoom.width}x{zoom.height}": (txt2img(zoom.size), None),
        f"txt2img {pan.width}x{pan.height}": (txt2img(pan.size), None),
        "inpaint, whole picture": (
            lambda: generate(model, [region], sources=[picture], masks=[mask])[0],
            f"txt2img {s}x{s}",
        ),
        "inpaint, only masked": (
            lambda: generate(model, [only], sources=[picture], masks=[mask])[0],
            f"txt2img {s}x{s}",
        ),
        "zoom out 2x": (
            lambda: generate(model, [zoom], sources=[picture])[0],
            f"txt2img {zoom.width}x{zoom.height}",
        ),
        "pan left": (
            lambda: generate(model, [pan], sources=[picture])[0],
            f"txt2img {pan.width}x{pan.height}",
        ),
    }
    for job, _ in jobs.values():  # warm each path once (its pipeline is derived on first use)
        job()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    made: list[Any] = []
    names = list(jobs)
    for rep in range(args.repeats):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            t = time.perf_counter()
            images = jobs[name][0]()
            times[name].append(time.perf_counter() - t)
            if rep == 0:
                made += images
    med = {name: statistics.median(values) for name, values in times.items()}
    ratios = {name: med[name] / med[against] for name, (_, against) in jobs.items() if against}

    # -- upscale: time and the composition kept ---------------------------------------------------
    upscale: dict[str, Any] = {}
    generate(model, [upscale_of(base, "bench.png", base.seed, settings)], sources=[picture])  # warm
    for keeps in (True, False):
        ious, seconds = [], []
        for i, image in enumerate(pictures):
            u1 = upscale_of(base, "bench.png", base.seed + i, settings)
            t = time.perf_counter()
            [[big]] = generate(
                model, [u1], sources=[image], settings=ModelSettings(upscale_keeps_source=keeps)
            )
            seconds.append(time.perf_counter() - t)
            if args.model == "shapes":
                from training.checker import mask_iou, shape_mask

                lanczos = image.resize(big.size, Image.Resampling.LANCZOS)
                ious.append(mask_iou(shape_mask(big), shape_mask(lanczos)))
        key = "keeps source" if keeps else "detail pass only"
        upscale[key] = {"seconds": statistics.median(seconds), "iou": ious}

    extra = [row for hook in EXTRA_ROWS for row in hook(made)]

    print(
        f"{args.model} model, {n} images a job, {args.steps} steps, Euler, CFG 9, CPU "
        f"({args.threads} thread{'s' if args.threads > 1 else ''}), median of {args.repeats} "
        f"(first call {first_call:.2f} s)"
    )
    print(f"{'job':<30}{'s/job':>8}{'vs txt2img':>12}")
    for name in names:
        ratio = f"{ratios[name]:.2f}x" if name in ratios else ""
        print(f"{name:<30}{med[name]:>8.2f}{ratio:>12}")
    for key, row in upscale.items():
        iou = (
            f"shape IoU min {min(row['iou']):.3f} mean {statistics.mean(row['iou']):.3f}"
            if row["iou"]
            else ""
        )
        print(f"{'upscale 2x, ' + key:<30}{row['seconds']:>8.2f}{'':>12}  {iou}")
    for name, seconds, note in extra:
        print(f"{name:<30}{seconds:>8.3f}{'':>12}  {note}")
    print(
        json.dumps(
            {
                "bench": "edits",
                "model": args.model,
                "size": s,
                "steps": args.steps,
                "count": n,
                "repeats": args.repeats,
                "threads": args.threads,
                "seconds_per_job": {name: round(value, 3) for name, value in med.items()},
                "all_seconds": {name: [round(v, 3) for v in values] for name, values in times.items()},
                "vs_txt2img": {name: round(value, 3) for name, value in ratios.items()},
                "upscale": {
                    key: {"seconds": round(row["seconds"], 3), "iou": [round(x, 4) for x in row["iou"]]}
                    for key, row in upscale.items()
                },
                "upscale_iou_goal_met": all(x >= 0.9 for x in upscale["keeps source"]["iou"]),
                "extra": [
                    {"name": name, "seconds": round(sec, 5), "note": note} for name, sec, note in extra
                ],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
