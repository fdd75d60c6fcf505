"""Samplers by the names AUTOMATIC1111's web UI users know, and the steps each runs. Torch-free.

The Discord front end and validation use `SAMPLER_NAMES` and `canonical_sampler` (autocomplete,
checks); the queue counts UNet evaluations with `model_evaluations` / `estimate_steps`. Each
sampler's spec names the diffusers scheduler class and options that run it; building one is
`generation.pipelines.schedulers.make_scheduler`.

Names are accepted case-insensitively, in the web UI's older form (`DPM++ 2M Karras`), its newer
form (`DPM++ 2M, Schedule type: Karras`, optionally prefixed `Sampler: `) and the k-diffusion /
ComfyUI style (`dpmpp_2m_karras`, `k_euler_a`, `euler_ancestral`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from generation.problems import Problem
from generation.requests.request import GenerationRequest, Mode
from generation.requests.steps import denoising_steps


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    scheduler: str  # diffusers scheduler class name
    options: Mapping[str, Any] = field(default_factory=dict)  # from_config keyword arguments
    order: int = 1  # model evaluations per step (2 for Heun and DPM2)
    extra_final_step: bool = False  # PLMS evaluates the model once more than its step count


def _specs() -> dict[str, SamplerSpec]:
    karras = {"use_karras_sigmas": True}
    plain = {"use_karras_sigmas": False}
    dpmpp = {"algorithm_type": "dpmsolver++", "solver_order": 2}
    sde = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}
    # torchsde is not installed, so DPM++ SDE uses the stochastic singlestep DPM-Solver++.
    single = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "lower_order_final": True}
    specs = [
        SamplerSpec("Euler", "EulerDiscreteScheduler", plain),
        SamplerSpec("Euler a", "EulerAncestralDiscreteScheduler"),
        SamplerSpec("LMS", "LMSDiscreteScheduler", plain),
        SamplerSpec("LMS Karras", "LMSDiscreteScheduler", karras),
        SamplerSpec("Heun", "HeunDiscreteScheduler", plain, order=2),
        SamplerSpec("DPM2", "KDPM2DiscreteScheduler", plain, order=2),
        SamplerSpec("DPM2 a", "KDPM2AncestralDiscreteScheduler", plain, order=2),
        SamplerSpec("DPM2 Karras", "KDPM2DiscreteScheduler", karras, order=2),
        SamplerSpec("DPM2 a Karras", "KDPM2AncestralDiscreteScheduler", karras, order=2),
        SamplerSpec("DPM++ 2M", "DPMSolverMultistepScheduler", {**dpmpp, **plain}),
        SamplerSpec("DPM++ 2M Karras", "DPMSolverMultistepScheduler", {**dpmpp, **karras}),
        SamplerSpec("DPM++ 2M SDE", "DPMSolverMultistepScheduler", {**sde, **plain}),
        SamplerSpec("DPM++ 2M SDE Karras", "DPMSolverMultistepScheduler", {**sde, **karras}),
        SamplerSpec("DPM++ SDE", "DPMSolverSinglestepScheduler", {**single, **plain}),
        SamplerSpec("DPM++ SDE Karras", "DPMSolverSinglestepScheduler", {**single, **karras}),
        SamplerSpec("DDIM", "DDIMScheduler"),
        SamplerSpec("PLMS", "PNDMScheduler", {"skip_prk_steps": True}, extra_final_step=True),
        SamplerSpec("UniPC", "UniPCMultistepScheduler", plain),
        SamplerSpec("LCM", "LCMScheduler"),
    ]
    return {spec.name: spec for spec in specs}


SAMPLERS: dict[str, SamplerSpec] = _specs()
SAMPLER_NAMES: tuple[str, ...] = tuple(SAMPLERS)


class UnknownSampler(Problem, ValueError):
    """The name matches no sampler (`schedule`: an unsupported schedule type it named)."""

    def __init__(self, name: str, schedule: str | None = None) -> None:
        super().__init__("sampler.unknown", name=name, schedule=schedule, samplers=list(SAMPLER_NAMES))
        self.name = name
        self.schedule = schedule


# -- names ---------------------------------------------------------------------------------------


def _key(text: str) -> str:
    """A spelling-insensitive key: `DPM++ 2M a Karras` and `k_dpmpp_2m_ancestral_karras` agree."""
    text = text.strip().lower()
    if text.startswith(("k_", "k-")):
        text = text[2:]
    text = text.replace("++", "pp").replace("+", "p")
    text = re.sub(r"[^a-z0-9]", "", text)
    return text.replace("ancestral", "a")


_ALIASES: dict[str, str] = {_key(name): name for name in SAMPLER_NAMES}
_ALIASES.update(
    {
        "pndm": "PLMS",
        "uni": "UniPC",
        "dpmpp2msdegpu": "DPM++ 2M SDE",
        "dpmpp2msdegpukarras": "DPM++ 2M SDE Karras",
        "dpmppsdegpu": "DPM++ SDE",
        "dpmppsdegpukarras": "DPM++ SDE Karras",
    }
)
_DEFAULT_SCHEDULES = {"", "automatic", "auto", "default", "normal", "uniform"}
_SCHEDULE_SPLIT = re.compile(r",?\s*\bschedule(?:[\s_]*type)?\s*[:=]\s*", re.IGNORECASE)
_SAMPLER_PREFIX = re.compile(r"^\s*sampler\s*[:=]\s*", re.IGNORECASE)


def canonical_sampler(name: str) -> str:
    """The canonical name for any accepted spelling of a sampler; raises `UnknownSampler`."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownSampler(str(name) if isinstance(name, str) else "")
    text = _SAMPLER_PREFIX.sub("", name)
    base, *rest = _SCHEDULE_SPLIT.split(text, maxsplit=1)
    key = _key(base)
    if key not in _ALIASES and key.endswith("sampler"):
        key = key.removesuffix("sampler")
    if rest:
        schedule = _key(rest[0].strip().strip(","))
        if schedule == "karras":
            if not key.endswith("karras"):
                key += "karras"
        elif schedule not in _DEFAULT_SCHEDULES:
            raise UnknownSampler(name, schedule=rest[0].strip())
    try:
        return _ALIASES[key]
    except KeyError:
        raise UnknownSampler(name) from None


