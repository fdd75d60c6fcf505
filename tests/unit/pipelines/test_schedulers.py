"""A sampler's diffusers scheduler: class, options, and the step counts the engine reports."""

import pytest

from generation.models.tiny import SD_SCHEDULER
from generation.pipelines.schedulers import make_scheduler
from generation.requests.samplers import SAMPLER_NAMES, img2img_denoise_steps, model_evaluations


@pytest.mark.parametrize(
    ("name", "cls", "options"),
    [
        ("Euler", "EulerDiscreteScheduler", {"use_karras_sigmas": False}),
        ("Euler a", "EulerAncestralDiscreteScheduler", {}),
        ("LMS Karras", "LMSDiscreteScheduler", {"use_karras_sigmas": True}),
        ("Heun", "HeunDiscreteScheduler", {}),
        ("DPM2 a Karras", "KDPM2AncestralDiscreteScheduler", {"use_karras_sigmas": True}),
        (
            "DPM++ 2M",
            "DPMSolverMultistepScheduler",
            {"algorithm_type": "dpmsolver++", "use_karras_sigmas": False},
        ),
        ("DPM++ 2M SDE Karras", "DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
        ("DPM++ SDE Karras", "DPMSolverSinglestepScheduler", {"use_karras_sigmas": True}),
        ("DDIM", "DDIMScheduler", {}),
        ("PLMS", "PNDMScheduler", {"skip_prk_steps": True}),
        ("UniPC", "UniPCMultistepScheduler", {}),
        ("LCM", "LCMScheduler", {}),
    ],
)
def test_make_scheduler(name, cls, options):
    base = dict(SD_SCHEDULER, use_karras_sigmas=True)  # a base config's own choices are overridden
    before = dict(base)
    scheduler = make_scheduler(name, base)
    assert type(scheduler).__name__ == cls
    for key, value in options.items():
        assert scheduler.config[key] == value
    assert scheduler.config.beta_schedule == "scaled_linear"  # the model's betas are kept
    assert base == before


def test_lms_works_without_scipy_and_matches_the_integral():
    import numpy as np

    scheduler = make_scheduler("LMS", SD_SCHEDULER)
    scheduler.set_timesteps(10)
    sigmas = [float(s) for s in scheduler.sigmas]
    t = 5
    for order in (1, 2, 3, 4):
        for current in range(order):
            xs = np.linspace(sigmas[t], sigmas[t + 1], 4001)
            ys = np.ones_like(xs)
            for k in range(order):
                if k != current:
                    ys *= (xs - sigmas[t - k]) / (sigmas[t - current] - sigmas[t - k])
            expected = float(np.sum((ys[1:] + ys[:-1]) / 2 * np.diff(xs)))
            assert scheduler.get_lms_coefficient(order, t, current) == pytest.approx(
                expected, rel=1e-6, abs=1e-9
            )


def test_lcm_accepts_more_than_its_original_steps():
    scheduler = make_scheduler("LCM", SD_SCHEDULER, steps=60)
    scheduler.set_timesteps(60)
    assert len(scheduler.timesteps) == 60


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_model_evaluations_match_diffusers(name):
    scheduler = make_scheduler(name, SD_SCHEDULER, steps=30)
    for steps in (1, 2, 3, 7, 20, 30):
        scheduler.set_timesteps(steps, device="cpu")
        assert model_evaluations(name, steps) == len(scheduler.timesteps), steps
        for strength in (0.01, 0.3, 0.75, 1.0):
            # what the img2img pipelines' get_timesteps() keeps, after the engine's guard
            t_start = steps - img2img_denoise_steps(steps, strength)
            kept = len(scheduler.timesteps[t_start * scheduler.order :])
            assert model_evaluations(name, steps, strength) == kept, (steps, strength)
