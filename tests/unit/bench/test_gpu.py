"""`python -m bench gpu`: the smoke run's figures, and the full-size pipelines it builds on a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from bench.gpu import FULL, Run, bench_upscale, largest_batch, random_pipeline, unet_flops_per_step
from generation.models.arch import Arch
from generation.models.loaded import LoadedModel, ModelEntry

REPO = Path(__file__).resolve().parents[3]
PATHS = {"raw", "engine", "engine+compile", "raw+compile"}
POSITIVE = (
    "seconds",
    "it_per_s",
    "images_per_s",
    "s_per_image",
    "peak_memory_gib",
    "flop_fraction",
)


@pytest.mark.timeout(400)
def test_the_smoke_run_reports_every_figure(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        # SD1.5-shaped only: the SDXL-shaped paths are the same code (tests/unit/pipelines covers
        # SDXL's compiled buckets); the recompile phase is one more compile of the same graphs
        [
            sys.executable,
            "-m",
            "bench",
            "gpu",
            "--smoke",
            "--models",
            "sd15",
            "--skip",
            "recompile",
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=380,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures == json.loads(out.read_text())  # the file holds the same figures
    assert figures["benchmark"] == "gpu" and figures["smoke"] is True and figures["peak_tflops"] > 0
    assert set(figures["models"]) == {"sd15"}
    for name in ("sd15",):
        info = figures["models"][name]
        assert info["unet_tflop_per_step"] > 0 and info["flop_limit_images_per_s"] > 0
        assert info["compile_seconds"] > 0 and info["compiled"] == ["UNet", "VAE decoder"]
        assert info["compile_failures"] == {}
        assert info["bucket_calls"]["8"] > 0  # three images (six rows) ran padded to the bucket of four
        runs = info["runs"]
        assert {run["path"] for run in runs} == PATHS
        assert {run["batch"] for run in runs if run["path"] == "engine+compile"} == {1, 3}
        for run in runs:
            assert all(run[key] > 0 for key in POSITIVE), run
            # the loop's own rate: None only when a loaded CPU's noise swamps 4 steps' time
            assert run["loop_it_per_s"] is None or (run["loop_it_per_s"] > 0 and run["fixed_seconds"] >= 0)
    e2e = figures["e2e"]
    assert e2e["direct_seconds"] > 0 and e2e["discord_seconds"] > 0
    assert isinstance(e2e["overhead_per_gpu_second_percent"], float)
    assert "skipped" in figures["upscale"] or figures["upscale"]["seconds"] > 0
    phases = figures["phases"]
    assert phases.pop("sd15 recompile") == "skipped (--skip)"
    assert all(isinstance(seconds, float) for seconds in phases.values()), phases
    assert set(figures["goals"]) >= {"lone_user_within_5_percent", "batching_gain", "sd15_best_images_per_s"}


@pytest.mark.parametrize(
    ("configs", "kind", "params_m", "size", "tflop"),
    [
        ("sd1", "StableDiffusionPipeline", (850, 870), 512, (1.5, 1.7)),
        ("sdxl", "StableDiffusionXLPipeline", (2500, 2600), 1024, (13.0, 14.0)),
    ],
)
def test_full_size_pipelines_build_from_the_project_configs(configs, kind, params_m, size, tflop):
    """What the GPU run builds, on the meta device (shapes, no memory): SD1.5's 860 M-parameter
    UNet at about 1.6 TFLOP a guided step at 512x512, SDXL's 2.6 B one at 1024x1024."""
    pipe = random_pipeline(configs, torch.device("meta"), torch.float16)
    assert type(pipe).__name__ == kind and pipe.unet.dtype == torch.float16
    assert type(pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    assert params_m[0] < sum(p.numel() for p in pipe.unet.parameters()) / 1e6 < params_m[1]
    per_step = unet_flops_per_step(pipe.unet.config, size, size, torch.float16)
    assert tflop[0] < per_step / 1e12 < tflop[1]


def raw_run(batch: int, peak_gib: float) -> Run:
    return Run("sd15", "raw", batch, 20, 1.0, 0.2, peak_gib, 1e12, 1e15)


def test_the_largest_batch_comes_from_the_memory_of_two_batches():
    shape = FULL["sd15"]
    # 2 GiB of weights and 0.5 GiB an image: 85 % of 30 GiB holds 47 images, so 40 in steps of 8
    runs = [raw_run(1, 2.5), raw_run(4, 4.0), raw_run(8, 6.0)]
    assert largest_batch(runs, shape, 30.0) == 40
    assert largest_batch(runs, shape, 141.0) == shape.max_batch  # capped for time
    assert largest_batch(runs, shape, 8.0) is None  # nothing larger than 8 fits
    assert largest_batch(runs[:1], shape, 40.0) is None  # one size: no slope
    assert largest_batch(runs, shape, None) == shape.max_batch  # the CPU smoke run: the cap


def test_the_upscale_phase_goes_through_the_projects_upscaler(tmp_path, monkeypatch):
    """spandrel cannot run here (its torchvision does not match the CPU torch): a stand-in with
    its two entry points, a 4x "ESRGAN" and the file loader, runs the phase's own code."""

    class ESRGAN(torch.nn.Module):
        def __init__(self, *, num_filters, num_blocks, scale):
            super().__init__()
            self.scale = scale
            self.conv = torch.nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return torch.nn.functional.interpolate(self.conv(x), scale_factor=self.scale)

    class ModelLoader:
        def load_from_file(self, path):
            model = ESRGAN(num_filters=64, num_blocks=23, scale=4)
            model.load_state_dict(torch.load(path, weights_only=True))
            return model

    spandrel = types.ModuleType("spandrel")
    spandrel.ModelLoader = ModelLoader
    architectures = types.ModuleType("spandrel.architectures")
    esrgan = types.ModuleType("spandrel.architectures.ESRGAN")
    esrgan.ESRGAN = ESRGAN
    for name, module in [
        ("spandrel", spandrel),
        ("spandrel.architectures", architectures),
        ("spandrel.architectures.ESRGAN", esrgan),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    bench = SimpleNamespace(args=SimpleNamespace(cache=tmp_path), device=torch.device("cpu"), figures={})
    model = LoadedModel(
        "m", ModelEntry("m", "m", "diffusers"), None, Arch.SD1, None, torch.device("cpu"), None
    )
    bench_upscale(bench, model)
    figures = bench.figures["upscale"]
    assert figures["output"] == "2048x2048" and figures["seconds"] > 0 and figures["first_seconds"] > 0
    assert (tmp_path / "rrdb-x4.pth").is_file() and model.derived["upscaler"]
