"""Follow-ups of a past job's images (what the U/V/reroll buttons and /vary of a job ask for)."""

from __future__ import annotations

import pytest

from generation.jobs.types import JobStatus
from generation.requests.followups import (
    NoSuchImage,
    image_of,
    output_size,
    reroll_of,
    upscale_of_image,
    variation_of_image,
)
from generation.requests.request import RANDOM_SEED, Mode
from generation.settings import Settings
from tests.helpers.jobs import make_job


def test_derived_requests():
    settings = Settings()
    job = make_job()
    up = upscale_of_image(job, 2, settings)
    assert (up.mode, up.source_image, up.seed, up.count) == (Mode.UPSCALE, "abcdefgh23/2.png", 102, 1)
    assert (up.width, up.height) == (64, 64)  # an upscale's size is its source's
    assert output_size(make_job(up).request) == (128, 128)
    var = variation_of_image(job, 0, settings)
    assert (var.mode, var.source_image, var.seed, var.count) == (
        Mode.IMG2IMG,
        "abcdefgh23/0.png",
        RANDOM_SEED,
        4,
    )
    assert var.strength == settings.defaults.img2img_strength
    assert variation_of_image(job, 1, settings, strength=0.35, count=2).strength == 0.35
    assert reroll_of(job.request).seed == RANDOM_SEED
    assert reroll_of(job.request).prompt == job.request.prompt


def test_a_missing_image_is_a_problem_with_what_there_is():
    job = make_job()
    assert image_of(job, 3).seed == 103
    with pytest.raises(NoSuchImage) as missing:
        image_of(job, 7)
    assert missing.value.code == "request.no_such_image"
    assert missing.value.fields == {"job_id": job.id, "count": 4, "number": 8}
    with pytest.raises(NoSuchImage) as none:
        upscale_of_image(job.replace(images=(), status=JobStatus.FAILED), 0, Settings())
    assert none.value.code == "request.job_has_no_images"
    assert none.value.fields == {"job_id": job.id, "status": "failed"}
