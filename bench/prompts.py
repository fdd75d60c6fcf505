"""Benchmark of prompt encoding and LoRA switching on the tiny model.

    python -m bench prompts [--repeats 20] [--threads 2]

Prompt-encoding cost per job (prompt and negative prompt, as `encode_batch` runs them for one
image) for a short prompt, a 150-token prompt and a short prompt with three LoRAs active, with
the model's prompt cache (a reroll: nothing to encode) and without it (the cache emptied before
each job). Then LoRA switching: the time to switch between two loaded adapter sets (3 LoRAs vs 2
others, `set_adapters`), against the time to load one LoRA file the first time. Prints a table,
then one JSON object with the figures (milliseconds, medians) as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHORT = "a red circle on a blue background, (masterpiece:1.2), [blurry]"
LONG = ", ".join(  # about 150 tokens: two chunks
    f"a {colour} {shape} on {ground}"
    for colour in ("red", "blue", "green", "white")
    for shape in ("circle", "square", "triangle")
    for ground in ("white sand", "black stone")
)
NEGATIVE = "lowres, bad anatomy, (worst quality:1.4), blurry"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)

    import torch
    from safetensors.torch import save_file

    from generation.models.addons import plan_addons
    from generation.models.arch import Arch
    from generation.models.assets import AssetLibrary
    from generation.models.loaded import LoadedModel, ModelEntry
    from generation.models.tiny import build_tiny_pipeline, tiny_lora
    from generation.pipelines.batch import Batch
    from generation.pipelines.conditioning import encode_batch
    from generation.pipelines.lora import adapters_of
    from generation.requests.request import GenerationRequest

    torch.set_num_threads(args.threads)
    pipe = build_tiny_pipeline(seed=0)
    pipe.set_progress_bar_config(disable=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-prompts-"))
    (folder / "Lora").mkdir()
    for k in range(5):
        save_file(tiny_lora(pipe, seed=k), str(folder / "Lora" / f"lora{k}.safetensors"))
    library = AssetLibrary.in_models_dir(folder)
    entry = ModelEntry("tiny", folder / "tiny", "diffusers")
    model = LoadedModel("tiny", entry, pipe, Arch.SD1, None, torch.device("cpu"), torch.float32)

    def plan(prompt: str):
        return plan_addons(GenerationRequest(prompt, negative_prompt=NEGATIVE, seed=1), library)

    def encode_ms(prompt: str, *, cached: bool) -> float:
        p = plan(prompt)
        adapters_of(model).activate(model, p.loras)
        batch = Batch.of([GenerationRequest(prompt, negative_prompt=NEGATIVE, seed=1, count=1)])
        times = []
        for _ in range(args.repeats + 1):
            if not cached:
                model.derived.pop("prompts", None)
            started = time.perf_counter()
            encode_batch(model, batch, guidance=True, clip_skips=[1], lora_key=p.lora_key())
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times[1:])  # the first run warms up (or fills the cache)

    three = SHORT + " <lora:lora0:0.8> <lora:lora1:0.5> <lora:lora2:-0.3>"
    rows = {}
    for label, prompt in (("short", SHORT), ("150 tokens", LONG), ("3 LoRAs", three)):
        rows[label] = (encode_ms(prompt, cached=False), encode_ms(prompt, cached=True))

    adapters = adapters_of(model)
    started = time.perf_counter()
    adapters.activate(model, plan(SHORT + " <lora:lora3:1>").loras)  # a file not loaded yet
    first_load_ms = (time.perf_counter() - started) * 1000
    set_a = plan(three).loras
    set_b = plan(SHORT + " <lora:lora3:0.7> <lora:lora4:0.7>").loras
    adapters.activate(model, set_a)
    adapters.activate(model, set_b)
    loads_before = adapters.loads
    switches = []
    for k in range(args.repeats):
        started = time.perf_counter()
        adapters.activate(model, set_a if k % 2 == 0 else set_b)
        switches.append((time.perf_counter() - started) * 1000)
    switch_ms = statistics.median(switches)
    assert adapters.loads == loads_before, "a switch loaded a file"

    print(f"prompt encoding per job, tiny model, {args.threads} threads, median of {args.repeats}")
    print(f"{'prompt':<12} {'no cache ms':>12} {'cache ms':>10} {'speed-up':>9}")
    for label, (cold, warm) in rows.items():
        print(f"{label:<12} {cold:>12.2f} {warm:>10.3f} {cold / warm:>8.0f}x")
    print(f"LoRA switch between two loaded sets (3 vs 2 adapters): {switch_ms:.2f} ms")
    print(f"first load of one LoRA file: {first_load_ms:.1f} ms ({first_load_ms / switch_ms:.0f}x a switch)")
    figures = {
        "encode_ms": {
            label: {"no_cache": round(c, 3), "cache": round(w, 4)} for label, (c, w) in rows.items()
        },
        "lora_switch_ms": round(switch_ms, 3),
        "lora_first_load_ms": round(first_load_ms, 2),
        "repeats": args.repeats,
        "threads": args.threads,
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
