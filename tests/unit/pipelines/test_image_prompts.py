"""A request whose images have their own prompts (drawn variants, `image_prompts`): the engine makes
image i with its own prompt, exactly as a lone request of that prompt and seed."""

import numpy as np

from generation.pipelines.engine import generate
from generation.requests.request import GenerationRequest


def test_each_image_is_made_with_its_own_prompt(tiny_loaded):
    base = GenerationRequest(
        "a {red|blue} circle", width=64, height=64, steps=1, seed=900, count=2, sampler="Euler"
    )
    request = base.replace(image_prompts=("a red circle", "a blue circle"))
    made = generate(tiny_loaded, [request], batch_invariant=True)[0]
    for i, prompt in enumerate(request.image_prompts):
        alone = generate(
            tiny_loaded, [base.replace(prompt=prompt, seed=900 + i, count=1)], batch_invariant=True
        )
        assert np.array_equal(np.asarray(made[i]), np.asarray(alone[0][0]))
