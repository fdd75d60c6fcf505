"""GPU speed: raw diffusers against the project's engine, eager and compiled, and the FLOP limit.

    python -m bench gpu [--models sd15,sdxl] [--steps 20] [--batches 1,4,8,max] [--repeats 2]
                        [--compile-mode default] [--budget 360] [--skip PHASES] [--out FILE]
    python -m bench gpu --smoke    # the same code paths on tiny models on the CPU, in seconds
    python -m bench gpu --flops    # UNet FLOPs per image of the full-size shapes (no GPU needed)

On a CUDA GPU, in float16, for an SD1.5-shaped pipeline at 512x512 and an SDXL-shaped one at
1024x1024, built from the project's own configs (generation/configs/sd1, sdxl) with random weights
(no download; the same cost as real weights), 20 steps, CFG 7, Euler:

1. the GPU's peak: a large bf16 matmul, timed (TFLOP/s);
2. UNet FLOPs per image (torch.utils.flop_counter on the meta device: shapes, no memory), and so
   the FLOP limit in images/s (UNet only: text encoders and the VAE are left out);
3. per batch (1, 4, 8 and the largest that fits, capped for time), each path's seconds, it/s (end
   to end, and of the denoising loop alone, from a second call at 2 steps: comparable with
   diffusers' progress bar), the fixed seconds (text encoders, VAE, overhead), images/s, s/image,
   peak GPU memory and fraction of the FLOP limit:
   - `raw`: diffusers `pipe(prompt=[...])`, as the bots we studied call it (torch defaults);
   - `engine`: the project's `generate()` eager, with its fast paths (SDPA, channels_last, TF32,
     cuDNN autotuning), one job per image as several users' jobs share a pass;
   - `engine+compile`: the same compiled (torch.compile behind batch buckets; compile and warm-up
     timed);
   - `raw+compile`: diffusers `pipe(...)` calling the same compiled UNet and VAE decoder (the
     diffusers guide's recipe, sharing the engine's graphs so they compile once);
4. `e2e`: one configuration end to end through the bot and localcord (bench/discord_e2e's `direct`
   and `through_discord`, SD1.5 at 512x512, 4 images a job, eager): the bot's overhead on a GPU;
5. `upscale`: a 4x ESRGAN upscale (RRDB, 23 blocks, random weights) of a 512x512 image through
   spandrel and the project's upscaler path, when spandrel is importable;
6. `recompile`: the SD1.5 compile again after dynamo forgot it, from the inductor cache (a restart).

Phases run in order of importance (SD1.5, e2e, upscale, SDXL, recompile); one due to start past
--budget seconds is skipped and says so, and the figures so far are written to --out after every
phase, so a run cut short still leaves them. Goals (issue 14, H100/H200): batch 1 within 5 % of
raw+compile; SD1.5 under load >= 10 images/s and >= 40 % of the FLOP limit; batching >= 2x one at a
time; bot overhead <= 3 %. Prints a table, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPT = "a photograph of a lighthouse on a cliff at dusk, dramatic sky, detailed, {}"
CFG = 7.0
GIB = 1024**3
PHASES = ("raw", "engine", "compiled", "e2e", "upscale", "recompile")


@dataclasses.dataclass(frozen=True)
class Shape:
    """A pipeline to build and the size to run it at."""

    name: str  # sd15 | sdxl
    configs: str  # a folder of generation/configs, or "tiny" / "tiny-xl" for the smoke run
    width: int
    height: int
    buckets: tuple[int, ...]  # compiled for (the larger batches run in chunks of the largest)
    max_batch: int  # the cap on "the largest batch that fits"


FULL = {
    "sd15": Shape("sd15", "sd1", 512, 512, (1, 4, 8), 64),
    "sdxl": Shape("sdxl", "sdxl", 1024, 1024, (1, 4), 16),
}
# Smoke: batches 1 and 3, so that 3 images (6 rows) run padded to the bucket of 4 (8 rows).
SMOKE = {
    "sd15": Shape("sd15", "tiny", 64, 64, (1, 4), 3),
    "sdxl": Shape("sdxl", "tiny-xl", 64, 64, (1, 4), 3),
}


# -- building pipelines ----------------------------------------------------------------------------


def sig(value: float, digits: int = 4) -> float:
    """`value` to `digits` significant digits (tiny smoke-run figures must not round to 0)."""
    return float(f"{value:.{digits}g}")


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def random_pipeline(configs: str, device: Any, dtype: Any) -> Any:
    """A pipeline from a config folder (or a tiny one) with random weights, on `device`."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from generation.models.arch import Arch
    from generation.models.loading import CONFIGS_DIR, TOKENIZER_PADS
    from generation.models.tiny import build_tiny_pipeline, build_tiny_sdxl_pipeline, load_clip_tokenizer

    if configs in ("tiny", "tiny-xl"):
        pipe = build_tiny_pipeline(0) if configs == "tiny" else build_tiny_sdxl_pipeline(0)
        pipe.to(device=device, dtype=dtype)
    else:
        folder = CONFIGS_DIR / configs
        xl = read_json(folder / "model_index.json")["_class_name"].startswith("StableDiffusionXL")
        arch = Arch.SDXL if xl else Arch.SD1
        torch.manual_seed(0)
        with torch.device(device):  # initialise straight on the GPU: seconds, not minutes
            unet = UNet2DConditionModel.from_config(read_json(folder / "unet" / "config.json"))
            vae = AutoencoderKL.from_config(read_json(folder / "vae" / "config.json"))
            text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder"))
            if xl:
                text_encoder_2 = CLIPTextModelWithProjection(
                    CLIPTextConfig.from_pretrained(folder / "text_encoder_2")
                )
        parts: dict[str, Any] = {
            "vae": vae.eval(),
            "text_encoder": text_encoder.eval(),
            "tokenizer": load_clip_tokenizer(TOKENIZER_PADS[(arch, "tokenizer")]),
            "unet": unet.eval(),
            "scheduler": EulerDiscreteScheduler.from_config(
                read_json(folder / "scheduler" / "scheduler_config.json")
            ),
        }
        if xl:
            parts.update(
                text_encoder_2=text_encoder_2.eval(),
                tokenizer_2=load_clip_tokenizer(TOKENIZER_PADS[(arch, "tokenizer_2")]),
            )
            pipe = StableDiffusionXLPipeline(**parts, add_watermarker=False)
        else:
            pipe = StableDiffusionPipeline(
                **parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False
            )
        pipe.to(dtype=dtype)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)  # the engine's "Euler"
    pipe.set_progress_bar_config(disable=True)
    return pipe


