"""Styles, wildcards, --permute and --repeat through localcord (the fake runner: flat images in the
colour the prompt names, so which prompt an image was made with shows in its pixels)."""

from __future__ import annotations

import dataclasses
import io

import pytest
from PIL import Image

from generation.images.metadata import parse_parameters, read_parameters
from generation.requests.wildcards import Wildcards, draw
from generation.settings import StyleSettings, VariantSettings
from generation.workers.fakes import COLOURS
from tests.helpers.bot_env import bot_running, fake_runner, is_result

STYLES_CSV = (
    "name,prompt,negative_prompt\n"
    '"Cinematic","cinematic still of {prompt}, film grain","cartoon"\n'
    "Sharp,highly detailed,blurry\n"
)
COLOUR_NAMES = ["blue", "gold", "green", "purple", "red", "yellow"]


@pytest.fixture
async def env(tmp_path):
    (tmp_path / "styles.csv").write_text(STYLES_CSV, encoding="utf-8")
    wildcards = tmp_path / "wildcards"
    wildcards.mkdir()
    (wildcards / "colors.txt").write_text("\n".join(COLOUR_NAMES) + "\n", encoding="utf-8")

    def configure(settings):
        return settings.replace(
            styles=StyleSettings(file=tmp_path / "styles.csv"),
            variants=VariantSettings(wildcards_dir=wildcards, max_jobs=6),
            queue=dataclasses.replace(settings.queue, per_user=6),
        )

    async with bot_running(
        tmp_path, runner=fake_runner, configure=configure, banned_words=("forbidden",)
    ) as env:
        yield env


async def job_of(env, message):
    return await env.job_for(message)


async def image_bytes(env, job, i) -> bytes:
    return await env.service.read_artifact(job.images[i].key)


