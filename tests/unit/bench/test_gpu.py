"""`python -m bench gpu`: the smoke run's figures, and the full-size pipelines it builds on a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.gpu import random_pipeline, unet_flops_per_step

REPO = Path(__file__).resolve().parents[3]
PATHS = {"raw", "engine", "engine+compile", "raw+compile"}
POSITIVE = (
    "seconds",
    "it_per_s",
    "loop_it_per_s",
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
        [sys.executable, "-m", "bench", "gpu", "--smoke", "--skip", "recompile", "--out", str(out)],
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
    for name in ("sd15", "sdxl"):
        info = figures["models"][name]
        assert info["unet_tflop_per_step"] > 0 and info["flop_limit_images_per_s"] > 0
        assert info["compile_seconds"] > 0 and info["compiled"] == ["UNet", "VAE decoder"]
        assert info["compile_failures"] == {}
        assert info["bucket_calls"]["8"] > 0  # three images (six rows) ran padded to the bucket of four
        runs = info["runs"]
        assert {run["path"] for run in runs} == PATHS
        assert {run["batch"] for run in runs if run["path"] == "engine+compile"} == {1, 3}
        for run in runs:
            assert all(run[key] > 0 for key in POSITIVE) and run["fixed_seconds"] >= 0, run
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
