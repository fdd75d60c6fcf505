"""GPU fast paths for a pipeline, applied once when its model loads (`accelerate`).

1. backends (CUDA, process-wide): TF32 for float32 matmuls and convolutions, cuDNN autotuning;
2. attention: torch's fused scaled-dot-product attention (SDPA) or diffusers' plain attention;
3. memory format (CUDA): UNet and VAE weights in channels_last;
4. the VAE's float32 upcast: where its config asks for it (`force_upcast`), or never;
5. `torch.compile` (when asked) of the UNet behind batch buckets and of the VAE decoder, with the
   inductor cache in the data folder, warmed up at every bucket before the model serves a job. A
   compile failure, at load or later, switches that part back to eager with one log line: it never
   fails a job.

Buckets: a compiled graph is specialised to its input shapes, so each new UNet batch size would
compile again (a minute for SD1.5). The compiled UNet's forward pads the batch (dim 0 of every
batch tensor, repeating its last row) up to the next bucket and drops the padding rows from the
output. A UNet works on each row alone (convolutions, group norm and attention are per sample),
so the real rows come out as they would unpadded, up to the rounding of kernels of another batch
size. A batch past the largest bucket runs in chunks of it. Buckets count images: with
classifier-free guidance an image is two UNet rows, so the rows compiled are each bucket and
twice it.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0
from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

from generation.models.memory import free_memory
from generation.settings import ModelSettings

log = logging.getLogger(__name__)

COMPILE_MODES = ("off", "default", "max-autotune")
# What torch.compile raises when it cannot trace or compile (BackendCompilerFailed, InductorError,
# Unsupported, ...); anything else (out of memory, a real bug in the inputs) is not a compile failure.
COMPILE_FAILURES: tuple[type[BaseException], ...] = (torch._dynamo.exc.TorchDynamoException,)
# Graphs kept per compiled function (image sizes x buckets); past it, dynamo runs new shapes eagerly.
RECOMPILE_LIMIT = 64
WARM_UP_STEPS = 2
COMPILE_BACKEND = "inductor"  # torch.compile's backend when accelerate() is given none (tests swap it)


@dataclass(frozen=True)
class AccelerationPlan:
    """What to apply to a pipeline on its device. None: leave torch's or diffusers' own choice."""

    attention: str | None = "sdpa"  # sdpa | classic | None (attention slicing chose the processors)
    channels_last: bool = False
    tf32: bool | None = None  # process-wide, CUDA only
    cudnn_benchmark: bool | None = None  # process-wide, CUDA only
    vae_upcast: str = "auto"  # auto | never
    compile: str = "off"  # off | default | max-autotune
    buckets: tuple[int, ...] = (1, 2, 4, 8)  # images per UNet pass the compiled graphs are built for
    cache_dir: Path | None = None  # the inductor cache; None: torch's default (a temp folder)

    @property
    def compiling(self) -> bool:
        return self.compile != "off"


def plan_acceleration(
    settings: ModelSettings, device: torch.device | str, *, cache_dir: Path | None = None
) -> AccelerationPlan:
    """The plan for `settings` on `device`: the CUDA-only paths only on CUDA."""
    cuda = torch.device(device).type == "cuda"
    buckets = tuple(sorted(set(settings.compile_buckets)))
    if settings.batch_invariant:  # the UNet then sees one image per call: one bucket serves all
        buckets = (1,)
    return AccelerationPlan(
        attention=None if settings.attention_slicing else settings.attention,
        channels_last=cuda and settings.channels_last,
        tf32=settings.tf32 if cuda else None,
        cudnn_benchmark=settings.cudnn_benchmark if cuda else None,
        vae_upcast=settings.vae_upcast,
        compile=settings.compile,
        buckets=buckets,
        cache_dir=cache_dir,
    )


@dataclass
class Acceleration:
    """What accelerate() did to a pipeline; kept with the loaded model (`LoadedModel.acceleration`)."""

    plan: AccelerationPlan
    parts: list[CompiledPart] = field(default_factory=list)
    warmup_seconds: float = 0.0  # compiling included
    warmed_size: tuple[int, int] | None = None  # (width, height) the graphs were compiled at, at load
    _patched: list[torch.nn.Module] = field(default_factory=list, repr=False)

    @property
    def compiled(self) -> tuple[str, ...]:
        """The parts that run compiled now (a part whose compile failed runs eager)."""
        return tuple(part.name for part in self.parts if part.failure is None)

    @property
    def failures(self) -> dict[str, str]:
        return {part.name: part.failure for part in self.parts if part.failure is not None}

    def release(self) -> None:
        """Put the modules' own forwards back (an unload drops the compiled graphs with them)."""
        for module in self._patched:
            vars(module).pop("forward", None)
        self._patched.clear()
        self.parts.clear()