def colour_of(data: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").getpixel((0, 0))


# -- styles --------------------------------------------------------------------------------------


async def test_a_style_from_the_styles_csv_and_several_in_order(env):
    ix = await env.server.slash("imagine", {"prompt": "a cat --style cinematic --no dogs --seed 5"})
    job = await job_of(env, await env.result(ix))
    assert job.request.prompt == "cinematic still of a cat, film grain"
    assert job.request.negative_prompt == "dogs, cartoon"
    parameters = read_parameters(io.BytesIO(await image_bytes(env, job, 0)))
    assert parameters is not None and parameters.startswith("cinematic still of a cat, film grain\n")

    # the option's styles first, then the flag's
    ix = await env.server.slash("imagine", {"prompt": "a dog --style Cinematic", "style": "Sharp"})
    job = await job_of(env, await env.result(ix))
    assert job.request.prompt == "cinematic still of a dog, highly detailed, film grain"
    assert job.request.negative_prompt == "blurry, cartoon"


async def test_an_unknown_style_is_refused_with_the_closest_names(env):
    ix = await env.server.slash("imagine", {"prompt": "a cat --style cinematc"})
    refusal = await ix.wait_followup(lambda m: "style" in m.content)
    assert refusal.ephemeral and "cinematc" in refusal.content and "`Cinematic`" in refusal.content
    assert await env.service.user_jobs(env.server.get_user("alice").id) == []


async def test_server_styles_for_admins_and_the_style_autocomplete(env):
    server = env.server
    ix = await server.slash(
        "style", {"name": "Noir", "prompt": "{prompt}, black and white"}, subcommand="add"
    )
    refused = await ix.wait_original(lambda m: "admin" in m.content.lower())
    assert refused.ephemeral

    ix = await server.slash(
        "style",
        {"name": "Noir", "prompt": "{prompt}, black and white", "negative": "colour"},
        subcommand="add",
        user="mod",
    )
    await ix.wait_original(lambda m: "added" in m.content)
    names = [c["value"] for c in await server.autocomplete("imagine", {"prompt": "x"}, "style")]
    assert names == ["Cinematic", "Noir", "Sharp"]
    several = await server.autocomplete("imagine", {"prompt": "x", "style": "Noir, sh"}, "style")
    assert [c["value"] for c in several] == ["Noir, Sharp"]

    ix = await server.slash("imagine", {"prompt": "a street", "style": "noir, Sharp"})
    job = await job_of(env, await env.result(ix))
    assert (job.request.prompt, job.request.negative_prompt) == (
        "a street, black and white, highly detailed",
        "colour, blurry",
    )

    csv = b"name,prompt,negative_prompt\nWatercolor,watercolor painting of {prompt},photo\n,skipped,\n"
    upload = server.add_attachment(csv, "styles.csv", content_type="text/csv")
    ix = await server.slash("style", {"file": upload}, subcommand="import", user="mod")
    await ix.wait_original(lambda m: "1 added" in m.content)
    ix = await server.slash("style", {}, subcommand="list", user="mod")
    listing = await ix.wait_original(lambda m: "Watercolor" in m.content)
    assert "`Noir`" in listing.content and "`Cinematic`" in listing.content

    ix = await server.slash("style", {"name": "Noir"}, subcommand="remove", user="mod")
    await ix.wait_original(lambda m: "removed" in m.content)
    names = [c["value"] for c in await server.autocomplete("imagine", {"prompt": "x"}, "style")]
    assert names == ["Cinematic", "Sharp", "Watercolor"]


# -- wildcards -----------------------------------------------------------------------------------


async def test_a_wildcard_file_each_image_its_own_variant(env, tmp_path):
    ix = await env.server.slash("imagine", {"prompt": "a __colors__ square --seed 11"})
    job = await job_of(env, await env.result(ix))
    wildcards = Wildcards(tmp_path / "wildcards")
    expected = [draw("a __colors__ square", seed, wildcards) for seed in job.request.seeds]
    assert list(job.request.image_prompts) == expected
    assert len(set(expected)) > 1  # seed 11's four images do not all draw the same colour
    for i, prompt in enumerate(expected):
        data = await image_bytes(env, job, i)
        parameters = parse_parameters(read_parameters(io.BytesIO(data)) or "")
        assert parameters["prompt"] == prompt and parameters["Seed"] == str(job.request.seed + i)
        assert colour_of(data) == COLOURS[prompt.split()[1]]  # the image was made with its own prompt

    # the info button shows image 1's own prompt
    info = await env.server.click(f"img:i:{job.id}:0")
    shown = await info.wait_original(lambda m: "Seed: 11" in m.content)
    assert f"```\n{expected[0]}\n" in shown.content

    # the same prompt and seed draw the same again; a reroll draws from its new seeds
    ix = await env.server.slash("imagine", {"prompt": "a __colors__ square --seed 11"})
    assert (await job_of(env, await env.result(ix))).request.image_prompts == job.request.image_prompts
    again = await env.server.click(f"img:r:{job.id}:0")
    rerolled = await job_of(env, await env.result(again))
    assert rerolled.request.prompt == "a __colors__ square" and rerolled.request.seed != 11
    assert list(rerolled.request.image_prompts) == [
        draw("a __colors__ square", seed, wildcards) for seed in rerolled.request.seeds
    ]

    # an upscale keeps its image's own prompt
    up = await env.server.click(f"img:u:{job.id}:2")
    upscaled = await job_of(env, await env.result(up))
    assert upscaled.request.prompt == expected[2] and upscaled.request.image_prompts == ()


async def test_an_unknown_wildcard_and_a_banned_word_in_a_variant_are_refused(env):
    ix = await env.server.slash("imagine", {"prompt": "a __colours__ square"})
    refusal = await ix.wait_followup(lambda m: "wildcard" in m.content)
    assert "__colors__" in refusal.content

    # a banned word that only a drawn variant spells does not slip through
    template = "a {forbid|allow}den cat"
    seed = next(s for s in range(100) if draw(template, s, Wildcards(None)) == "a forbidden cat")
    ix = await env.server.slash("imagine", {"prompt": f"{template} --seed {seed} --n 1"})
    refusal = await ix.wait_followup(lambda m: "not allowed" in m.content)
    assert '"forbidden"' in refusal.content
    assert await env.service.user_jobs(env.server.get_user("alice").id) == []


# -- several jobs --------------------------------------------------------------------------------


async def all_results(env, ix, count):
    """The interaction's messages once `count` of them show a finished result."""

    def done():
        results = [m for m in ix.messages if is_result(m)]
        return results if len(results) == count else None

    return await env.server.wait_for(done, 30, f"{count} results")


async def test_permute_makes_a_job_of_each_combination(env):
    ix = await env.server.slash("imagine", {"prompt": "a {red|blue} {circle|square} --permute --seed 3"})
    messages = await all_results(env, ix, 4)
    jobs = [await job_of(env, m) for m in messages]
    assert sorted(j.request.prompt for j in jobs) == [
        "a blue circle",
        "a blue square",
        "a red circle",
        "a red square",
    ]
    assert {j.request.seed for j in jobs} == {3} and len({j.id for j in jobs}) == 4
    for job, message in zip(jobs, messages, strict=True):
        assert job.request.image_prompts == ()
        assert colour_of(await image_bytes(env, job, 0)) == COLOURS[job.request.prompt.split()[1]]
        assert job.request.prompt in message.content
    assert ix.original.id in {m.id for m in messages}


async def test_permute_above_the_limit_is_refused_once(env):
    ix = await env.server.slash("imagine", {"prompt": "a {red|blue|gold} {circle|square|star} --permute"})
    refusal = await ix.wait_followup(lambda m: "at most 6" in m.content)
    assert "9 jobs" in refusal.content
    assert len(ix.followups) == 1 and await env.service.user_jobs(env.server.get_user("alice").id) == []


async def test_repeat_queues_jobs_with_fresh_seeds(env):
    ix = await env.server.slash("imagine", {"prompt": "a red circle --repeat 3 --n 1"})
    jobs = [await job_of(env, m) for m in await all_results(env, ix, 3)]
    assert [j.request.prompt for j in jobs] == ["a red circle"] * 3
    assert len({j.request.seed for j in jobs}) == 3

    ix = await env.server.slash("imagine", {"prompt": "a red circle --repeat 2 --seed 50 --n 2"})
    jobs = [await job_of(env, m) for m in await all_results(env, ix, 2)]
    assert sorted(j.request.seed for j in jobs) == [50, 52]  # stepped past each job's images

    ix = await env.server.slash("imagine", {"prompt": "a red circle --repeat 7"})
    refusal = await ix.wait_followup(lambda m: "--repeat" in m.content)
    assert "from 1 to 6" in refusal.content


async def test_more_jobs_than_the_queue_has_room_for_are_refused_before_any_is_queued(env):
    env.runner.gate.clear()  # hold the GPU so jobs stay waiting
    try:
        ix = await env.server.slash("imagine", {"prompt": "a red circle --repeat 4"})
        await env.server.wait_for(lambda: len(env.service.queue()) + len(env.service.running()) == 4, 10)
        ix = await env.server.slash("imagine", {"prompt": "a blue circle --repeat 4"})
        refusal = await ix.wait_followup(lambda m: "queue" in m.content)
        assert "makes 4 jobs" in refusal.content
        assert not [j for j in env.service.queue() if "blue" in j.request.prompt]
    finally:
        env.runner.gate.set()