def arch_of(pipe: Any) -> Any:
    from generation.models.arch import Arch

    return Arch.SDXL if hasattr(pipe, "text_encoder_2") else Arch.SD1


# -- FLOPs -----------------------------------------------------------------------------------------


def unet_flops_per_step(unet_config: Any, width: int, height: int, dtype: Any) -> float:
    """FLOPs of one guided UNet evaluation of one image (two rows) at width x height, counted by
    torch.utils.flop_counter on the meta device (the real shapes, no weights in memory)."""
    import torch
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    config = dict(unet_config)
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config).to(dtype)
        rows = 2
        sample = torch.zeros(rows, config["in_channels"], height // 8, width // 8, dtype=dtype)
        context = torch.zeros(rows, 77, config["cross_attention_dim"], dtype=dtype)
        timestep = torch.zeros(rows)
        added = None
        if config.get("addition_embed_type") == "text_time":
            text = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]
            added = {
                "text_embeds": torch.zeros(rows, text, dtype=dtype),
                "time_ids": torch.zeros(rows, 6, dtype=dtype),
            }
    with warnings.catch_warnings(), torch.no_grad(), FlopCounterMode(display=False) as counter:
        warnings.simplefilter("ignore")
        unet(sample, timestep, encoder_hidden_states=context, added_cond_kwargs=added, return_dict=False)
    return float(counter.get_total_flops())