def sampler_spec(name: str) -> SamplerSpec:
    return SAMPLERS[canonical_sampler(name)]


def model_evaluations(name: str, steps: int, strength: float | None = None) -> int:
    """UNet evaluations (denoising-loop iterations) of a run: `steps` steps, or img2img at `strength`.

    Matches the diffusers pipelines: second-order samplers evaluate twice a step except the last,
    PLMS once more than its steps, and img2img skips the first `steps - int(steps * strength)`
    steps (at least one step runs: the engine guards a tiny strength).
    """
    spec = sampler_spec(name)
    steps = max(int(steps), 1)
    if spec.order == 2:
        full = 2 * steps - 1
    elif spec.extra_final_step and steps > 1:
        full = steps + 1
    else:
        full = steps
    if strength is None:
        return full
    t_start = steps - img2img_denoise_steps(steps, strength)
    return full - t_start * spec.order


def img2img_denoise_steps(steps: int, strength: float) -> int:
    """Steps an img2img pass runs: `int(steps * strength)` as diffusers does, at least 1 (the
    pipelines hand diffusers a strength that runs one: `steps.strength_running_a_step`)."""
    return max(1, denoising_steps(steps, strength))


def estimate_steps(request: GenerationRequest) -> int:
    """UNet evaluations the request will run: hires second pass, img2img strength, Heun/DPM2 doubling.

    The total every `Progress` of the request's call reports (an unknown sampler counts its steps).
    """
    try:
        if request.mode is Mode.TXT2IMG:
            total = model_evaluations(request.sampler, request.steps)
            hires = request.hires
            if hires is not None and hires.strength > 0:
                total += model_evaluations(request.sampler, hires.steps or request.steps, hires.strength)
            return total
        if request.mode is Mode.UPSCALE and request.strength <= 0:
            return 0
        return model_evaluations(request.sampler, request.steps, request.strength)
    except UnknownSampler:
        return max(int(request.steps), 1)
