"""An inpaint on the cluster: its mask (an upload) goes to the GPU worker's process through Ray in
the batch, like its source; a mask that is gone fails that job alone. FakeRunner workers paint the
prompt's colour where the mask they got is white, so the result shows the mask arrived."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from generation.jobs.types import JobOwner, JobStatus
from generation.requests.request import Edit, Mode
from generation.settings import QueueSettings
from generation.workers.protocol import WorkerProblem
from tests.helpers.cluster_env import cluster_running
from tests.helpers.service_env import request

pytestmark = pytest.mark.timeout(120)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def test_an_inpaint_mask_reaches_a_ray_worker(tmp_path, pg_url, ray_session):
    async with cluster_running(
        tmp_path, pg_url, workers=1, queue=QueueSettings(per_user=10, batch_size=4)
    ) as service:
        source = await service.put_upload(png(Image.new("RGB", (64, 64), (200, 30, 30))))
        top = Image.new("L", (64, 64), 0)
        top.paste(255, (0, 0, 64, 16))
        mask = await service.put_upload(png(top))
        edit = {"mode": Mode.INPAINT, "source_image": source, "strength": 1.0}
        good = await service.submit(request("a blue sky", **edit, edit=Edit(mask=mask)), JobOwner(1))
        gone = await service.submit(
            request("a sun", seed=2, **edit, edit=Edit(mask="uploads/gone.png")), JobOwner(2)
        )
        good, gone = await service.wait(good.id, 60), await service.wait(gone.id, 60)
        assert good.status is JobStatus.DONE
        with Image.open(io.BytesIO(await service.read_artifact(good.images[0].key))) as result:
            made = np.asarray(result.convert("RGB"))
    assert (made[:16] == (40, 70, 220)).all() and (made[16:] == (200, 30, 30)).all()
    assert gone.status is JobStatus.FAILED and gone.error.code == WorkerProblem.MASK_UNREADABLE
