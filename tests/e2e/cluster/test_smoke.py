from generation.jobs.types import JobOwner, JobStatus
from tests.helpers.cluster_env import cluster_running
from tests.helpers.service_env import request


async def test_jobs_run_on_the_cluster(tmp_path, pg_url, ray_session):
    async with cluster_running(tmp_path, pg_url, workers=2) as service:
        jobs = [
            await service.submit(request(f"a red square {n}", seed=n), JobOwner(1 + n % 2)) for n in range(4)
        ]
        done = [await service.wait(job.id, 30) for job in jobs]
        assert [j.status for j in done] == [JobStatus.DONE] * 4
