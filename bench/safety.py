"""Benchmark of the image check's detector (generation.safety): NudeNet on the CPU, ms per image.

    python -m bench safety [--count 8] [--repeats 3] [--threads 1]

The same rows appear in `python -m bench edits` (its `EXTRA_ROWS` hook, on the images it made);
alone, this one needs no model: it classifies noise pictures. Each image is classified from its PNG
bytes, as the job service hands them over (decode, letterbox to 320, the ONNX model), at 128x128
and 512x512 (the detector's input is 320 either way: the difference is decoding and resizing).
The first load (cv2, onnxruntime, the model from the wheel) is timed apart. The last line is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = (128, 512)


def measure(images: list[Any], *, threads: int = 1, repeats: int = 1) -> dict[str, Any]:
    """Load NudeNet once, then the median seconds per image at each of SIZES (PIL images in)."""
    from PIL import Image

    from generation.safety.nudenet_detector import NudeNetDetector

    detector = NudeNetDetector(threads=threads)
    started = time.perf_counter()
    detector.load()
    load_seconds = time.perf_counter() - started
    per_image: dict[int, float] = {}
    for size in SIZES:
        pngs = []
        for image in images:
            out = io.BytesIO()
            image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS).save(out, "PNG")
            pngs.append(out.getvalue())
        detector.classify(pngs[0])  # warm: onnxruntime's first run at a shape allocates
        times = []
        for _ in range(repeats):
            for png in pngs:
                t = time.perf_counter()
                detector.classify(png)
                times.append(time.perf_counter() - t)
        per_image[size] = statistics.median(times)
    return {
        "detector": detector.name,
        "threads": threads,
        "load_seconds": load_seconds,
        "per_image": per_image,
    }


def rows_of(figures: dict[str, Any]) -> list[tuple[str, float, str]]:
    return [
        (
            f"safety detector {size}x{size}",
            seconds,
            f"{seconds * 1000:.1f} ms per image ({figures['detector']}, CPU, {figures['threads']} thread;"
            f" first load {figures['load_seconds']:.2f} s)",
        )
        for size, seconds in figures["per_image"].items()
    ]


def detector_rows(images: list[Any]) -> list[tuple[str, float, str]]:
    """bench/edits.py's EXTRA_ROWS hook: the detector on the benchmark's own images."""
    return rows_of(measure(images))


def noise_images(count: int) -> list[Any]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)) for _ in range(count)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=8, help="images per size")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="detector CPU threads (the config's default)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    figures = measure(noise_images(args.count), threads=args.threads, repeats=args.repeats)
    print(f"{'detector':<30}{'s/image':>8}")
    for name, seconds, note in rows_of(figures):
        print(f"{name:<30}{seconds:>8.3f}  {note}")
    print(
        json.dumps(
            {
                "bench": "safety",
                "detector": figures["detector"],
                "threads": args.threads,
                "count": args.count,
                "repeats": args.repeats,
                "load_seconds": round(figures["load_seconds"], 3),
                "ms_per_image": {f"{s}x{s}": round(v * 1000, 2) for s, v in figures["per_image"].items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
