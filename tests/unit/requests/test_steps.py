"""img2img steps: int(steps * strength) of them run, and follow-ups make sure one does."""

import pytest

from generation.requests.steps import denoising_steps, enough_steps, runs_a_step


def test_a_pass_runs_int_steps_times_strength():
    assert denoising_steps(20, 0.75) == 15
    assert denoising_steps(10, 0.05) == 0
    assert denoising_steps(10, 1.5) == 10 and denoising_steps(10, -1) == 0  # strength within 0..1
    assert runs_a_step(4, 0.3) and not runs_a_step(3, 0.3)


@pytest.mark.parametrize(
    ("steps", "strength", "enough"), [(2, 0.3, 4), (10, 0.3, 10), (1, 0.5, 2), (3, 0.1, 10), (0, 1.0, 1)]
)
def test_enough_steps_is_the_fewest_that_run_one(steps, strength, enough):
    assert enough_steps(steps, strength) == enough
    assert runs_a_step(enough, strength)
    assert enough == steps or not runs_a_step(enough - 1, strength)


def test_enough_steps_is_quick_for_a_tiny_strength_and_gives_up_at_zero():
    assert enough_steps(1, 1e-9) == 1_000_000_000
    assert enough_steps(5, 0.0) == 5 and enough_steps(5, -0.5) == 5
