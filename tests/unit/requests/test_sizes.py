"""Size rules: multiples of 8, scaled sizes, aspect ratios and sizes that fit the limits."""

import pytest

from generation.requests.numbers import format_number
from generation.requests.request import GenerationRequest, HiresFix, Mode
from generation.requests.sizes import (
    fit_size,
    floor_to_8,
    largest_fitting_size,
    largest_scale,
    output_size,
    ratio_size,
    round_to_8,
    scaled_size,
    square_side,
)
from generation.settings import LimitSettings, Settings


@pytest.mark.parametrize(
    ("x", "rounded", "floored"), [(0, 8, 8), (3, 8, 8), (12, 16, 8), (511.9, 512, 504), (516, 520, 512)]
)
def test_multiples_of_8_are_at_least_8(x, rounded, floored):
    assert (round_to_8(x), floor_to_8(x)) == (rounded, floored)


def test_scaled_sizes_round_halves_up():
    assert scaled_size(512, 768, 2.0) == (1024, 1536)
    assert scaled_size(536, 520, 1.5) == (808, 784)  # 804 and 780 lie halfway between two multiples


def test_output_size_scales_upscales_and_hires_fixes_only():
    plain = GenerationRequest("x", width=520, height=512)
    assert output_size(plain) == (520, 512)
    assert output_size(plain.replace(hires=HiresFix(1.5))) == (784, 768)
    assert output_size(plain.replace(mode=Mode.UPSCALE, upscale_factor=2.0)) == (1040, 1024)


def test_an_aspect_ratio_stays_within_the_area_or_follows_the_given_side():
    assert ratio_size(16, 9, 512 * 512) == (680, 384)
    assert 680 * 384 <= 512 * 512
    assert ratio_size(16, 9, 512 * 512, width=1024) == (1024, 576)
    assert ratio_size(2, 3, 512 * 512, height=768) == (512, 768)


def test_the_largest_fitting_size_keeps_the_shape_within_both_limits():
    limits = LimitSettings(max_size=1024)
    w, h = largest_fitting_size(3000, 1000, 1024 * 1024, limits)
    assert (w, h) == (1024, 336) and w % 8 == 0 and h % 8 == 0
    assert square_side(1024 * 1024) == 1024 and square_side(1000 * 1000) == 1000


def test_the_largest_scale_is_floored_to_tenths():
    assert largest_scale(1536, 1536, 2048 * 2048) == 1.3
    assert largest_scale(1000, 1000, 1000 * 1000) == 1.0


def test_fit_size_gives_about_the_default_area_within_the_limits():
    settings = Settings()
    assert fit_size(1024, 1024, settings) == (512, 512)
    w, h = fit_size(4000, 100, settings)
    assert settings.limits.min_size <= h and w <= settings.limits.max_size


@pytest.mark.parametrize(
    ("x", "text"), [(7.0, "7"), (7, "7"), (6.5, "6.5"), (0.1, "0.1"), (-2.0, "-2"), (1.2345678, "1.2345678")]
)
def test_numbers_drop_a_trailing_point_zero_and_keep_every_digit(x, text):
    assert format_number(x) == text
    assert float(format_number(x)) == x
