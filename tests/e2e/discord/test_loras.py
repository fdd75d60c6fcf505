"""LoRAs and embeddings from Discord, on the tiny model through localcord: the lora option and its
autocomplete, what was applied in the result message, the job and the PNG's infotext, refusals at
submit with the closest names, /model loras and /model embeddings."""

from __future__ import annotations

import io
import shutil

import pytest
import torch
from safetensors.torch import save_file

from generation.images.metadata import parse_parameters, read_parameters
from generation.jobs.types import JobStatus
from generation.models.tiny import build_tiny_pipeline, tiny_embedding, tiny_lora
from tests.helpers.bot_env import bot_running, is_result
from tests.helpers.discord_answers import answer


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_model_dir):
    """The tiny model, a LoRA and an embedding made for it, and files made for SDXL."""
    root = tmp_path_factory.mktemp("lora-models")
    shutil.copytree(tiny_model_dir, root / "tiny")
    pipe = build_tiny_pipeline()
    (root / "Lora").mkdir()
    save_file(tiny_lora(pipe, seed=1), str(root / "Lora" / "detail.safetensors"))
    # an SDXL LoRA's header: cross-attention keys 2048 wide and keys for the second text encoder
    xl = {
        "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": torch.zeros(4, 2048),
        "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": torch.zeros(4, 1280),
    }
    save_file(xl, str(root / "Lora" / "xl-only.safetensors"))
    (root / "embeddings").mkdir()
    save_file(tiny_embedding(pipe, vectors=2, seed=4), str(root / "embeddings" / "shinyemb.safetensors"))
    xl_embedding = {"clip_l": torch.zeros(2, 768), "clip_g": torch.zeros(2, 1280)}
    save_file(xl_embedding, str(root / "embeddings" / "xlemb.safetensors"))
    return root


@pytest.fixture
async def env(tmp_path, models):
    async with bot_running(tmp_path, models, defaults={"count": 1}) as env:
        yield env


async def test_the_lora_option_is_applied_named_and_recorded(env):
    server = env.server
    choices = await server.autocomplete("imagine", {"prompt": "x", "lora": "det"}, "lora")
    assert [c["value"] for c in choices] == ["detail"]
    typed = await server.autocomplete("imagine", {"prompt": "x", "lora": "de:0.5"}, "lora")
    assert [c["value"] for c in typed] == ["detail:0.5"]
    everything = await server.autocomplete("imagine", {"prompt": "x", "lora": ""}, "lora")
    assert [c["value"] for c in everything] == ["detail"]  # the SDXL LoRA does not fit the tiny model

    ix = await server.slash(
        "imagine",
        {"prompt": "a red circle, shinyemb, xlemb --clipskip 2 --seed 7", "lora": "detail:0.7"},
    )
    message = await env.result(ix)
    job = await env.job_for(message)
    assert job.status is JobStatus.DONE and job.request.prompt.endswith("<lora:detail:0.7>")
    applied = job.applied
    assert [(u.name, u.te_weight, u.unet_weight) for u in applied.loras] == [("detail", 0.7, 0.7)]
    assert [u.name for u in applied.embeddings] == ["shinyemb"] and applied.clip_skip == 2
    assert [n.fields["name"] for n in applied.notes] == ["xlemb"]  # made for SDXL: skipped, and said
    lines = message.content.splitlines()
    assert "-# LoRA detail 0.7 · embedding shinyemb · clip skip 2" in lines
    assert any(line.startswith("-# The embedding xlemb was not used") for line in lines)

    png = await env.service.read_artifact(job.images[0].key)
    parameters = parse_parameters(read_parameters(io.BytesIO(png)))
    lora_hash = applied.loras[0].hash
    assert lora_hash and parameters["Lora hashes"] == f"detail: {lora_hash}"
    assert parameters["TI hashes"] == f"shinyemb: {applied.embeddings[0].hash}"
    assert parameters["Clip skip"] == "2"

    info = await server.click(f"img:i:{job.id}:0", message)
    shown = await info.wait_original(lambda m: "Lora hashes" in m.content)
    assert f'Lora hashes: "detail: {lora_hash}"' in shown.content

    shown_again = await server.slash("show", {"job": job.id})
    again = await shown_again.wait_original(lambda m: bool(m.attachments))
    assert "-# LoRA detail 0.7 · embedding shinyemb · clip skip 2" in again.content.splitlines()

    restarted = await env.restart()  # kept with the job, not only in the worker's memory
    assert (await restarted.service.get_job(job.id)).applied == applied


async def test_unknown_and_wrong_arch_loras_are_refused_before_queueing(env):
    server = env.server
    unknown = await answer(server, await server.slash("imagine", {"prompt": "a cat", "lora": "detial"}))
    assert "There is no LoRA called detial; did you mean detail?" in unknown.content
    tagged = await answer(server, await server.slash("imagine", {"prompt": "a cat <lora:detale:1>"}))
    assert "did you mean detail?" in tagged.content
    xl = await answer(server, await server.slash("imagine", {"prompt": "a cat", "lora": "xl-only"}))
    assert "The LoRA xl-only was made for SDXL and cannot be used" in xl.content
    bad = await answer(server, await server.slash("imagine", {"prompt": "a cat", "lora": "a<b"}))
    assert "The lora option takes a LoRA's name" in bad.content
    assert env.service.queue() == [] and env.service.running() == []
    assert not [m for m in server.channel_messages() if is_result(m)]


async def test_model_loras_and_embeddings_list_the_files(env):
    server = env.server
    embeddings = await answer(server, await server.slash("model", {}, subcommand="embeddings", user="mod"))
    assert "- `shinyemb` (model unknown, 2 vectors)" in embeddings.content
    assert "- `xlemb` (SDXL, 2 vectors, not for this model)" in embeddings.content
    loras = await answer(server, await server.slash("model", {}, subcommand="loras", user="mod"))
    assert "- `detail` (model unknown)" in loras.content
    assert "- `xl-only` (SDXL, not for this model)" in loras.content
