"""load_model applies the GPU fast paths of the settings; with compile on it warms up before returning."""

from __future__ import annotations

import gc
import logging
import os
import weakref

import pytest
import torch

from generation.models import ModelRegistry, load_model, unload_model
from generation.pipelines import acceleration as acc
from generation.pipelines.engine import generate
from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings

REQUEST = GenerationRequest("a red circle", width=64, height=64, steps=2, seed=3, count=1, sampler="Euler")


@pytest.fixture
def registry(tiny_model_dir):
    return ModelRegistry(tiny_model_dir.parent)


@pytest.fixture
def eager_backend(monkeypatch):
    """dynamo traces and guards as on a GPU, but runs the graphs eagerly (no code generation)."""
    monkeypatch.setattr(acc, "COMPILE_BACKEND", "eager")
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)  # restored after the test


def test_fast_paths_without_compiling_by_default(registry, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    model = load_model(registry.get("tiny"), ModelSettings(device="cpu", attention="classic"), registry)
    try:
        assert model.acceleration.plan.attention == "classic" and not model.acceleration.plan.compiling
        assert {type(p).__name__ for p in model.pipe.unet.attn_processors.values()} == {"AttnProcessor"}
        assert model.acceleration.compiled == () and "forward" not in vars(model.pipe.unet)
        assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ
    finally:
        unload_model(model)


def test_a_broken_compiler_does_not_fail_the_load(registry, tmp_path, monkeypatch, caplog):
    def broken(gm, example_inputs):
        raise RuntimeError("no C compiler")

    monkeypatch.setattr(acc, "COMPILE_BACKEND", broken)
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    settings = ModelSettings(device="cpu", compile="max-autotune", compile_buckets=(1,))
    with caplog.at_level(logging.WARNING):
        model = load_model(registry.get("tiny"), settings, registry, compile_cache=tmp_path)
    try:
        assert model.acceleration.compiled == ()
        assert "no C compiler" in model.acceleration.failures["UNet"]
        assert any("runs eager from now on" in r.getMessage() for r in caplog.records)
        assert generate(model, [REQUEST.replace(count=2)])[0][1].size == (64, 64)
    finally:
        unload_model(model)
    assert torch.get_num_threads() >= 1


def test_compiled_at_load_warmed_up_checked_cached_and_released(tmp_path, monkeypatch):
    """Through the worker's runner: the model compiles and warms up at its native size (128x128
    here) while loading, with the kernel cache in paths.cache_dir; a switch's check job runs at that
    size, so it compiles nothing new; unloading frees the UNet despite the compiled graphs."""
    from generation.models.tiny import build_tiny_pipeline
    from generation.settings import PathSettings, Settings
    from generation.workers.runner import PipelineRunner

    pipe = build_tiny_pipeline(0)
    pipe.unet.register_to_config(sample_size=16)  # native size 128x128; the check's own is 64x64
    pipe.save_pretrained(tmp_path / "models" / "tiny128", safe_serialization=True)
    del pipe
    graphs = []

    def counting(gm, example_inputs):  # dynamo's eager backend, counting the graphs
        graphs.append(len(example_inputs))
        return gm.forward

    monkeypatch.setattr(acc, "COMPILE_BACKEND", counting)
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)  # restored after the test
    settings = Settings(
        paths=PathSettings(models_dir=tmp_path / "models", cache_dir=tmp_path / "cache"),
        models=ModelSettings(device="cpu", compile="default", compile_buckets=(1,)),
    )
    runner = PipelineRunner(settings)
    model = runner.load("tiny128")
    assert model.acceleration.compiled == ("UNet", "VAE decoder")
    assert model.acceleration.warmup_seconds > 0 and model.acceleration.warmed_size == (128, 128)
    assert dict(model.pipe.unet.forward.seen) == {2: acc.WARM_UP_STEPS}  # one image, with guidance
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "cache")
    assert (tmp_path / "cache").is_dir()
    warm = len(graphs)
    assert warm == 2  # the UNet and the VAE decoder
    runner.check(model)
    assert generate(model, [REQUEST.replace(width=128, height=128)])[0][0].size == (128, 128)
    assert len(graphs) == warm
    unet = weakref.ref(model.pipe.unet)
    runner.unload(model)
    gc.collect()
    assert model.acceleration is None and unet() is None  # the compiled graphs did not keep it alive
