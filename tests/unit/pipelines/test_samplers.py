"""Sampler names, their diffusers schedulers, and the step counts the engine reports."""

import subprocess
import sys

import pytest

from generation.models.tiny import SD_SCHEDULER
from generation.pipelines.samplers import (
    SAMPLER_NAMES,
    UnknownSampler,
    canonical_sampler,
    img2img_denoise_steps,
    make_scheduler,
    model_evaluations,
)

EXPECTED_NAMES = [
    "Euler",
    "Euler a",
    "LMS",
    "LMS Karras",
    "Heun",
    "DPM2",
    "DPM2 a",
    "DPM2 Karras",
    "DPM2 a Karras",
    "DPM++ 2M",
    "DPM++ 2M Karras",
    "DPM++ 2M SDE",
    "DPM++ 2M SDE Karras",
    "DPM++ SDE",
    "DPM++ SDE Karras",
    "DDIM",
    "PLMS",
    "UniPC",
    "LCM",
]


def test_canonical_names():
    assert list(SAMPLER_NAMES) == EXPECTED_NAMES
    for name in SAMPLER_NAMES:
        assert canonical_sampler(name) == name
        assert canonical_sampler(name.upper()) == name
        assert canonical_sampler(f"  {name.lower()} ") == name


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("DPM++ 2M, Schedule type: Karras", "DPM++ 2M Karras"),
        ("Sampler: DPM++ 2M, Schedule type: Karras", "DPM++ 2M Karras"),
        ("DPM++ 2M SDE, Schedule type: Karras", "DPM++ 2M SDE Karras"),
        ("DPM2 a, Schedule type: Karras", "DPM2 a Karras"),
        ("Euler a, Schedule type: Automatic", "Euler a"),
        ("sampler: euler, schedule type: uniform", "Euler"),
        ("DPM++ 2M Karras, Schedule type: Karras", "DPM++ 2M Karras"),
        ("dpmpp_2m_karras", "DPM++ 2M Karras"),
        ("dpmpp_2m", "DPM++ 2M"),
        ("dpmpp_2m_sde_karras", "DPM++ 2M SDE Karras"),
        ("dpmpp_sde", "DPM++ SDE"),
        ("k_euler_a", "Euler a"),
        ("euler_ancestral", "Euler a"),
        ("k_lms", "LMS"),
        ("lms_karras", "LMS Karras"),
        ("dpm_2", "DPM2"),
        ("dpm_2_ancestral", "DPM2 a"),
        ("k_dpm_2_a_karras", "DPM2 a Karras"),
        ("heun", "Heun"),
        ("uni_pc", "UniPC"),
        ("pndm", "PLMS"),
        ("ddim", "DDIM"),
        ("lcm", "LCM"),
    ],
)
def test_aliases(alias, name):
    assert canonical_sampler(alias) == name


@pytest.mark.parametrize("bad", ["Euler b", "", "DPM++ 3M", "DPM++ 2M, Schedule type: Exponential"])
def test_unknown_sampler_lists_the_names(bad):
    with pytest.raises(UnknownSampler) as info:
        canonical_sampler(bad)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "Euler a" in message and "DPM++ 2M Karras" in message and "LCM" in message


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


def test_img2img_denoise_steps():
    assert img2img_denoise_steps(20, 0.75) == 15
    assert img2img_denoise_steps(10, 0.05) == 1  # diffusers would run none
    assert img2img_denoise_steps(10, 1.5) == 10


def test_front_end_modules_import_without_torch():
    code = (
        "import sys; import generation.pipelines.samplers, generation.pipelines.engine, generation.pipelines.previews; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "sys.exit(repr(bad) if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr or result.stdout