def accelerate(
    pipe: Any,
    plan: AccelerationPlan,
    *,
    warm_up_size: tuple[int, int] | None = None,
    backend: str | Callable[..., Any] | None = None,
) -> Acceleration:
    """Apply `plan` to `pipe` (a loaded SD or SDXL pipeline on its device), in numbered steps.

    `warm_up_size` (width, height): when compiling, run the pipeline at every bucket at that size
    before returning, so that the first jobs do not wait for the compiler. `backend` is
    torch.compile's (None: COMPILE_BACKEND, "inductor"; tests pass "eager" or a failing one).
    """
    # 1. backends
    set_backends(plan)
    # 2. attention
    set_attention(pipe, plan.attention)
    # 3. memory format
    if plan.channels_last:
        for part in (pipe.unet, pipe.vae):
            part.to(memory_format=torch.channels_last)
    # 4. the VAE's upcast
    set_vae_upcast(pipe.vae, plan.vae_upcast)
    # 5. compile and warm up
    acceleration = Acceleration(plan)
    if plan.compiling:
        compile_pipeline(pipe, acceleration, backend=backend or COMPILE_BACKEND)
        if warm_up_size is not None:
            acceleration.warmup_seconds = warm_up(pipe, plan.buckets, warm_up_size)
            acceleration.warmed_size = warm_up_size
    return acceleration


# -- 1-4. backends, attention, memory format, VAE ------------------------------------------------


def set_backends(plan: AccelerationPlan) -> None:
    """TF32 and cuDNN autotuning for the whole process (CUDA settings; None leaves them)."""
    if plan.tf32 is not None:
        conv = getattr(torch.backends.cudnn, "conv", None)
        if conv is not None and hasattr(conv, "fp32_precision"):  # torch >= 2.9
            precision = "tf32" if plan.tf32 else "ieee"
            torch.backends.cuda.matmul.fp32_precision = precision
            conv.fp32_precision = precision
        else:  # the older flags
            torch.backends.cuda.matmul.allow_tf32 = plan.tf32
            torch.backends.cudnn.allow_tf32 = plan.tf32
    if plan.cudnn_benchmark is not None:
        torch.backends.cudnn.benchmark = plan.cudnn_benchmark


def set_attention(pipe: Any, kind: str | None) -> None:
    """SDPA (torch's fused kernels: flash or memory-efficient attention on GPUs) or the classic
    baddbmm + softmax processor, in the UNet and the VAE's mid-block attention."""
    if kind is None:
        return
    processor = AttnProcessor2_0 if kind == "sdpa" else AttnProcessor
    for part in (pipe.unet, pipe.vae):
        if hasattr(part, "set_attn_processor"):
            part.set_attn_processor(processor())


def set_vae_upcast(vae: Any, policy: str) -> None:
    """SDXL's pipelines decode a float16 VAE in float32 when its config says `force_upcast` (the
    original SDXL VAE overflows in float16); "never" tells them this VAE is float16-safe. SD 1.x
    and 2.x pipelines never upcast: their VAE decodes well in float16."""
    if policy == "never" and getattr(vae.config, "force_upcast", False):
        vae.register_to_config(force_upcast=False)


