"""GPU fast paths on the CPU: plans, attention, channels_last, the VAE upcast, bucketed compiled UNets.

torch.compile runs here with dynamo's "eager" backend (tracing, guards and graphs, no code
generation: seconds) or a backend that fails on purpose. A real inductor compile of the tiny UNet
takes about 90 s on the 2-core CPU, so that one test runs only with IMAGINE_SLOW_TESTS=1.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch

from generation.models.arch import Arch
from generation.models.loaded import LoadedModel, ModelEntry
from generation.models.tiny import build_tiny_pipeline
from generation.pipelines import acceleration as acc
from generation.pipelines.acceleration import (
    AccelerationPlan,
    BucketedForward,
    CompiledPart,
    accelerate,
    bucket_for,
    pad_rows,
    plan_acceleration,
    row_buckets,
)
from generation.pipelines.engine import generate
from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings

CUDA = torch.device("cuda")
CPU = torch.device("cpu")


def req(**changes) -> GenerationRequest:
    base = GenerationRequest("a red circle", width=64, height=64, steps=3, seed=321, count=1, sampler="Euler")
    return base.replace(**changes)


def pixels(image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def within_rounding(a, b) -> bool:
    """Equal up to kernel rounding: at most two levels on a few pixels (as batched UNets are)."""
    diff = np.abs(pixels(a) - pixels(b))
    return diff.max() <= 2 and (diff > 0).mean() < 0.02


def loaded(pipe) -> LoadedModel:
    entry = ModelEntry("tiny", "tiny", "diffusers")
    return LoadedModel("tiny", entry, pipe, Arch.SD1, None, CPU, torch.float32)


@pytest.fixture(scope="module")
def plain():
    """The tiny model as loaded, no fast paths: what the accelerated ones are compared with."""
    pipe = build_tiny_pipeline(0)
    pipe.set_progress_bar_config(disable=True)
    return loaded(pipe)


def batch_of(gm, example_inputs) -> int:
    """The batch size of a graph: its sample input's first dimension (weights are inputs too)."""
    names = [node.name for node in gm.graph.nodes if node.op == "placeholder"]
    inputs = zip(names, example_inputs, strict=True)
    return next(x.shape[0] for name, x in inputs if name in ("l_args_0_", "l_sample_"))


class CountingBackend:
    """dynamo's eager backend, counting the graphs it is given: (batch size, inputs) of each."""

    def __init__(self):
        self.graphs: list[tuple[int, int]] = []

    def __call__(self, gm, example_inputs):
        self.graphs.append((batch_of(gm, example_inputs), len(example_inputs)))
        return gm.forward


@pytest.fixture(scope="module")
def compiled():
    """A tiny model compiled for buckets of 1 and 2 images, warmed up at 64x64."""
    pipe = build_tiny_pipeline(0)
    pipe.set_progress_bar_config(disable=True)
    backend = CountingBackend()
    plan = AccelerationPlan(compile="default", buckets=(1, 2))
    done = accelerate(pipe, plan, warm_up_size=(64, 64), backend=backend)
    model = loaded(pipe)
    model.acceleration = done
    yield model, backend
    done.release()


# -- plans ---------------------------------------------------------------------------------------


def test_cuda_paths_only_on_cuda():
    settings = ModelSettings()
    on_gpu = plan_acceleration(settings, CUDA)
    assert on_gpu.channels_last and on_gpu.tf32 and on_gpu.cudnn_benchmark and on_gpu.attention == "sdpa"
    on_cpu = plan_acceleration(settings, CPU)
    assert not on_cpu.channels_last and on_cpu.tf32 is None and on_cpu.cudnn_benchmark is None
    assert on_cpu.attention == "sdpa" and not on_cpu.compiling
    off = plan_acceleration(ModelSettings(tf32=False, cudnn_benchmark=False, channels_last=False), CUDA)
    assert off.tf32 is False and off.cudnn_benchmark is False and not off.channels_last


def test_plan_follows_the_other_settings(tmp_path):
    plan = plan_acceleration(
        ModelSettings(compile="max-autotune", compile_buckets=(8, 2, 2, 1)), CPU, cache_dir=tmp_path
    )
    assert plan.compiling and plan.compile == "max-autotune" and plan.buckets == (1, 2, 8)
    assert plan.cache_dir == tmp_path
    assert plan_acceleration(ModelSettings(attention_slicing=True), CPU).attention is None  # slicing's own
    assert plan_acceleration(ModelSettings(batch_invariant=True), CPU).buckets == (1,)  # one image a call