def measure_peak_flops(device: Any, smoke: bool) -> tuple[float, str]:
    """FLOP/s of a large matmul: bf16 8192^3 on a GPU (the dense tensor-core peak), fp32 on the CPU."""
    import torch

    cuda = device.type == "cuda"
    n, dtype = (8192, torch.bfloat16) if cuda else (256 if smoke else 1024, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    iters = 50 if cuda else 10
    best = float("inf")
    for _ in range(3):
        torch.matmul(a, b, out=out)
        sync(device)
        start = time.perf_counter()
        for _ in range(iters):
            torch.matmul(a, b, out=out)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * iters / best, f"{str(dtype).removeprefix('torch.')} {n}x{n} matmul"


# -- timing ----------------------------------------------------------------------------------------


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: Any) -> float:
    """Peak GPU memory allocated since the last reset; on the CPU the process's peak RSS."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / GIB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


@dataclasses.dataclass
class Run:
    model: str
    path: str
    batch: int
    steps: int
    seconds: float
    short_seconds: float  # the same call at SHORT_STEPS steps
    peak_gib: float
    flops_per_image: float
    peak_flops: float

    @property
    def images_per_s(self) -> float:
        return self.batch / self.seconds

    def figures(self) -> dict[str, Any]:
        # the denoising loop alone (comparable with diffusers' progress-bar it/s): a two-point fit;
        # None when noise swamped the difference (a loaded CPU)
        per_step = (self.seconds - self.short_seconds) / max(self.steps - SHORT_STEPS, 1)
        loop = sig(1 / per_step) if per_step > 0 else None
        fixed = sig(max(self.seconds - self.steps * per_step, 0.0)) if per_step > 0 else None
        return {
            "model": self.model,
            "path": self.path,
            "batch": self.batch,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            "it_per_s": round(self.steps / self.seconds, 3),  # end to end: steps / seconds of the call
            "loop_it_per_s": loop,
            "fixed_seconds": fixed,
            "images_per_s": round(self.images_per_s, 4),
            "s_per_image": round(self.seconds / self.batch, 4),
            "peak_memory_gib": round(self.peak_gib, 3),
            "flop_fraction": sig(self.images_per_s * self.flops_per_image / self.peak_flops),
        }


SHORT_STEPS = 2


def time_call(
    call: Callable[[int, int], Any], batch: int, steps: int, repeats: int, device: Any
) -> tuple[float, float, float]:
    """(median seconds, seconds of a SHORT_STEPS call, peak GiB) of `call(batch, steps)`, after one
    short untimed run (allocations, cuDNN autotuning, a compiled graph's first call). The short
    call separates the denoising loop from the fixed cost (text encoders, VAE, the engine's own)
    without synchronising inside the loop."""
    call(batch, SHORT_STEPS)
    sync(device)
    reset_peak(device)

    def timed(n: int) -> float:
        sync(device)
        start = time.perf_counter()
        call(batch, n)
        sync(device)
        return time.perf_counter() - start

    times = [timed(steps) for _ in range(repeats)]
    return statistics.median(times), timed(SHORT_STEPS), peak_gib(device)


# -- the paths ----------------------------------------------------------------------------------


def raw_call(pipe: Any, shape: Shape) -> Callable[[int, int], Any]:
    def call(batch: int, steps: int) -> Any:
        return pipe(
            prompt=[PROMPT.format(i) for i in range(batch)],
            width=shape.width,
            height=shape.height,
            num_inference_steps=steps,
            guidance_scale=CFG,
        ).images

    return call


def engine_call(model: Any, shape: Shape, settings: Any) -> Callable[[int, int], Any]:
    from generation.pipelines.engine import generate
    from generation.requests.request import GenerationRequest

    def call(batch: int, steps: int) -> Any:
        requests = [
            GenerationRequest(
                PROMPT.format(i),
                width=shape.width,
                height=shape.height,
                steps=steps,
                cfg_scale=CFG,
                sampler="Euler",
                seed=1000 + i,
                count=1,
            )
            for i in range(batch)
        ]
        return generate(model, requests, settings=settings)

    return call


def torch_defaults() -> Callable[[], None]:
    """A function that puts back torch's process-wide backend flags as they are now (raw diffusers
    runs with torch's defaults, whatever the engine's fast paths set before)."""
    import torch

    saved = (
        torch.backends.cuda.matmul.fp32_precision,
        torch.backends.cudnn.conv.fp32_precision,
        torch.backends.cudnn.benchmark,
    )

    def restore() -> None:
        torch.backends.cuda.matmul.fp32_precision = saved[0]
        torch.backends.cudnn.conv.fp32_precision = saved[1]
        torch.backends.cudnn.benchmark = saved[2]

    return restore


# -- the run ------------------------------------------------------------------------------------


class Bench:
    """The figures so far, the phases' budget, and the file they are written to."""

    def __init__(self, args: argparse.Namespace, device: Any, dtype: Any) -> None:
        self.args = args
        self.device = device
        self.dtype = dtype
        self.start = time.perf_counter()
        self.torch_defaults = torch_defaults()  # before any engine phase sets the fast paths
        self.runs: list[Run] = []
        self.figures: dict[str, Any] = {
            "benchmark": "gpu",
            "smoke": args.smoke,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "models": {},
            "phases": {},
        }

    @contextlib.contextmanager
    def phase(self, name: str, kind: str) -> Iterator[bool]:
        """Yields whether to run; records the phase's seconds (or why it was skipped), then saves."""
        elapsed = time.perf_counter() - self.start
        if kind in self.args.skip:
            self.figures["phases"][name] = "skipped (--skip)"
            yield False
        elif self.args.budget and elapsed > self.args.budget:
            self.figures["phases"][name] = f"skipped (time budget: {elapsed:.0f} s > {self.args.budget} s)"
            yield False
        else:
            began = time.perf_counter()
            try:
                yield True
            except Exception as exc:  # one phase failing must not lose the others' figures
                logging.exception("phase %s failed", name)
                self.figures["phases"][name] = f"failed: {type(exc).__name__}: {exc}"
            else:
                self.figures["phases"][name] = round(time.perf_counter() - began, 1)
        self.save()

    def measure(self, shape: Shape, path: str, call: Callable[[int, int], Any], batches: list[int]) -> None:
        import torch

        info = self.figures["models"][shape.name]
        for batch in batches:
            # large passes are steadier and long: one timed run (SD1.5 up to 8 images, SDXL up to 2: two)
            repeats = self.args.repeats if batch * shape.width * shape.height <= 8 * 512 * 512 else 1
            try:
                seconds, short, peak = time_call(call, batch, self.args.steps, repeats, self.device)
            except torch.OutOfMemoryError:
                info.setdefault("out_of_memory", []).append(f"{path} batch {batch}")
                free()
                continue
            run = Run(
                shape.name,
                path,
                batch,
                self.args.steps,
                seconds,
                short,
                peak,
                info["flops_per_image"],
                self.peak,
            )
            self.runs.append(run)
            info.setdefault("runs", []).append(run.figures())

    def save(self) -> None:
        self.figures["elapsed_seconds"] = round(time.perf_counter() - self.start, 1)
        if self.args.out:
            Path(self.args.out).write_text(json.dumps(self.figures, indent=1) + "\n")

    @property
    def peak(self) -> float:
        return self.figures["peak_tflops"] * 1e12


def free() -> None:
    from generation.models.memory import free_memory

    free_memory()


def batches_for(args: argparse.Namespace, shape: Shape, fit: int | None) -> list[int]:
    out = []
    for item in args.batches:
        if item == "max":
            if fit is not None and fit not in out:
                out.append(fit)
        elif int(item) not in out:
            out.append(int(item))
    return out


def largest_batch(runs: list[Run], shape: Shape, total_gib: float | None) -> int | None:
    """The largest batch that fits in 85 % of `total_gib` (in steps of 8, at most the shape's cap),
    from the peak memory of the raw runs at the two largest batch sizes (memory grows linearly with
    the batch). None: fewer than two sizes measured, or nothing larger fits. No total (the CPU): the cap."""
    if total_gib is None:
        return shape.max_batch
    sizes = sorted({r.batch: r.peak_gib for r in runs if r.path == "raw" and r.model == shape.name}.items())
    if len(sizes) < 2:
        return None
    (b1, m1), (b2, m2) = sizes[-2], sizes[-1]
    per_image = max((m2 - m1) / (b2 - b1), 1e-3)
    fit = int((0.85 * total_gib - (m2 - b2 * per_image)) / per_image)
    fit = min(shape.max_batch, fit // 8 * 8)
    return fit if fit > b2 else None


def device_memory_gib(device: Any) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    return torch.cuda.get_device_properties(device).total_memory / GIB


def model_settings(args: argparse.Namespace, shape: Shape, compile_mode: str) -> Any:
    from generation.settings import ModelSettings

    return ModelSettings(
        device="cpu" if args.smoke else "cuda",
        compile=compile_mode,
        compile_buckets=shape.buckets,
    )


def bench_model(bench: Bench, shape: Shape, e2e_dir: Path | None) -> Any:
    """Phases 2-3 for one shape; returns the loaded model (compiled) for the later phases."""
    from generation.models.loaded import LoadedModel, ModelEntry
    from generation.pipelines.acceleration import accelerate, plan_acceleration

    args, device = bench.args, bench.device
    pipe = random_pipeline(shape.configs, device, bench.dtype)
    info = bench.figures["models"].setdefault(shape.name, {})
    flops = unet_flops_per_step(pipe.unet.config, shape.width, shape.height, bench.dtype) * args.steps
    info.update(
        size=f"{shape.width}x{shape.height}",
        steps=args.steps,
        cfg=CFG,
        unet_parameters_m=round(sum(p.numel() for p in pipe.unet.parameters()) / 1e6, 1),
        unet_tflop_per_step=sig(flops / args.steps / 1e12),
        flops_per_image=flops,
        flop_limit_images_per_s=sig(bench.peak / flops),
    )
    if e2e_dir is not None:
        pipe.save_pretrained(e2e_dir, safe_serialization=True)  # before channels_last (safetensors)
    model = LoadedModel(
        shape.name,
        ModelEntry(shape.name, shape.name, "diffusers"),
        pipe,
        arch_of(pipe),
        None,
        device,
        bench.dtype,
    )
    fit = None

    with bench.phase(f"{shape.name} raw", "raw") as go:
        if go:
            bench.torch_defaults()
            bench.measure(shape, "raw", raw_call(pipe, shape), batches_for(args, shape, None))
            fit = largest_batch(bench.runs, shape, device_memory_gib(device))
            info["largest_batch"] = fit
            if fit is not None and "max" in args.batches:
                bench.measure(shape, "raw", raw_call(pipe, shape), [fit])

    with bench.phase(f"{shape.name} engine", "engine") as go:
        if go:
            settings = model_settings(args, shape, "off")
            model.acceleration = accelerate(pipe, plan_acceleration(settings, device))
            bench.measure(
                shape, "engine", engine_call(model, shape, settings), batches_for(args, shape, None)
            )

    with bench.phase(f"{shape.name} engine+compile", "compiled") as go:
        if go:
            settings = model_settings(args, shape, args.compile_mode)
            plan = plan_acceleration(settings, device, cache_dir=args.cache / "inductor")
            backend = "eager" if args.smoke else None
            model.acceleration = accelerate(
                pipe, plan, warm_up_size=(shape.width, shape.height), backend=backend
            )
            info["compile_seconds"] = round(model.acceleration.warmup_seconds, 2)
            info["compiled"] = list(model.acceleration.compiled)
            info["compile_failures"] = model.acceleration.failures
            bench.measure(
                shape, "engine+compile", engine_call(model, shape, settings), batches_for(args, shape, fit)
            )
            pipe.vae.enable_slicing()  # decode one image at a time: the decoder graph the engine compiled
            bench.measure(shape, "raw+compile", raw_call(pipe, shape), batches_for(args, shape, None))
            pipe.vae.disable_slicing()
            info["bucket_calls"] = dict(pipe.unet.forward.seen) if hasattr(pipe.unet.forward, "seen") else {}
    return model


def bench_e2e(bench: Bench, shape: Shape, models_dir: Path) -> None:
    """The bot's overhead: bench/discord_e2e's two paths, with this run's device and size."""
    from bench import discord_e2e

    args = bench.args
    original = discord_e2e.bench_settings

    def gpu_settings(scratch: Path, models_dir: Path, model: str, steps: int) -> Any:
        settings = original(scratch, models_dir, model, steps)
        return settings.replace(
            models=dataclasses.replace(settings.models, device=bench.device.type, compile="off"),
            defaults=dataclasses.replace(settings.defaults, width=shape.width, height=shape.height),
        )

    discord_e2e.bench_settings = gpu_settings  # discord_e2e builds its settings from the shipped config
    try:
        scratch = args.cache / "e2e"
        asyncio.run(discord_e2e.direct(scratch / "warm", models_dir, shape.name, 2, args.steps))
        direct = asyncio.run(
            discord_e2e.direct(scratch / "d", models_dir, shape.name, args.e2e_jobs, args.steps)
        )
        bot = asyncio.run(
            discord_e2e.through_discord(scratch / "b", models_dir, shape.name, args.e2e_jobs, args.steps, 0)
        )
    finally:
        discord_e2e.bench_settings = original
    per_gpu = (bot["elapsed"] / bot["gpu"]) / (direct["elapsed"] / direct["gpu"]) - 1
    bench.figures["e2e"] = {
        "model": shape.name,
        "size": f"{shape.width}x{shape.height}",
        "jobs": args.e2e_jobs,
        "images_per_job": 4,
        "direct_seconds": round(direct["elapsed"], 3),
        "discord_seconds": round(bot["elapsed"], 3),
        "overhead_percent": round((bot["elapsed"] / direct["elapsed"] - 1) * 100, 2),
        "overhead_per_gpu_second_percent": round(per_gpu * 100, 2),
        "images_per_s_through_discord": round(args.e2e_jobs * 4 / bot["elapsed"], 3),
    }


def bench_upscale(bench: Bench, model: Any) -> None:
    """A 4x ESRGAN upscale of a 512x512 image, through spandrel and generation.pipelines.upscalers."""
    try:
        import torch
        from spandrel.architectures.ESRGAN import ESRGAN
    except Exception as exc:  # not installed, or its torchvision does not match torch
        bench.figures["upscale"] = {
            "skipped": f"spandrel is not importable ({type(exc).__name__}: {exc})"[:300]
        }
        return
    import numpy as np
    from PIL import Image

    from generation.pipelines.upscalers import upscale_image

    path = bench.args.cache / "rrdb-x4.pth"
    torch.save(ESRGAN(num_filters=64, num_blocks=23, scale=4).state_dict(), path)  # RealESRGAN_x4plus's shape
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))
    start = time.perf_counter()
    upscale_image(model, image, (2048, 2048), path)
    first = time.perf_counter() - start
    reset_peak(bench.device)
    start = time.perf_counter()
    out = upscale_image(model, image, (2048, 2048), path)
    sync(bench.device)
    bench.figures["upscale"] = {
        "input": "512x512",
        "output": f"{out.width}x{out.height}",
        "first_seconds": round(first, 3),  # loading the .pth through spandrel included
        "seconds": round(time.perf_counter() - start, 3),
        "peak_memory_gib": round(peak_gib(bench.device), 3),
    }


