"""The add-on checks a front end makes before a job queues, from file headers alone (no torch):
a checkpoint's widths, LoRAs for another architecture, unknown names, and the listings."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from generation.models.arch import Arch
from generation.models.assets import AddonProblem, UnknownAsset
from generation.models.preflight import Preflight
from generation.models.widths import ModelWidths, model_widths
from generation.problems import Problem
from generation.requests.request import GenerationRequest
from generation.settings import PathSettings, Settings

UNET_TO_K = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
SD1_TEXT = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
XL_TEXT1 = "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight"
XL_TEXT2 = "conditioner.embedders.1.model.token_embedding.weight"
LORA_TO_K = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight"
LORA_TE = "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"
LORA_TE2 = "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"


def write(path, shapes: dict[str, tuple[int, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: np.zeros(shape, dtype=np.float16) for key, shape in shapes.items()}, str(path))


@pytest.fixture
def preflight(tmp_path) -> Preflight:
    models = tmp_path / "models"
    write(models / "sd15.safetensors", {UNET_TO_K: (1, 768), SD1_TEXT: (1, 768)})
    write(models / "xl.safetensors", {UNET_TO_K: (1, 2048), XL_TEXT1: (1, 768), XL_TEXT2: (1, 1280)})
    (models / "old.ckpt").write_bytes(b"not read: a pickle's widths are known once loaded")
    write(models / "Lora" / "detail.safetensors", {LORA_TO_K: (4, 768), LORA_TE: (4, 768)})
    write(models / "Lora" / "xl-detail.safetensors", {LORA_TO_K: (4, 2048), LORA_TE2: (4, 1280)})
    write(models / "Lora" / "loha.safetensors", {"lora_unet_x.hada_w1_a": (2, 2)})
    write(models / "embeddings" / "easyneg.safetensors", {"emb_params": (8, 768)})
    write(models / "embeddings" / "xlneg.safetensors", {"clip_l": (2, 768), "clip_g": (2, 1280)})
    return Preflight(Settings(paths=PathSettings(models_dir=models)))


def test_a_checkpoints_widths_come_from_its_header(preflight):
    assert preflight.widths("sd15") == ModelWidths(Arch.SD1, 768, 768)
    assert preflight.widths("xl") == ModelWidths(Arch.SDXL, 2048, 768, 1280)
    assert preflight.widths("old") is None and preflight.widths("nope") is None
    assert model_widths(preflight.registry.get("old")) is None


def test_loras_are_refused_as_the_worker_would(preflight):
    def check(prompt: str, model: str, **kw) -> None:
        preflight.check(GenerationRequest(prompt, model=model, **kw))

    check("a cat <lora:detail:0.7>", "sd15")
    check("a cat <lora:xl-detail:1>", "xl")
    check("a cat <lora:xl-detail:1>", "old")  # only loading tells: the worker checks then
    with pytest.raises(Problem) as wrong:
        check("a cat <lora:xl-detail:1>", "sd15")
    assert wrong.value.code == AddonProblem.LORA_WRONG_ARCH and wrong.value.fields["lora_arch"] == "sdxl"
    with pytest.raises(UnknownAsset) as unknown:
        check("a cat <lora:detial:1>", "sd15")
    # the closest names are those this model can use: the SDXL one is not offered on SD 1.5
    assert unknown.value.fields["closest"] == ["detail"] and unknown.value.fields["count"] == 3
    with pytest.raises(UnknownAsset) as on_xl:
        check("a cat <lora:detial:1>", "xl")
    assert on_xl.value.fields["closest"] == ["xl-detail"]
    with pytest.raises(Problem) as loha:
        check("a cat <lora:loha:1>", "sd15")
    assert loha.value.code == AddonProblem.LORA_UNSUPPORTED and loha.value.fields["kind"] == "LoHa"
    with pytest.raises(UnknownAsset) as vae:
        check("a cat", "sd15", vae="nope")
    assert vae.value.code == AddonProblem.VAE_UNKNOWN
    # a variant's tag counts as much as the prompt's own
    drawn = ("a cat <lora:detail:1>", "a cat <lora:xl-detail:1>")
    with pytest.raises(Problem):
        check("a cat {<lora:detail:1>|<lora:xl-detail:1>}", "sd15", count=2, image_prompts=drawn)


def test_listings_say_what_each_file_is_for_and_whether_it_fits(preflight):
    loras = {item.name: (item.arch, item.fits, item.detail) for item in preflight.loras("sd15")}
    assert loras == {
        "detail": ("sd1", True, None),
        "loha": (None, False, "LoHa"),
        "xl-detail": ("sdxl", False, None),
    }
    assert {item.name: item.fits for item in preflight.loras("old")} == {
        "detail": None,
        "loha": False,
        "xl-detail": None,
    }
    embeddings = {item.name: (item.arch, item.fits, item.detail) for item in preflight.embeddings("xl")}
    assert embeddings == {"easyneg": ("sd1", False, "8 vectors"), "xlneg": ("sdxl", True, "2 vectors")}
