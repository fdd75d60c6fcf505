"""img2img steps: a pass of `steps` at denoising `strength` runs `int(steps * strength)` of them.

That is diffusers' rule (it skips the first `steps - int(steps * strength)` of the schedule), so a
few steps at a low strength run none. Validation refuses such a request, follow-ups raise their
steps until one runs, and the pipelines count the steps a pass runs, all with these functions.
"""

from __future__ import annotations

import math


def denoising_steps(steps: int, strength: float) -> int:
    """The steps an img2img pass runs: `int(steps * strength)`, the strength taken within 0..1."""
    return int(steps * min(max(float(strength), 0.0), 1.0))


def runs_a_step(steps: int, strength: float) -> bool:
    """Whether an img2img pass of `steps` at `strength` runs at least one denoising step."""
    return denoising_steps(steps, strength) >= 1


def enough_steps(steps: int, strength: float) -> int:
    """The fewest steps, `steps` or more, at which a pass at `strength` runs a step (`steps` itself
    when no number of steps does, at a strength of 0 or less)."""
    if strength <= 0 or runs_a_step(steps, strength):
        return steps
    candidate = max(steps, math.floor(1 / min(strength, 1.0)) - 1)  # just below the answer
    while not runs_a_step(candidate, strength):
        candidate += 1
    return candidate


def strength_running_a_step(steps: int, strength: float) -> float:
    """The strength to hand diffusers so that a pass of `steps` runs at least one step: `strength`
    (within 0..1) when it does, else the lowest that does (a hires pass at a low strength, say)."""
    strength = min(max(float(strength), 0.0), 1.0)
    if runs_a_step(steps, strength):
        return strength
    return min(1.0, 1.5 / steps)  # int(steps * 1.5 / steps) == 1