# -- 5. compiling --------------------------------------------------------------------------------


class CompiledPart:
    """A module's forward run compiled, and eager from the first compile failure on."""

    def __init__(
        self, name: str, eager: Callable[..., Any], compiled: Callable[..., Any], *, cudagraphs: bool
    ) -> None:
        self.name = name
        self.eager = eager
        self.compiled = compiled
        self.cudagraphs = cudagraphs
        self.failure: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.failure is None:
            try:
                if self.cudagraphs:  # each call is a new step: earlier outputs may be overwritten
                    torch.compiler.cudagraph_mark_step_begin()
                return self.compiled(*args, **kwargs)
            except COMPILE_FAILURES as exc:
                self.failure = describe_failure(exc)
                log.warning(
                    "torch.compile of the %s failed; it runs eager from now on (%s)", self.name, self.failure
                )
        return self.eager(*args, **kwargs)


def describe_failure(exc: BaseException) -> str:
    """One line: the compiler's exception and, when it wraps one (a backend's), the cause's first line."""
    inner = getattr(exc, "inner_exception", None)
    text = f"{type(inner).__name__}: {inner}" if inner is not None else str(exc)
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {line[:300]}"


def row_buckets(buckets: tuple[int, ...]) -> tuple[int, ...]:
    """The UNet batch sizes for image buckets: with guidance an image is two rows, without one."""
    return tuple(sorted({*buckets, *(2 * b for b in buckets)}))


