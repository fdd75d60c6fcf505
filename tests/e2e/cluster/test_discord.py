"""End to end through localcord with `[cluster] mode = "ray"`: /imagine, U1, V1 and reroll, and
buttons from before a bot restart (a new bot process on the same cluster and database) still work.

The bot runs in this process on a ClusterService; the dispatcher and a FakeRunner worker are Ray
actors of the test run's Ray; the images are flat colours, so the flow, not the pixels, is tested.
"""

from __future__ import annotations

import contextlib
import uuid

import discord
import pytest

from generation.cluster.client import ClusterService
from generation.cluster.worker import fake_runner
from generation.jobs.types import JobStatus
from generation.requests.request import Mode
from generation.settings import ClusterSettings
from localcord import LocalDiscord
from tests.helpers.bot_env import BotEnv, make_discord_settings, make_settings
from tests.helpers.cluster_env import cluster_settings

pytestmark = pytest.mark.timeout(180)


@contextlib.asynccontextmanager
async def cluster_bot(tmp_path, pg_url):
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with LocalDiscord() as server:
        base = make_settings(tmp_path, tmp_path / "models")
        settings = cluster_settings(tmp_path, pg_url, workers=1, base=base)
        # Stopping it leaves the cluster running, as a bot's restart does.
        env = BotEnv(
            server,
            settings,
            make_discord_settings(server),
            fake_runner(),
            service_class=ClusterService,
            ready_timeout=30,
        )
        try:
            await env.start()
            yield env
        finally:
            if env.service is not None:
                await env.service.shutdown_cluster()  # the dispatcher and its worker end with the test
            await env.stop()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
    assert not server.errors, f"localcord internal errors: {server.errors!r}"


async def test_imagine_buttons_and_a_restart_through_the_cluster(tmp_path, pg_url, ray_session):
    async with cluster_bot(tmp_path, pg_url) as env:
        server = env.server
        ix = await server.slash("imagine", {"prompt": "a red circle --seed 42"})
        message = await env.result(ix)
        job = await env.job_for(message)
        assert job.status is JobStatus.DONE and job.request.seed == 42 and len(job.images) == 4
        assert "a red circle" in message.content and message.attachments

        up = await server.click(f"img:u:{job.id}:0", message)
        up_job = await env.job_for(await env.result(up))
        assert up_job.request.mode is Mode.UPSCALE and up_job.parent_id == job.id
        assert up_job.request.source_image == job.images[0].key  # the worker got the source as bytes

        var = await server.click(f"img:v:{job.id}:0", message)
        var_job = await env.job_for(await env.result(var))
        assert var_job.request.mode is Mode.IMG2IMG and var_job.parent_id == job.id

        again = await server.click(f"img:r:{job.id}:0", message)
        again_job = await env.job_for(await env.result(again))
        assert again_job.request.prompt == job.request.prompt and again_job.request.seed != 42

        # /queue workers: as the dispatcher's latest snapshot has them (idle again, four jobs done)
        await server.wait_for(lambda: [w.jobs_done for w in env.service.workers()] == [4], 10, "the snapshot")
        listed = await server.slash("queue", subcommand="workers", user="mod")
        workers = (await listed.wait_original(lambda m: not m.loading)).content
        (worker,) = env.service.workers()
        assert f"`{worker.id}` on {worker.node} (cpu): `tiny`, idle, jobs -, 4 done" in workers

        await env.restart()  # a new bot process; the dispatcher and its worker go on
        after = await server.click(f"img:v:{job.id}:1", message)  # a button from before the restart
        after_job = await env.job_for(await env.result(after))
        assert after_job.request.mode is Mode.IMG2IMG and after_job.request.source_image == job.images[1].key
        assert after_job.status is JobStatus.DONE


async def test_python_m_bot_runs_on_the_cluster_its_config_names(tmp_path, pg_url, ray_session):
    """`python -m bot` with `[cluster] mode = "ray"` joins the Ray the config names, starts the
    dispatcher there and answers as usual."""
    import ray

    from generation.cluster import runtime
    from tests.helpers.bot_process import python_m_bot, stop

    name = f"t{uuid.uuid4().hex[:10]}"

    def dispatcher():
        return ray.get_actor(runtime.dispatcher_name(ClusterSettings(mode="ray", name=name)), namespace=name)

    config = tmp_path / "config.toml"
    config.write_text(
        '[paths]\nmodels_dir = "models"\noutputs_dir = "outputs"\n[models]\ndefault = "tiny"\n'
        f'[cluster]\nmode = "ray"\nworkers = 1\naddress = "{ray_session}"\nname = "{name}"\n'
        f'[store]\nurl = "{pg_url}"\n'
    )
    async with LocalDiscord(token="env.token") as server:
        child = await python_m_bot(server, config, tmp_path / "bot.log")
        try:
            await server.wait_for_session(timeout=90)
            await server.wait_for(lambda: server.commands(), 60, "the commands to be synced")
            info = await server.slash("info")
            message = await info.wait_original(lambda m: not m.loading, timeout=30)
            assert "Quota" in message.content and message.ephemeral
            snapshot = await dispatcher().snapshot.remote()
            assert [w["device"] for w in snapshot["workers"]] == ["cpu"]  # its worker is up
        finally:
            await stop(child)
            with contextlib.suppress(Exception):  # the cluster outlives its bot: end it here
                await ray.get_actor(
                    runtime.dispatcher_name(runtime_settings(name)), namespace=name
                ).shutdown.remote()


def runtime_settings(name: str):
    from generation.settings import ClusterSettings

    return ClusterSettings(mode="ray", name=name)