def test_backends_are_set_process_wide():
    matmul, conv = torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision
    benchmark = torch.backends.cudnn.benchmark
    try:
        acc.set_backends(AccelerationPlan(tf32=True, cudnn_benchmark=True))
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
        assert torch.backends.cudnn.conv.fp32_precision == "tf32" and torch.backends.cudnn.benchmark
        acc.set_backends(AccelerationPlan(tf32=False, cudnn_benchmark=False))
        assert torch.backends.cuda.matmul.fp32_precision == "ieee" and not torch.backends.cudnn.benchmark
        acc.set_backends(AccelerationPlan(tf32=None, cudnn_benchmark=None))  # off CUDA: left alone
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    finally:
        torch.backends.cuda.matmul.fp32_precision = matmul
        torch.backends.cudnn.conv.fp32_precision = conv
        torch.backends.cudnn.benchmark = benchmark


# -- attention, memory format, VAE upcast -------------------------------------------------------------


def test_classic_attention_draws_the_same_images(plain):
    pipe = build_tiny_pipeline(0)
    pipe.set_progress_bar_config(disable=True)
    accelerate(pipe, AccelerationPlan(attention="classic"))
    processors = [*pipe.unet.attn_processors.values(), *pipe.vae.attn_processors.values()]
    kinds = {type(p).__name__ for p in processors}
    assert kinds == {"AttnProcessor"}
    ours = generate(loaded(pipe), [req(count=2)])[0]
    theirs = generate(plain, [req(count=2)])[0]
    assert all(within_rounding(a, b) for a, b in zip(ours, theirs, strict=True))
    accelerate(pipe, AccelerationPlan(attention="sdpa"))
    assert {type(p).__name__ for p in pipe.unet.attn_processors.values()} == {"AttnProcessor2_0"}