def bench_recompile(bench: Bench, model: Any, shape: Shape) -> None:
    """Compile the model again after dynamo forgot everything, as a restart would: the inductor
    cache in the data folder turns the compile into tracing plus cache hits."""
    import torch

    from generation.pipelines.acceleration import accelerate, plan_acceleration

    torch._dynamo.reset()
    settings = model_settings(bench.args, shape, bench.args.compile_mode)
    plan = plan_acceleration(settings, bench.device, cache_dir=bench.args.cache / "inductor")
    backend = "eager" if bench.args.smoke else None
    again = accelerate(model.pipe, plan, warm_up_size=(shape.width, shape.height), backend=backend)
    info = bench.figures["models"][shape.name]
    info["compile_again_from_cache_seconds"] = round(again.warmup_seconds, 2)


def goals(bench: Bench) -> dict[str, Any]:
    def best(model: str, path: str) -> Run | None:
        runs = [r for r in bench.runs if r.model == model and r.path == path]
        return max(runs, key=lambda r: r.images_per_s) if runs else None

    def at(model: str, path: str, batch: int) -> Run | None:
        return next((r for r in bench.runs if (r.model, r.path, r.batch) == (model, path, batch)), None)

    out: dict[str, Any] = {}
    lone, raw_lone = at("sd15", "engine+compile", 1), at("sd15", "raw+compile", 1)
    if lone and raw_lone:
        out["lone_user_vs_raw_compile_percent"] = round((lone.seconds / raw_lone.seconds - 1) * 100, 2)
        out["lone_user_within_5_percent"] = lone.seconds <= raw_lone.seconds * 1.05
    top = best("sd15", "engine+compile") or best("sd15", "engine")
    if top:
        fraction = top.images_per_s * top.flops_per_image / top.peak_flops
        out["sd15_best_images_per_s"] = round(top.images_per_s, 3)
        out["sd15_best_batch"] = top.batch
        out["sd15_best_flop_fraction"] = round(fraction, 4)
        out["sd15_at_least_10_images_per_s"] = top.images_per_s >= 10
        out["sd15_at_least_40_percent_of_flop_limit"] = fraction >= 0.4
        one = at("sd15", top.path, 1)
        if one:
            out["batching_gain"] = round(top.images_per_s / one.images_per_s, 3)
            out["batching_at_least_2x"] = top.images_per_s >= 2 * one.images_per_s
    if "e2e" in bench.figures:
        overhead = bench.figures["e2e"]["overhead_per_gpu_second_percent"]
        out["bot_overhead_at_most_3_percent"] = overhead <= 3.0
    return out


