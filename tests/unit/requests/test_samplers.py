"""Sampler names and the step counts the engine reports (torch-free)."""

import pytest

from generation.requests.request import GenerationRequest, HiresFix, Mode
from generation.requests.samplers import (
    SAMPLER_NAMES,
    UnknownSampler,
    canonical_sampler,
    estimate_steps,
    img2img_denoise_steps,
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
    assert info.value.name == bad
    message = str(info.value)
    assert "Euler a" in message and "DPM++ 2M Karras" in message and "LCM" in message


def test_img2img_denoise_steps():
    assert img2img_denoise_steps(20, 0.75) == 15
    assert img2img_denoise_steps(10, 0.05) == 1  # diffusers would run none
    assert img2img_denoise_steps(10, 1.5) == 10


def req(**changes) -> GenerationRequest:
    return GenerationRequest("a red circle", seed=1234, sampler="Euler a").replace(**changes)


def test_estimate_steps():
    assert estimate_steps(req(steps=20)) == 20
    assert estimate_steps(req(steps=20, sampler="Heun")) == 39
    assert estimate_steps(req(steps=20, sampler="DPM2 a Karras")) == 39
    assert estimate_steps(req(steps=20, sampler="PLMS")) == 21
    assert estimate_steps(req(steps=20, hires=HiresFix(2.0, 0.5))) == 30
    assert estimate_steps(req(steps=20, hires=HiresFix(2.0, 0.5, steps=10))) == 25
    assert estimate_steps(req(mode=Mode.IMG2IMG, steps=20, strength=0.75)) == 15
    assert estimate_steps(req(mode=Mode.UPSCALE, steps=20, strength=0.3)) == 6
    assert estimate_steps(req(mode=Mode.UPSCALE, steps=20, strength=0.0)) == 0  # Lanczos or ESRGAN only
    assert estimate_steps(req(steps=7, sampler="Euler z")) == 7  # unknown: its steps
