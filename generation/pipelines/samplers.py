"""Samplers by the names AUTOMATIC1111's web UI users know, mapped to diffusers schedulers.

Torch-free at import time: the Discord front end imports `SAMPLER_NAMES` and `canonical_sampler`
for autocomplete and validation; `make_scheduler` imports diffusers only when it is called.

Names are accepted case-insensitively, in the web UI's older form (`DPM++ 2M Karras`), its newer
form (`DPM++ 2M, Schedule type: Karras`, optionally prefixed `Sampler: `) and the k-diffusion /
ComfyUI style (`dpmpp_2m_karras`, `k_euler_a`, `euler_ancestral`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    scheduler: str  # diffusers scheduler class name
    options: Mapping[str, Any] = field(default_factory=dict)  # from_config keyword arguments
    order: int = 1  # model evaluations per step (2 for Heun and DPM2)
    extra_final_step: bool = False  # PLMS evaluates the model once more than its step count
    stochastic: bool = False  # draws noise every step (ancestral and SDE samplers)


def _specs() -> dict[str, SamplerSpec]:
    karras = {"use_karras_sigmas": True}
    plain = {"use_karras_sigmas": False}
    dpmpp = {"algorithm_type": "dpmsolver++", "solver_order": 2}
    sde = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}
    # torchsde is not installed, so DPM++ SDE uses the stochastic singlestep DPM-Solver++.
    single = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "lower_order_final": True}
    specs = [
        SamplerSpec("Euler", "EulerDiscreteScheduler", plain),
        SamplerSpec("Euler a", "EulerAncestralDiscreteScheduler", stochastic=True),
        SamplerSpec("LMS", "LMSDiscreteScheduler", plain),
        SamplerSpec("LMS Karras", "LMSDiscreteScheduler", karras),
        SamplerSpec("Heun", "HeunDiscreteScheduler", plain, order=2),
        SamplerSpec("DPM2", "KDPM2DiscreteScheduler", plain, order=2),
        SamplerSpec("DPM2 a", "KDPM2AncestralDiscreteScheduler", plain, order=2, stochastic=True),
        SamplerSpec("DPM2 Karras", "KDPM2DiscreteScheduler", karras, order=2),
        SamplerSpec("DPM2 a Karras", "KDPM2AncestralDiscreteScheduler", karras, order=2, stochastic=True),
        SamplerSpec("DPM++ 2M", "DPMSolverMultistepScheduler", {**dpmpp, **plain}),
        SamplerSpec("DPM++ 2M Karras", "DPMSolverMultistepScheduler", {**dpmpp, **karras}),
        SamplerSpec("DPM++ 2M SDE", "DPMSolverMultistepScheduler", {**sde, **plain}, stochastic=True),
        SamplerSpec("DPM++ 2M SDE Karras", "DPMSolverMultistepScheduler", {**sde, **karras}, stochastic=True),
        SamplerSpec("DPM++ SDE", "DPMSolverSinglestepScheduler", {**single, **plain}, stochastic=True),
        SamplerSpec(
            "DPM++ SDE Karras", "DPMSolverSinglestepScheduler", {**single, **karras}, stochastic=True
        ),
        SamplerSpec("DDIM", "DDIMScheduler"),
        SamplerSpec("PLMS", "PNDMScheduler", {"skip_prk_steps": True}, extra_final_step=True),
        SamplerSpec("UniPC", "UniPCMultistepScheduler", plain),
        SamplerSpec("LCM", "LCMScheduler"),
    ]
    return {spec.name: spec for spec in specs}


SAMPLERS: dict[str, SamplerSpec] = _specs()
SAMPLER_NAMES: tuple[str, ...] = tuple(SAMPLERS)

# Options every scheduler that knows them gets reset to, so a base config carrying e.g.
# `use_exponential_sigmas=True` from a checkpoint cannot leak into another sampler.
_RESET_OPTIONS = {"use_exponential_sigmas": False, "use_beta_sigmas": False}


class UnknownSampler(ValueError):
    """The name matches no sampler; the message lists the names there are."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name = name
        extra = f" ({detail})" if detail else ""
        super().__init__(f"unknown sampler {name!r}{extra}; the samplers are: {', '.join(SAMPLER_NAMES)}")


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
        raise UnknownSampler(str(name), "empty name")
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
            raise UnknownSampler(
                name, f"schedule type {rest[0].strip()!r} is not supported: use Karras or Automatic"
            )
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
    """Steps an img2img pass runs: `int(steps * strength)` as diffusers does, at least 1."""
    return max(1, min(int(steps * min(max(strength, 0.0), 1.0)), steps))


# -- schedulers ----------------------------------------------------------------------------------


def make_scheduler(name: str, base_config: Mapping[str, Any], *, steps: int | None = None) -> Any:
    """A fresh diffusers scheduler for sampler `name`, built with `Cls.from_config(base_config, ...)`.

    `base_config` is the model's own scheduler config (betas, prediction type, timestep spacing);
    the sampler's options override it. `steps` lets LCM accept more than its 50 original steps.
    """
    import inspect

    spec = sampler_spec(name)
    cls = _scheduler_class(spec.scheduler)
    options = {**_RESET_OPTIONS, **spec.options}
    if spec.scheduler == "LCMScheduler" and steps:
        original = int(base_config.get("original_inference_steps") or 50)
        options["original_inference_steps"] = max(original, int(steps))
    accepted = inspect.signature(cls.__init__).parameters
    options = {k: v for k, v in options.items() if k in accepted}
    config = {k: v for k, v in dict(base_config).items() if k not in options}
    return cls.from_config(config, **options)


def _scheduler_class(class_name: str) -> type:
    if class_name == "LMSDiscreteScheduler":
        return _lms_class()
    import diffusers

    return getattr(diffusers, class_name)


_LMS_CLASS: type | None = None


def _lms_class() -> type:
    """diffusers' LMS scheduler with its coefficient integral done exactly, without scipy.

    diffusers integrates a Lagrange basis polynomial numerically with `scipy.integrate.quad`;
    the integral of a polynomial is exact with numpy, so the scheduler works where scipy is absent.
    """
    global _LMS_CLASS
    if _LMS_CLASS is None:
        import numpy as np
        from diffusers.schedulers.scheduling_lms_discrete import LMSDiscreteScheduler as Base

        class LMSDiscreteScheduler(Base):
            def get_lms_coefficient(self, order: int, t: int, current_order: int) -> float:
                sigmas = [float(self.sigmas[t - k]) for k in range(order)]
                poly = np.polynomial.Polynomial([1.0])
                for k in range(order):
                    if k != current_order:
                        poly *= np.polynomial.Polynomial([-sigmas[k], 1.0]) / (
                            sigmas[current_order] - sigmas[k]
                        )
                antiderivative = poly.integ()
                return float(
                    antiderivative(float(self.sigmas[t + 1])) - antiderivative(float(self.sigmas[t]))
                )

        _LMS_CLASS = LMSDiscreteScheduler
    return _LMS_CLASS