def print_table(bench: Bench) -> None:
    fig = bench.figures
    print(f"device: {fig['device']}  peak {fig['peak_tflops']:.1f} TFLOP/s ({fig['peak_measured_with']})")
    for name, info in fig["models"].items():
        print(
            f"\n{name} {info['size']}, {info['steps']} steps, CFG {CFG:g}: "
            f"UNet {info['unet_parameters_m']} M params, "
            f"{info['unet_tflop_per_step']:.3f} TFLOP a guided step, "
            f"FLOP limit {info['flop_limit_images_per_s']:.2f} images/s"
            + (f"; compile + warm-up {info['compile_seconds']} s" if "compile_seconds" in info else "")
        )
        print(
            f"  {'path':16}{'batch':>6}{'s':>9}{'it/s':>9}{'loop':>9}{'img/s':>9}{'s/img':>9}"
            f"{'GiB':>8}{'FLOP %':>8}"
        )
        for run in info.get("runs", []):
            loop = f"{run['loop_it_per_s']:.2f}" if run["loop_it_per_s"] else "-"
            print(
                f"  {run['path']:16}{run['batch']:>6}{run['seconds']:>9.3f}{run['it_per_s']:>9.2f}{loop:>9}"
                f"{run['images_per_s']:>9.3f}{run['s_per_image']:>9.3f}{run['peak_memory_gib']:>8.2f}"
                f"{run['flop_fraction'] * 100:>7.1f}%"
            )
    if "e2e" in fig:
        e2e = fig["e2e"]
        print(
            f"\ne2e ({e2e['jobs']} jobs of 4 at {e2e['size']}): direct {e2e['direct_seconds']} s, "
            f"through Discord {e2e['discord_seconds']} s, overhead per GPU second "
            f"{e2e['overhead_per_gpu_second_percent']:+.2f} %"
        )
    if "upscale" in fig:
        print(f"upscale: {fig['upscale']}")
    print(f"phases: {fig['phases']}")
    print(f"goals: {fig.get('goals')}")


