"""The add-on folders (torch-free): listing, names, hashes, LoRA headers and the add-on plan."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from bot.ui.text import describe
from generation.models.addons import plan_addons
from generation.models.arch import Arch
from generation.models.assets import AddonProblem, AssetLibrary, UnknownAsset
from generation.models.lora_files import lora_info, lora_mismatch
from generation.models.registry import ModelRegistry
from generation.requests.applied import Note
from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings, PathSettings, load_settings


def tensors(**shapes) -> dict[str, np.ndarray]:
    return {name.replace("__", "."): np.zeros(shape, np.float32) for name, shape in shapes.items()}


def write(path: Path, data: dict | None = None, metadata: dict | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(data or {"x": np.ones(2, np.float32)}, str(path), metadata=metadata)
    return path


@pytest.fixture
def models(tmp_path) -> Path:
    root = tmp_path / "models"
    write(root / "Lora" / "detail.safetensors")
    write(root / "Lora" / "styles" / "Watercolor.safetensors")  # subfolders are searched
    write(root / "Lora" / ".hidden.safetensors")
    (root / "Lora" / "notes.txt").write_text("not a LoRA")
    write(root / "embeddings" / "EasyNegative.safetensors")
    (root / "embeddings" / "EasyNegative.pt").write_bytes(b"x")  # .safetensors preferred
    (root / "embeddings" / "bad-hands-5.pt").write_bytes(b"y")
    write(root / "VAE" / "kl-f8.safetensors")
    (root / "VAE" / "folder-vae").mkdir()
    (root / "VAE" / "folder-vae" / "config.json").write_text("{}")
    write(root / "VAE" / "folder-vae" / "diffusion_pytorch_model.safetensors")
    write(root / "ckpt.safetensors")
    write(root / "ckpt.vae.safetensors")
    return root


def test_listing_the_folders(models):
    library = AssetLibrary.in_models_dir(models)
    assert [f.name for f in library.loras()] == ["detail", "Watercolor"]
    assert [(f.name, f.path.suffix) for f in library.embeddings()] == [
        ("bad-hands-5", ".pt"),
        ("EasyNegative", ".safetensors"),
    ]
    assert [f.name for f in library.vaes()] == ["folder-vae", "kl-f8", "ckpt.vae"]
    assert AssetLibrary().loras() == [] and AssetLibrary(models / "missing").embeddings() == []


def test_names_exact_file_name_or_any_case_and_the_closest_when_unknown(models):
    library = AssetLibrary.in_models_dir(models)
    assert library.lora("watercolor").path.name == "Watercolor.safetensors"
    assert library.vae("kl-f8.safetensors").name == "kl-f8"  # the web UI's infotext writes file names
    assert library.vae("ckpt.vae.safetensors").name == "ckpt.vae"
    with pytest.raises(UnknownAsset) as info:
        library.lora("detial")
    assert (info.value.code, info.value.fields) == (
        AddonProblem.LORA_UNKNOWN,
        {"name": "detial", "closest": ["detail"], "count": 2},
    )
    assert (
        describe(info.value) == "There is no LoRA called detial; did you mean detail? (2 LoRAs are installed)"
    )
    with pytest.raises(UnknownAsset) as info:
        library.vae("nothing-like-it")
    assert info.value.fields["closest"] == [] and info.value.code == AddonProblem.VAE_UNKNOWN


def test_automatic_vae_beside_the_checkpoint_is_no_model(models):
    library = AssetLibrary.in_models_dir(models)
    assert library.vae_beside(models / "ckpt.safetensors").name == "ckpt.vae"
    assert library.vae_beside(models / "other.safetensors") is None
    assert ModelRegistry(models).names() == ["ckpt"]


def test_hashes_are_the_web_uis(models):
    library = AssetLibrary.in_models_dir(models)
    lora = library.lora("detail")
    raw = lora.path.read_bytes()
    header_end = 8 + int.from_bytes(raw[:8], "little")
    assert library.lora_hash(lora) == hashlib.sha256(raw[header_end:]).hexdigest()[:12]
    assert library.lora_hash(lora) != hashlib.sha256(raw).hexdigest()[:12]
    stored = write(models / "Lora" / "stored.safetensors", metadata={"sshs_model_hash": "ab" * 32})
    assert library.lora_hash(library.lora("stored")) == "ab" * 6 and stored.exists()
    embedding = library.embeddings()[0]
    assert library.embedding_hash(embedding) == hashlib.sha256(embedding.path.read_bytes()).hexdigest()[:12]
    vae = library.vae("folder-vae")
    weights = vae.path / "diffusion_pytorch_model.safetensors"
    assert library.vae_hash(vae) == hashlib.sha256(weights.read_bytes()).hexdigest()[:10]


def test_lora_headers_say_what_a_lora_is_for(tmp_path):
    kohya_sd1 = write(
        tmp_path / "a.safetensors",
        tensors(
            lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k__lora_down__weight=(4, 768),
            lora_te_text_model_encoder_layers_0_self_attn_q_proj__lora_down__weight=(4, 768),
        ),
    )
    info = lora_info(kohya_sd1)
    assert (info.layout, info.kind, info.unet_context, info.text_width, info.arch) == (
        "kohya",
        "LoRA",
        768,
        768,
        Arch.SD1,
    )
    kohya_xl = write(
        tmp_path / "b.safetensors",
        tensors(
            lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k__lora_down__weight=(4, 2048),
            lora_te2_text_model_encoder_layers_0_self_attn_q_proj__lora_down__weight=(4, 1280),
        ),
    )
    assert lora_info(kohya_xl).arch is Arch.SDXL
    diffusers = write(
        tmp_path / "c.safetensors",
        tensors(unet__mid_block__attentions__0__transformer_blocks__0__attn2__to_k__lora_A__weight=(4, 1024)),
    )
    assert (lora_info(diffusers).layout, lora_info(diffusers).arch) == ("diffusers", Arch.SD2)
    loha = write(tmp_path / "d.safetensors", tensors(lora_unet_x__hada_w1_a=(4, 4)))
    assert lora_info(loha).kind == "LoHa"

    sd1 = {"model_arch": Arch.SD1, "context_dim": 768, "text_width": 768, "second_text_width": None}
    assert lora_mismatch("a", lora_info(kohya_sd1), **sd1) is None
    wrong = lora_mismatch("b", lora_info(kohya_xl), **sd1)
    assert (wrong.code, wrong.fields["lora_arch"], wrong.fields["model_arch"]) == (
        "lora.wrong_arch",
        "sdxl",
        "sd1",
    )
    assert (
        describe(wrong)
        == "The LoRA b was made for SDXL and cannot be used with this Stable Diffusion 1.x model."
    )
    unsupported = lora_mismatch("d", lora_info(loha), **sd1)
    assert unsupported.code == "lora.unsupported" and "LoHa" in describe(unsupported)


def test_the_plan(models):
    library = AssetLibrary.in_models_dir(models)
    request = GenerationRequest(
        "a cat <lora:detail:0.6> easynegative <hypernet:h:1>",
        negative_prompt="<lora:watercolor> bad-hands-5",
    )
    plan = plan_addons(request, library, model_name="ckpt", checkpoint=models / "ckpt.safetensors")
    assert [(c.tag.name, c.tag.te_weight, c.file.name) for c in plan.loras] == [("detail", 0.6, "detail")]
    assert [f.name for f in plan.embeddings] == ["EasyNegative", "bad-hands-5"]
    assert (plan.vae.file.name, plan.vae.source) == ("ckpt.vae", "automatic")
    assert plan.clip_skip == 1
    assert [(n.code, n.fields) for n in plan.notes] == [
        (Note.OTHER_NETWORK, {"kind": "hypernet", "name": "h"}),
        (Note.LORA_IN_NEGATIVE, {"name": "watercolor"}),
    ]
    configured = ModelSettings(clip_skip={"ckpt": 2}, vae={"ckpt": "kl-f8"})
    plan = plan_addons(GenerationRequest("x"), library, model_name="ckpt", settings=configured)
    assert (plan.clip_skip, plan.vae.file.name, plan.vae.source) == (2, "kl-f8", "config")
    asked = GenerationRequest("x", clip_skip=3, vae="None")
    plan = plan_addons(
        asked, library, model_name="ckpt", checkpoint=models / "ckpt.safetensors", settings=configured
    )
    assert (plan.clip_skip, plan.vae) == (3, None)
    plan = plan_addons(GenerationRequest("x", vae="folder-vae"), library)
    assert (plan.vae.file.name, plan.vae.source) == ("folder-vae", "request")
    with pytest.raises(UnknownAsset):
        plan_addons(GenerationRequest("x <lora:nope>"), library)
    with pytest.raises(UnknownAsset):
        plan_addons(GenerationRequest("x", vae="nope"), library)


def test_folders_from_the_config(tmp_path):
    paths = PathSettings(models_dir=tmp_path / "m")
    assert paths.addon_dir(paths.lora_dir) == tmp_path / "m" / "Lora"
    assert paths.addon_dir(paths.vae_dir) == tmp_path / "m" / "VAE"
    config = tmp_path / "config.toml"
    config.write_text('[paths]\nmodels_dir = "m"\nembeddings_dir = "elsewhere/emb"\n')
    loaded = load_settings(config).paths
    assert loaded.addon_dir(loaded.embeddings_dir) == tmp_path / "elsewhere" / "emb"
    assert AssetLibrary.from_settings(loaded).lora_dir == tmp_path / "m" / "Lora"


def test_listings_say_what_each_add_on_is_for(tmp_path):
    from generation.models.embedding_files import list_embeddings, list_loras

    write(tmp_path / "embeddings" / "sd1.safetensors", tensors(emb_params=(8, 768)))
    write(tmp_path / "embeddings" / "xl.safetensors", tensors(clip_l=(4, 768), clip_g=(4, 1280)))
    (tmp_path / "embeddings" / "old.pt").write_bytes(b"a pickle")
    write(
        tmp_path / "Lora" / "a.safetensors",
        tensors(lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k__lora_down__weight=(4, 768)),
    )
    (tmp_path / "Lora" / "broken.safetensors").write_bytes(b"nope")
    library = AssetLibrary.in_models_dir(tmp_path)
    assert [(e.name, e.arch, e.vectors, e.width) for e in list_embeddings(library)] == [
        ("old", None, None, None),
        ("sd1", Arch.SD1, 8, 768),
        ("xl", Arch.SDXL, 4, 768),
    ]
    assert [(f.name, info.arch if info else None) for f, info in list_loras(library)] == [
        ("a", Arch.SD1),
        ("broken", None),
    ]


def test_every_add_on_problem_and_note_is_worded():
    from bot.ui.text import PROBLEMS, UNKNOWN_PROBLEM

    codes = {code.value for code in AddonProblem} | {code.value for code in Note}
    assert codes <= set(PROBLEMS)
    skipped = describe(_note(Note.EMBEDDING_SKIPPED, name="x", reason="arch", detail="d"))
    assert skipped == "The embedding x was not used: it was made for another kind of model (d)."
    assert describe(_note(Note.CLIP_SKIP_IGNORED, clip_skip=2, arch="sdxl")) != UNKNOWN_PROBLEM


def _note(code, **fields):
    from generation.problems import Problem

    return Problem(code, **fields)
