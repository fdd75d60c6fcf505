"""The diffusers scheduler that runs a sampler, built fresh for each pipeline pass.

The sampler names and their specs (scheduler class, options) are the torch-free table in
`generation.requests.samplers`; this module turns a spec into a scheduler object.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import diffusers
import numpy as np
from diffusers.schedulers.scheduling_lms_discrete import LMSDiscreteScheduler as _DiffusersLMS
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from generation.models.loaded import LoadedModel
from generation.requests.samplers import sampler_spec

# Options every scheduler that knows them gets reset to, so a base config carrying e.g.
# `use_exponential_sigmas=True` from a checkpoint cannot leak into another sampler.
_RESET_OPTIONS = {"use_exponential_sigmas": False, "use_beta_sigmas": False}


def make_scheduler(name: str, base_config: Mapping[str, Any], *, steps: int | None = None) -> SchedulerMixin:
    """A fresh diffusers scheduler for sampler `name`, built with `Cls.from_config(base_config, ...)`.

    `base_config` is the model's own scheduler config (betas, prediction type, timestep spacing);
    the sampler's options override it. `steps` lets LCM accept more than its 50 original steps.
    """
    spec = sampler_spec(name)
    lms = spec.scheduler == "LMSDiscreteScheduler"
    cls = LMSDiscreteScheduler if lms else getattr(diffusers, spec.scheduler)
    options = {**_RESET_OPTIONS, **spec.options}
    if spec.scheduler == "LCMScheduler" and steps:
        original = int(base_config.get("original_inference_steps") or 50)
        options["original_inference_steps"] = max(original, int(steps))
    accepted = inspect.signature(cls.__init__).parameters
    options = {k: v for k, v in options.items() if k in accepted}
    config = {k: v for k, v in dict(base_config).items() if k not in options}
    return cls.from_config(config, **options)


def base_scheduler_config(model: LoadedModel) -> dict[str, Any]:
    """The model's own scheduler config, remembered the first time the model runs (the engine swaps
    `pipe.scheduler` for the duration of each pass)."""
    config = model.derived.get("scheduler_config")
    if config is None:
        config = dict(model.pipe.scheduler.config)
        model.derived["scheduler_config"] = config
    return config


class LMSDiscreteScheduler(_DiffusersLMS):
    """diffusers' LMS scheduler with its coefficient integral done exactly, without scipy.

    diffusers integrates a Lagrange basis polynomial numerically with `scipy.integrate.quad`;
    the integral of a polynomial is exact with numpy, so the scheduler works where scipy is absent.
    """

    def get_lms_coefficient(self, order: int, t: int, current_order: int) -> float:
        sigmas = [float(self.sigmas[t - k]) for k in range(order)]
        poly = np.polynomial.Polynomial([1.0])
        for k in range(order):
            if k != current_order:
                poly *= np.polynomial.Polynomial([-sigmas[k], 1.0]) / (sigmas[current_order] - sigmas[k])
        antiderivative = poly.integ()
        return float(antiderivative(float(self.sigmas[t + 1])) - antiderivative(float(self.sigmas[t])))
