"""What a job applied (its LoRAs, per image) comes back from a Ray worker with its result and is
kept with the job in PostgreSQL; an unknown LoRA is refused by the bot process before it queues.
FakeRunner workers report the LoRAs their prompts' tags name."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from generation.jobs.problems import SubmitRefused
from generation.jobs.types import JobOwner, JobStatus
from tests.helpers.cluster_env import cluster_running
from tests.helpers.service_env import request

pytestmark = pytest.mark.timeout(120)

LORA_KEY = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight"


async def test_what_a_ray_worker_applied_is_kept_with_the_job(tmp_path, pg_url, ray_session):
    for name in ("ink", "oil"):
        (tmp_path / "models" / "Lora").mkdir(parents=True, exist_ok=True)
        save_file(
            {LORA_KEY: np.zeros((4, 768), dtype=np.float16)},
            str(tmp_path / "models" / "Lora" / f"{name}.safetensors"),
        )
    async with cluster_running(tmp_path, pg_url, workers=1) as service:
        drawn = ("a cat <lora:ink:0.5>", "a cat <lora:oil:1>")
        job = await service.submit(
            request("a cat {<lora:ink:0.5>|<lora:oil:1>}", count=2, image_prompts=drawn), JobOwner(1)
        )
        with pytest.raises(SubmitRefused) as refused:
            await service.submit(request("a cat <lora:inc:1>"), JobOwner(1))
        done = await service.wait(job.id, 60)
    assert refused.value.code == "lora.unknown" and refused.value.fields["closest"] == ["ink"]
    assert done.status is JobStatus.DONE
    assert [(u.name, u.te_weight) for u in done.applied.loras] == [("ink", 0.5), ("oil", 1.0)]
