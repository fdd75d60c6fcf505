"""Training's evaluation samples with the project's own sampler mapping, and says so when it cannot."""

import pytest

from generation.models.tiny import build_tiny_pipeline
from generation.pipelines.samplers import UnknownSampler
from training.train import set_sampler


def test_set_sampler_uses_the_project_mapping_and_refuses_unknown_names():
    pipe = build_tiny_pipeline()
    set_sampler(pipe, "DPM++ 2M Karras")
    assert type(pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert pipe.scheduler.config.use_karras_sigmas is True
    with pytest.raises(UnknownSampler):
        set_sampler(pipe, "Euler b")  # once silently replaced by Euler
    assert type(pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"