def test_channels_last_weights_draw_the_same_images(plain):
    pipe = build_tiny_pipeline(0)
    pipe.set_progress_bar_config(disable=True)
    accelerate(pipe, AccelerationPlan(channels_last=True))
    convs = [m for part in (pipe.unet, pipe.vae) for m in part.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(
        c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs if c.kernel_size != (1, 1)
    )
    ours = generate(loaded(pipe), [req(count=2)])[0]
    theirs = generate(plain, [req(count=2)])[0]
    assert all(within_rounding(a, b) for a, b in zip(ours, theirs, strict=True))


def test_vae_upcast_follows_the_config_unless_told_never():
    pipe = build_tiny_pipeline(0)
    pipe.vae.register_to_config(force_upcast=True)
    accelerate(pipe, AccelerationPlan(vae_upcast="auto"))
    assert pipe.vae.config.force_upcast is True
    accelerate(pipe, AccelerationPlan(vae_upcast="never"))
    assert pipe.vae.config.force_upcast is False


# -- buckets -------------------------------------------------------------------------------------


def test_buckets_count_images_with_and_without_guidance():
    assert row_buckets((1, 2, 4, 8)) == (1, 2, 4, 8, 16)
    assert row_buckets((1, 3)) == (1, 2, 3, 6)
    assert [bucket_for(n, (1, 2, 4, 8)) for n in (1, 2, 3, 5, 8, 9)] == [1, 2, 4, 8, 8, 8]


def test_padding_repeats_the_last_row_and_reaches_inside_containers():
    x = torch.arange(3.0).reshape(3, 1)
    other = torch.zeros(5)  # not a batch tensor: left alone
    padded = pad_rows({"a": x, "b": [x, other], "c": None}, 3, slice(0, 3), 4)
    assert padded["a"].flatten().tolist() == [0.0, 1.0, 2.0, 2.0]
    assert padded["b"][0].flatten().tolist() == [0.0, 1.0, 2.0, 2.0] and padded["b"][1] is other
    assert padded["c"] is None
    assert pad_rows(x, 3, slice(2, 3), 2).flatten().tolist() == [2.0, 2.0]


class RowRecorder:
    """A stand-in forward that records the batch it got and returns sample * 10 + timestep."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, sample, timestep, encoder_hidden_states=None, *, return_dict=True, **kwargs):
        self.calls.append(
            {"rows": sample.shape[0], "t": timestep.clone(), "kwargs": kwargs, "ehs": encoder_hidden_states}
        )
        return (sample * 10 + timestep.reshape(-1, 1),)


def test_bucketed_forward_pads_runs_and_drops_the_padding():
    inner = RowRecorder()
    forward = BucketedForward(CompiledPart("UNet", inner, inner, cudagraphs=False), (2, 4))
    sample = torch.arange(3.0).reshape(3, 1)
    out = forward(sample, torch.tensor(5), torch.ones(3, 2), added_cond_kwargs={"time_ids": torch.ones(3, 6)})
    assert out.sample.flatten().tolist() == [5.0, 15.0, 25.0]  # rows 0-2 only, in order
    call = inner.calls[-1]
    assert call["rows"] == 4 and call["ehs"].shape == (4, 2)
    assert call["kwargs"]["added_cond_kwargs"]["time_ids"].shape == (4, 6)
    assert call["t"].dtype == torch.float32 and call["t"].tolist() == [5.0] * 4  # one float per row
    # past the largest bucket: chunks of it, the last one padded
    out = forward(torch.arange(7.0).reshape(7, 1), torch.tensor([1] * 7), None, return_dict=False)[0]
    assert out.flatten().tolist() == [n * 10 + 1.0 for n in range(7)]
    assert [c["rows"] for c in inner.calls[-2:]] == [4, 4]
    assert forward.seen == {4: 3}


def test_bucketed_forward_without_padding_after_a_failure():
    inner = RowRecorder()

    def broken(*args, **kwargs):
        raise torch._dynamo.exc.InternalTorchDynamoError("no compiler")

    part = CompiledPart("UNet", inner, broken, cudagraphs=False)
    forward = BucketedForward(part, (4,))
    out = forward(torch.arange(3.0).reshape(3, 1), torch.tensor(5), None).sample
    assert out.flatten().tolist() == [5.0, 15.0, 25.0] and part.failure.startswith("InternalTorchDynamoError")
    assert [c["rows"] for c in inner.calls] == [4]  # the failed call reran eagerly, padded
    forward(torch.arange(3.0).reshape(3, 1), torch.tensor(5), None)
    assert [c["rows"] for c in inner.calls] == [4, 3]  # then no padding at all


def row_by_row(forward):
    """A batch-invariant forward: every row alone, so a row's result cannot depend on its batch."""

    def run(sample, timestep, encoder_hidden_states, *args, return_dict=True, **kwargs):
        rows = [
            forward(
                sample[i : i + 1],
                timestep[i : i + 1],
                encoder_hidden_states[i : i + 1],
                *args,
                return_dict=False,
                **kwargs,
            )[0]
            for i in range(sample.shape[0])
        ]
        return (torch.cat(rows),)

    return run


def test_padding_and_dropping_give_the_unpadded_images_when_the_unet_is_batch_invariant():
    """Three images (six rows with guidance) padded to a bucket of eight rows, then the padding
    dropped: with a UNet that works row by row, exactly the images of the unpadded run."""
    images = {}
    for buckets in ((3,), (4,)):  # rows (3, 6): no padding; rows (4, 8): 6 padded to 8
        pipe = build_tiny_pipeline(0)
        pipe.set_progress_bar_config(disable=True)
        inner = row_by_row(pipe.unet.forward)
        forward = BucketedForward(CompiledPart("UNet", inner, inner, cudagraphs=False), row_buckets(buckets))
        pipe.unet.forward = forward
        images[buckets] = generate(loaded(pipe), [req(count=3)])[0]
        assert forward.seen == ({6: 3} if buckets == (3,) else {8: 3})
    assert all((pixels(a) == pixels(b)).all() for a, b in zip(images[(3,)], images[(4,)], strict=True))


# -- compiling (dynamo, eager backend) --------------------------------------------------------------


def test_warm_up_compiles_every_bucket_before_the_first_job(compiled):
    model, backend = compiled
    assert model.acceleration.compiled == ("UNet", "VAE decoder") and model.acceleration.warmup_seconds > 0
    warm = list(backend.graphs)
    assert {2, 4} <= {g[0] for g in warm}  # one and two images with guidance
    # jobs at the warmed size, with samplers of float and integer timesteps: no new graphs
    for sampler in ("Euler a", "DPM++ 2M Karras", "DDIM"):
        generate(model, [req(count=2, sampler=sampler)])
        generate(model, [req(count=1, sampler=sampler, seed=5)])
    assert backend.graphs == warm


def test_compiled_buckets_draw_the_same_images(compiled, plain):
    model, _ = compiled
    forward = model.pipe.unet.forward
    forward.seen.clear()
    ours = generate(model, [req(count=3)])[0]  # 6 rows: past the largest bucket (4), chunked 4 + 2
    assert forward.seen == {4: 3, 2: 3}
    theirs = generate(plain, [req(count=3)])[0]
    assert all(within_rounding(a, b) for a, b in zip(ours, theirs, strict=True))


def test_compiled_batch_invariant_images_equal_the_eager_ones(compiled, plain):
    model, _ = compiled
    forward = model.pipe.unet.forward
    forward.seen.clear()
    ours = generate(model, [req(count=2, seed=77)], batch_invariant=True)[0]
    assert set(forward.seen) == {2}  # the per-image UNet calls go through the buckets one image each
    theirs = generate(plain, [req(count=2, seed=77)], batch_invariant=True)[0]
    assert all((pixels(a) == pixels(b)).all() for a, b in zip(ours, theirs, strict=True))
    assert model.pipe.unet.forward is forward  # the per-image patch put the bucketed forward back


def test_guards_see_the_seamless_tiling_patch(compiled, plain):
    model, _ = compiled
    ours = generate(model, [req(tiling=True, seed=9)])[0][0]
    theirs = generate(plain, [req(tiling=True, seed=9)])[0][0]
    untiled = generate(plain, [req(seed=9)])[0][0]
    assert within_rounding(ours, theirs) and not within_rounding(ours, untiled)


def test_sdxl_conditioning_is_padded_with_the_batch(plain):
    """SDXL's UNet takes its pooled text embeddings and size ids in added_cond_kwargs: those rows
    are padded with the sample's, or the compiled graph would see mismatched batches."""
    from generation.models.tiny import build_tiny_sdxl_pipeline

    def xl(pipe):
        pipe.set_progress_bar_config(disable=True)
        entry = ModelEntry("xl", "xl", "diffusers")
        return LoadedModel("xl", entry, pipe, Arch.SDXL, None, CPU, torch.float32)

    ours, theirs = xl(build_tiny_sdxl_pipeline(0)), xl(build_tiny_sdxl_pipeline(0))
    done = accelerate(ours.pipe, AccelerationPlan(compile="default", buckets=(1, 4)), backend="eager")
    try:
        images = generate(ours, [req(count=3)])[0]  # 6 rows padded to 8
        assert ours.pipe.unet.forward.seen == {8: 3} and done.failures == {}
        alone = generate(theirs, [req(count=3)])[0]
        assert all(within_rounding(a, b) for a, b in zip(images, alone, strict=True))
    finally:
        done.release()


def failing_backend(gm, example_inputs):
    raise RuntimeError("the compiler is broken")


def test_a_compile_failure_falls_back_to_eager_with_a_log_line(plain, caplog):
    pipe = build_tiny_pipeline(0)
    pipe.set_progress_bar_config(disable=True)
    with caplog.at_level(logging.WARNING, logger=acc.__name__):
        plan = AccelerationPlan(compile="default", buckets=(1,))
        done = accelerate(pipe, plan, warm_up_size=(64, 64), backend=failing_backend)
    assert done.compiled == () and set(done.failures) == {"UNet", "VAE decoder"}
    assert "the compiler is broken" in done.failures["UNet"]
    assert sum("runs eager from now on" in r.getMessage() for r in caplog.records) == 2
    ours = generate(loaded(pipe), [req(count=2)])[0]  # the job runs, eagerly
    theirs = generate(plain, [req(count=2)])[0]
    assert all((pixels(a) == pixels(b)).all() for a, b in zip(ours, theirs, strict=True))


def test_a_compile_failure_after_load_does_not_fail_the_job(plain):
    """Warmed up at one image; the first two-image job compiles a new graph, which fails."""

    def fails_for_big_batches(gm, example_inputs):
        if batch_of(gm, example_inputs) >= 4:
            raise RuntimeError("no kernels for this one")
        return gm.forward

    pipe = build_tiny_pipeline(0)
    pipe.set_progress_bar_config(disable=True)
    done = accelerate(
        pipe, AccelerationPlan(compile="default", buckets=(1, 2)), backend=fails_for_big_batches
    )
    model = loaded(pipe)
    generate(model, [req()])
    assert done.compiled == ("UNet", "VAE decoder")
    ours = generate(model, [req(count=2)])[0]
    assert "UNet" in done.failures and "VAE decoder" not in done.failures
    theirs = generate(plain, [req(count=2)])[0]
    assert all(within_rounding(a, b) for a, b in zip(ours, theirs, strict=True))
    done.release()
    assert "forward" not in vars(pipe.unet) and "forward" not in vars(pipe.vae.decoder)


@pytest.mark.skipif(not os.environ.get("IMAGINE_SLOW_TESTS"), reason="inductor on the CPU takes ~90 s")
def test_a_real_inductor_compile_of_the_tiny_unet(plain, tmp_path):
    pipe = build_tiny_pipeline(0)
    pipe.set_progress_bar_config(disable=True)
    done = accelerate(
        pipe,
        AccelerationPlan(compile="default", buckets=(1,), cache_dir=tmp_path / "inductor"),
        warm_up_size=(64, 64),
    )
    assert done.compiled == ("UNet", "VAE decoder") and any((tmp_path / "inductor").iterdir())
    ours = generate(loaded(pipe), [req()])[0][0]
    assert within_rounding(ours, generate(plain, [req()])[0][0])