def flops_only() -> int:
    """UNet FLOPs per image of the full-size shapes (meta device), and the FLOP limit on a GPU of a
    given peak: a check of the issue's arithmetic that needs no GPU."""
    import torch

    from generation.models.loading import CONFIGS_DIR

    figures = {"benchmark": "gpu-flops", "steps": 20, "models": {}}
    for shape in FULL.values():
        config = read_json(CONFIGS_DIR / shape.configs / "unet" / "config.json")
        per_step = unet_flops_per_step(config, shape.width, shape.height, torch.float16)
        figures["models"][shape.name] = {
            "size": f"{shape.width}x{shape.height}",
            "unet_tflop_per_guided_step": round(per_step / 1e12, 4),
            "unet_tflop_per_image_20_steps": round(per_step * 20 / 1e12, 2),
            "limit_images_per_s_at_790_tflops": round(790e12 / (per_step * 20), 2),
        }
        print(f"{shape.name} {shape.width}x{shape.height}: {per_step / 1e12:.3f} TFLOP a guided step")
    print(json.dumps(figures))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny models on the CPU (the test runs this)")
    ap.add_argument("--flops", action="store_true", help="only count the full-size UNets' FLOPs")
    ap.add_argument("--models", default="sd15,sdxl")
    ap.add_argument("--steps", type=int, help="sampling steps (default 20; smoke 6)")
    ap.add_argument("--batches", default="1,4,8,max", help='batch sizes; "max": the largest that fits')
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per batch up to 8 (medians count)")
    ap.add_argument("--compile-mode", default="default", choices=("default", "max-autotune"))
    ap.add_argument("--budget", type=float, help="seconds after which no new phase starts (default 360)")
    ap.add_argument("--skip", default="", help=f"phases to leave out: {','.join(PHASES)}")
    ap.add_argument("--e2e-jobs", type=int, help="jobs through the bot (default 8; smoke 2)")
    ap.add_argument("--cache", type=Path, help="folder for the inductor cache and scratch (default: temp)")
    ap.add_argument("--out", help="also write the figures here, after every phase")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    if args.flops:
        return flops_only()

    import torch

    smoke = args.smoke
    if not smoke and not torch.cuda.is_available():
        print("no CUDA GPU here: run `python -m bench gpu --smoke` (tiny models on the CPU)", file=sys.stderr)
        return 2
    args.steps = args.steps or (6 if smoke else 20)
    args.batches = [b.strip() for b in args.batches.split(",") if b.strip()]
    if smoke:
        args.batches = [b for b in args.batches if b == "max" or int(b) <= 3] or ["1"]
        args.repeats = 1
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    args.e2e_jobs = args.e2e_jobs or (2 if smoke else 8)
    args.budget = args.budget if args.budget is not None else (0 if smoke else 360)
    shapes = SMOKE if smoke else FULL
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = set(names) - set(shapes)
    if unknown:
        ap.error(f"unknown models {sorted(unknown)}; known: {', '.join(shapes)}")
    warnings.filterwarnings("ignore")  # random weights make NaN pixels; numpy says so for every image
    logging.getLogger("diffusers").setLevel(logging.ERROR)

    device = torch.device("cpu" if smoke else "cuda")
    dtype = torch.float32 if smoke else torch.float16
    if smoke:
        torch.set_num_threads(1)  # tiny tensors gain nothing from threads on a shared CPU
    with contextlib.ExitStack() as stack:
        if args.cache is None:
            args.cache = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-gpu-")))
        args.cache.mkdir(parents=True, exist_ok=True)
        bench = Bench(args, device, dtype)
        fig = bench.figures
        fig["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke)"
        fig["dtype"] = str(dtype).removeprefix("torch.")
        fig["torch"] = torch.__version__
        fig["compile_mode"] = args.compile_mode if not smoke else "dynamo eager backend (smoke)"
        peak, how = measure_peak_flops(device, smoke)
        fig["peak_tflops"] = sig(peak / 1e12)
        fig["peak_measured_with"] = how

        models: dict[str, Any] = {}
        for name in names:
            shape = shapes[name]
            e2e_dir = args.cache / "models" / name if name == "sd15" and "e2e" not in args.skip else None
            models[name] = bench_model(bench, shape, e2e_dir)
            if name == "sd15":
                with bench.phase("e2e", "e2e") as go:
                    if go and e2e_dir is not None:
                        bench_e2e(bench, shape, e2e_dir.parent)
                with bench.phase("upscale", "upscale") as go:
                    if go:
                        bench_upscale(bench, models[name])
            models[name].derived.clear()  # the upscaler
            free()
        if "compile_seconds" in fig["models"].get("sd15", {}):
            with bench.phase("sd15 recompile", "recompile") as go:
                if go:
                    bench_recompile(bench, models["sd15"], shapes["sd15"])
        for info in fig["models"].values():
            info.pop("flops_per_image", None)
        fig["goals"] = goals(bench)
        bench.save()
        print_table(bench)
        print(json.dumps(fig))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
