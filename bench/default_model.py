"""Benchmark of the default demo model "shapes" on this machine.

    python bench/default_model.py [--models models] [--repeats 3]
    python -m bench default_model

Times loading the committed model, then a 2x2 grid (four images in one batch) at the bot's
default size, sampler, CFG and steps from config.toml, and checks prompt adherence on a few
held-out combinations. Prints a table, then one JSON object with the figures as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--name", default="shapes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--adherence-seeds", type=int, default=4, help="seeds per held-out combination")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)

    import torch

    from training.checker import check, summarise
    from training.scenes import HELD_OUT
    from training.train import generate, load_folder, read_defaults, set_sampler

    torch.set_num_threads(args.threads)
    d = read_defaults()
    t = time.perf_counter()
    pipe = load_folder(args.models / args.name)
    set_sampler(pipe, d["sampler"])
    load_s = time.perf_counter() - t

    prompts = [
        ("red", "circle", "blue"),
        ("green", "square", "yellow"),
        ("white", "triangle", "black"),
        ("yellow", "circle", "red"),
    ]

    def grid(width: int, height: int) -> float:
        t = time.perf_counter()
        generate(
            pipe, prompts, [1, 2, 3, 4], steps=d["steps"], cfg=d["cfg_scale"], width=width, height=height
        )
        return time.perf_counter() - t

    grid(d["width"], d["height"])  # warm-up
    times = [grid(d["width"], d["height"]) for _ in range(args.repeats)]
    grid_s = statistics.median(times)
    t128 = (
        statistics.median([grid(128, 128) for _ in range(args.repeats)])
        if (d["width"], d["height"]) != (128, 128)
        else grid_s
    )

    cases = [c for c in HELD_OUT for _ in range(args.adherence_seeds)]
    seeds = list(range(1000, 1000 + len(cases)))
    t = time.perf_counter()
    images = generate(
        pipe, cases, seeds, steps=d["steps"], cfg=d["cfg_scale"], width=d["width"], height=d["height"]
    )
    adh_s = time.perf_counter() - t
    adh = summarise([check(im, *c) for im, c in zip(images, cases, strict=True)])

    size_mb = sum(p.stat().st_size for p in args.models.glob(f"{args.name}*/**/*") if p.is_file())
    size_mb += sum(p.stat().st_size for p in args.models.glob(f"{args.name}*.safetensors"))
    size_mb /= 1e6

    rows = [
        ("model", f"{args.name} ({args.models / args.name})"),
        ("settings", f"{d['sampler']}, {d['steps']} steps, CFG {d['cfg_scale']}, {d['width']}x{d['height']}"),
        ("torch threads", str(args.threads)),
        ("load (folder)", f"{load_s:.2f} s"),
        ("2x2 grid, default size", f"{grid_s:.2f} s (median of {args.repeats}; budget 2 s)"),
        ("2x2 grid, 128x128", f"{t128:.2f} s"),
        ("per step (batch of 4, CFG)", f"{grid_s / d['steps'] * 1000:.0f} ms"),
        (
            f"held-out adherence (n={adh['n']})",
            f"colour {adh['colour']:.0%}, background {adh['background']:.0%}, shape {adh['shape']:.0%} "
            f"({adh_s:.1f} s)",
        ),
        ("weights on disk (all copies)", f"{size_mb:.1f} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(
        json.dumps(
            {
                "bench": "default_model",
                "sampler": d["sampler"],
                "steps": d["steps"],
                "cfg_scale": d["cfg_scale"],
                "width": d["width"],
                "height": d["height"],
                "load_s": round(load_s, 3),
                "grid_2x2_s": round(grid_s, 3),
                "grid_2x2_128_s": round(t128, 3),
                "grid_within_budget": grid_s <= 2.0,
                "held_out_colour": adh["colour"],
                "held_out_background": adh["background"],
                "held_out_shape": adh["shape"],
                "held_out_n": adh["n"],
                "size_mb": round(size_mb, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