def bucket_for(rows: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket that holds `rows` (the largest when none does: the caller chunks)."""
    return next((b for b in buckets if b >= rows), buckets[-1])


class BucketedForward:
    """The UNet's forward through a compiled part, its batch padded to a bucket (see the module doc)."""

    def __init__(self, part: CompiledPart, rows: tuple[int, ...], *, copy_out: bool = False):
        self.part = part
        self.rows = rows
        self.copy_out = copy_out  # CUDA graphs reuse their output buffers: copy what we keep
        self.seen: Counter[int] = Counter()  # calls per padded batch size (for tests and benchmarks)

    def __call__(
        self,
        sample: torch.Tensor,
        timestep: Any,
        encoder_hidden_states: torch.Tensor | None = None,
        *args: Any,
        return_dict: bool = True,
        **kwargs: Any,
    ) -> Any:
        if self.part.failure is not None:  # eager now: padding would only cost
            return self.part.eager(
                sample, timestep, encoder_hidden_states, *args, return_dict=return_dict, **kwargs
            )
        n = sample.shape[0]
        timesteps = batch_timesteps(timestep, n, sample.device)
        largest = self.rows[-1]
        outs = []
        for start in range(0, n, largest):
            rows = slice(start, min(n, start + largest))
            size = bucket_for(rows.stop - rows.start, self.rows)
            self.seen[size] += 1
            out = self.part(
                *(pad_rows(x, n, rows, size) for x in (sample, timesteps, encoder_hidden_states, *args)),
                return_dict=False,
                **{k: pad_rows(v, n, rows, size) for k, v in kwargs.items()},
            )[0][: rows.stop - rows.start]
            outs.append(out.clone() if self.copy_out else out)
        out = outs[0] if len(outs) == 1 else torch.cat(outs)
        return UNet2DConditionOutput(sample=out) if return_dict else (out,)


def batch_timesteps(timestep: Any, rows: int, device: torch.device) -> torch.Tensor:
    """The timestep as one float32 value per row. The UNet embeds it as float32 anyway, and one
    form for every sampler (float or integer, 0-d or per row) keeps them to the same graphs."""
    t = torch.as_tensor(timestep, device=device)
    if t.dim() == 0 or (t.numel() == 1 and rows != 1):
        t = t.reshape(1).repeat(rows)
    return t.to(torch.float32)


def pad_rows(value: Any, n: int, rows: slice, size: int) -> Any:
    """`value[rows]` for a batch tensor (dim 0 == n, also inside dicts, lists and tuples), padded
    to `size` rows with copies of its last row; anything else as it is."""
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == n:
        part = value[rows]
        missing = size - part.shape[0]
        if missing > 0:
            part = torch.cat([part, part[-1:].expand(missing, *part.shape[1:])])
        return part
    if isinstance(value, dict):
        return {k: pad_rows(v, n, rows, size) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(pad_rows(v, n, rows, size) for v in value)
    return value


def use_cache_dir(folder: Path | None) -> None:
    """Keep inductor's compiled kernels (and Triton's, which live inside) in `folder`, so that a
    restart finds them instead of compiling again."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)


def compile_pipeline(
    pipe: Any, acceleration: Acceleration, *, backend: str | Callable[..., Any] = "inductor"
) -> None:
    """Compile the UNet (behind the buckets) and the VAE decoder; torch.compile is lazy, so the
    compiling itself happens on each graph's first call (the warm-up)."""
    plan = acceleration.plan
    use_cache_dir(plan.cache_dir)
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    inductor = backend == "inductor"
    cudagraphs = inductor and plan.compile == "max-autotune"  # that mode records CUDA graphs

    def compiled(fn: Callable[..., Any], mode: str | None) -> Callable[..., Any]:
        # dynamic=False: one static graph per shape (the buckets bound their number)
        return torch.compile(fn, backend=backend, mode=mode if inductor else None, dynamic=False)

    unet = pipe.unet
    vars(unet).pop("forward", None)  # a wrapper left from before: compile the module's own forward
    eager = unet.forward
    mode = None if plan.compile == "default" else plan.compile
    part = CompiledPart("UNet", eager, compiled(eager, mode), cudagraphs=cudagraphs)
    unet.forward = BucketedForward(part, row_buckets(plan.buckets), copy_out=cudagraphs)
    acceleration.parts.append(part)
    acceleration._patched.append(unet)

    decoder = pipe.vae.decoder
    vars(decoder).pop("forward", None)
    eager = decoder.forward
    # No CUDA graphs for the decoder: SDXL's float32 upcast re-creates its weights every decode,
    # and a CUDA graph would be recorded again each time.
    decoder_mode = "max-autotune-no-cudagraphs" if plan.compile == "max-autotune" else None
    part = CompiledPart("VAE decoder", eager, compiled(eager, decoder_mode), cudagraphs=False)
    decoder.forward = part
    acceleration.parts.append(part)
    acceleration._patched.append(decoder)


def native_size(pipe: Any) -> tuple[int, int]:
    """The size the model was trained at (its UNet's sample size times the VAE's downscale)."""
    sample = pipe.unet.config.sample_size
    height, width = (sample, sample) if isinstance(sample, int) else sample
    factor = int(getattr(pipe, "vae_scale_factor", 8))
    return int(width) * factor, int(height) * factor


def warm_up(pipe: Any, buckets: tuple[int, ...], size: tuple[int, int]) -> float:
    """Run the pipeline once per bucket (with guidance, as jobs run) so that every graph is
    compiled before the first job; the first also decodes, compiling the VAE decoder. Seconds spent.

    Best effort: running out of memory stops it (larger buckets then compile on first use) and
    any other failure is logged; the model still loads (compile failures were handled already).
    """
    width, height = size
    start = time.perf_counter()
    for i, images in enumerate(buckets):
        try:
            with torch.no_grad():
                pipe(
                    prompt=[""] * images,
                    width=width,
                    height=height,
                    num_inference_steps=WARM_UP_STEPS,
                    guidance_scale=7.0,
                    output_type="pil" if i == 0 else "latent",
                )
        except torch.OutOfMemoryError:
            log.warning("warm-up stopped at %d images of %dx%d: out of memory", images, width, height)
            free_memory()
            break
        except Exception as exc:  # a warm-up must not fail the load; a job would show the real error
            log.warning("warm-up at %d images failed: %s: %s", images, type(exc).__name__, exc)
            break
    return time.perf_counter() - start
