"""LoRAs, textual inversions and VAEs on the tiny model, from files the tests write (CPU, 64x64)."""

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from generation.models.arch import Arch
from generation.models.assets import AddonProblem, AssetLibrary, UnknownAsset
from generation.models.convert import vae_key_map
from generation.models.hashing import addnet_sha256
from generation.models.loaded import LoadedModel, ModelEntry
from generation.models.tiny import build_tiny_pipeline, save_tiny_model, tiny_embedding, tiny_lora
from generation.pipelines import vae as vae_module
from generation.pipelines.engine import generate, generate_result
from generation.pipelines.lora import adapters_of
from generation.problems import Problem
from generation.requests.applied import Note
from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings
from tests.unit.pipelines.test_engine import build_tiny_sdxl


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A models folder: the tiny model, LoRAs, embeddings and VAEs made for it."""
    root = tmp_path_factory.mktemp("models")
    save_tiny_model(root / "tiny", seed=5)
    pipe = build_tiny_pipeline(seed=5)
    (root / "Lora").mkdir()
    save_file(tiny_lora(pipe, seed=1), str(root / "Lora" / "detail.safetensors"))
    save_file(tiny_lora(pipe, seed=2), str(root / "Lora" / "style.safetensors"))
    save_file(
        tiny_lora(pipe, seed=1, layout="diffusers"), str(root / "Lora" / "detail-diffusers.safetensors")
    )
    save_file(tiny_lora(build_tiny_sdxl(), seed=3), str(root / "Lora" / "xl-only.safetensors"))
    save_file({"lora_unet_x.hada_w1_a": torch.zeros(2, 2)}, str(root / "Lora" / "loha.safetensors"))
    both = {}  # detail and style as one rank-8 LoRA: what the two adapters at weight 1 add up to
    one, two = tiny_lora(pipe, seed=1), tiny_lora(pipe, seed=2)
    for key in one:
        if key.endswith(".lora_down.weight"):
            both[key] = torch.cat([one[key], two[key]], dim=0)
        elif key.endswith(".lora_up.weight"):
            both[key] = torch.cat([one[key], two[key]], dim=1)
        else:
            both[key] = torch.tensor(8.0)
    save_file(both, str(root / "Lora" / "both.safetensors"))

    (root / "embeddings").mkdir()
    vectors = tiny_embedding(pipe, vectors=2, seed=4)
    save_file(vectors, str(root / "embeddings" / "shinyemb.safetensors"))
    torch.save(
        {"string_to_param": {"*": vectors["emb_params"]}, "name": "x", "step": 9},
        root / "embeddings" / "ptemb.pt",
    )
    save_file(tiny_embedding(build_tiny_sdxl(), seed=4), str(root / "embeddings" / "xlemb.safetensors"))
    (root / "embeddings" / "evilemb.pt").write_bytes(pickle.dumps(Path("x")))  # a pickle of an object

    (root / "VAE").mkdir()
    torch.manual_seed(6)
    other = build_tiny_pipeline(seed=6).vae  # other weights, the same shape
    mapping = vae_key_map(other.state_dict(), other.config)
    ldm = {"first_stage_model." + mapping[k]: v for k, v in other.state_dict().items()}
    save_file(ldm, str(root / "VAE" / "other-vae.safetensors"))
    save_file(dict(other.state_dict()), str(root / "VAE" / "other-diffusers.safetensors"))
    save_file(ldm, str(root / "tiny.vae.safetensors"))  # the "Automatic" VAE of checkpoint tiny
    return root


@pytest.fixture(scope="module")
def model(models) -> LoadedModel:
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        models / "tiny", local_files_only=True, safety_checker=None
    )
    pipe.set_progress_bar_config(disable=True)
    entry = ModelEntry("tiny", models / "tiny", "diffusers")
    return LoadedModel("tiny", entry, pipe, Arch.SD1, None, torch.device("cpu"), torch.float32)


@pytest.fixture(scope="module")
def library(models) -> AssetLibrary:
    return AssetLibrary.in_models_dir(models)


def req(prompt="a red circle", **changes) -> GenerationRequest:
    base = GenerationRequest(prompt, width=64, height=64, steps=3, seed=77, count=1, sampler="Euler")
    return base.replace(**changes)


def pixels(image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def same(a, b) -> bool:
    return bool((pixels(a) == pixels(b)).all())


def image(model, library, request, **kwargs):
    return generate(model, [request], assets=library, **kwargs)[0][0]


@pytest.fixture
def loads(model, monkeypatch):
    calls = []
    original = model.pipe.load_lora_weights

    def counting(*args, **kwargs):
        calls.append(kwargs.get("adapter_name"))
        return original(*args, **kwargs)

    monkeypatch.setattr(model.pipe, "load_lora_weights", counting)
    return calls


# -- LoRA ------------------------------------------------------------------------------------------


def test_lora_weight_zero_is_no_lora_and_weight_one_changes_pixels(model, library):
    plain = image(model, library, req())
    assert same(image(model, library, req("a red circle <lora:detail:0>")), plain)
    assert adapters_of(model).loads >= 1  # it was loaded, at weight 0
    with_lora = image(model, library, req("a red circle <lora:detail:1>"))
    assert not same(with_lora, plain)
    assert same(image(model, library, req()), plain)  # switched off again afterwards
    assert same(image(model, library, req("a red circle <lora:detail:1>")), with_lora)


def test_two_loras_combine(model, library):
    one = image(model, library, req("a red circle <lora:detail:1>"))
    two = image(model, library, req("a red circle <lora:style:1>"))
    both = image(model, library, req("a red circle <lora:detail:1> <lora:style:1>"))
    assert not same(both, one) and not same(both, two)
    merged = image(model, library, req("a red circle <lora:both:1>"))  # the sum as one rank-8 LoRA
    diff = np.abs(pixels(both) - pixels(merged))
    assert diff.max() <= 2 and (diff > 0).mean() < 0.02


def test_the_diffusers_layout_is_the_same_lora(model, library):
    kohya = image(model, library, req("a red circle <lora:detail:0.8>"))
    assert same(image(model, library, req("a red circle <lora:detail-diffusers:0.8>")), kohya)


def test_text_encoder_and_unet_weights_apart(model, library):
    full = image(model, library, req("a red circle <lora:detail:1>"))
    unet_only = image(model, library, req("a red circle <lora:detail:0:1>"))
    te_only = image(model, library, req("a red circle <lora:detail:1:0>"))
    plain = image(model, library, req())
    assert len({pixels(x).tobytes() for x in (full, unet_only, te_only, plain)}) == 4


def test_an_adapter_loads_once_for_ten_jobs(model, library, loads):
    adapters_of(model).loaded.clear()  # as if the model had just been loaded (the adapters stay in peft)
    for k in range(10):
        prompt = f"job {k} <lora:style:{0.5 + k / 20}>" + (" <lora:detail:0.3>" if k % 2 else "")
        generate(model, [req(prompt, seed=k)], assets=library)
    assert len(loads) == 2  # style once, detail once: switching loads nothing


def test_unknown_and_unusable_loras(model, library, loads):
    with pytest.raises(UnknownAsset) as info:
        generate(model, [req("a <lora:detial:1>")], assets=library)
    assert info.value.fields["closest"][0] == "detail"
    with pytest.raises(Problem) as info:
        generate(model, [req("a <lora:xl-only:1>")], assets=library)
    assert info.value.code == AddonProblem.LORA_WRONG_ARCH and info.value.fields["lora_arch"] == "sdxl"
    with pytest.raises(Problem) as info:
        generate(model, [req("a <lora:loha:1>")], assets=library)
    assert (info.value.code, info.value.fields["kind"]) == (AddonProblem.LORA_UNSUPPORTED, "LoHa")
    assert loads == []  # refused from the header, before anything was loaded


def test_lora_in_the_negative_is_noted_and_left_out(model, library):
    plain = image(model, library, req(negative_prompt="blurry"))
    result = generate_result(model, [req(negative_prompt="blurry<lora:detail:1>")], assets=library)
    assert same(result.images[0][0], plain)
    assert [(n.code, n.fields) for n in result.applied[0].notes] == [
        (Note.LORA_IN_NEGATIVE, {"name": "detail"})
    ]


def test_what_was_applied_names_the_loras_with_their_hashes(model, library, models):
    result = generate_result(model, [req("a <lora:detail:0.7> <lora:style:-0.2:0.4>")], assets=library)
    [applied] = result.applied
    assert [(u.name, u.file, u.te_weight, u.unet_weight) for u in applied.loras] == [
        ("detail", "detail.safetensors", 0.7, 0.7),
        ("style", "style.safetensors", -0.2, 0.4),
    ]
    assert applied.loras[0].hash == addnet_sha256(models / "Lora" / "detail.safetensors")[:12]


# -- textual inversion -----------------------------------------------------------------------------


def test_an_embedding_changes_the_picture_only_where_it_is_named(model, library, models):
    plain = image(model, library, req("a red circle"))
    result = generate_result(model, [req("a red circle shinyemb")], assets=library)
    assert not same(result.images[0][0], plain)
    [use] = result.applied[0].embeddings
    digest = hashlib.sha256((models / "embeddings" / "shinyemb.safetensors").read_bytes()).hexdigest()
    assert (use.name, use.vectors, use.hash) == ("shinyemb", 2, digest[:12])
    without = AssetLibrary(None, None, None)  # no embeddings folder: the name is just a word
    assert not same(image(model, without, req("a red circle shinyemb")), result.images[0][0])
    in_negative = generate_result(model, [req(negative_prompt="ShinyEmb, blurry")], assets=library)
    assert [u.name for u in in_negative.applied[0].embeddings] == ["shinyemb"]
    assert not same(in_negative.images[0][0], image(model, library, req(negative_prompt=", blurry")))


def test_the_web_uis_pt_format_loads_weights_only(model, library):
    from_pt = image(model, library, req("a red circle ptemb"))
    assert same(from_pt, image(model, library, req("a red circle shinyemb")))  # the same vectors


def test_embeddings_that_do_not_fit_are_noted(model, library):
    result = generate_result(model, [req("a xlemb evilemb")], assets=library)
    notes = {n.fields["name"]: n for n in result.applied[0].notes}
    assert notes["xlemb"].code == Note.EMBEDDING_SKIPPED and notes["xlemb"].fields["reason"] == "arch"
    assert notes["evilemb"].fields["reason"] == "unreadable"
    assert result.applied[0].embeddings == ()


# -- VAE -------------------------------------------------------------------------------------------


def test_a_vae_by_name_by_config_or_beside_the_checkpoint(model, library, monkeypatch):
    model.derived.pop("vaes", None)
    own = image(model, library, req(vae="None"))
    other = image(model, library, req(vae="other-vae"))
    assert not same(other, own)
    assert same(image(model, library, req(vae="other-diffusers.safetensors")), other)  # either layout
    automatic = generate_result(model, [req()], assets=library)  # tiny.vae.safetensors beside it
    assert same(automatic.images[0][0], other)
    assert (automatic.applied[0].vae.name, automatic.applied[0].vae.source) == (
        "tiny.vae.safetensors",
        "automatic",
    )
    configured = ModelSettings(vae={"tiny": "None"})
    assert same(generate(model, [req()], assets=library, settings=configured)[0][0], own)
    reads = []
    monkeypatch.setattr(vae_module, "read_vae", lambda *a: reads.append(a) or pytest.fail("read again"))
    image(model, library, req())  # the automatic VAE again: cached with the model
    assert reads == [] and len(model.derived["vaes"]) == vae_module.MAX_VAES


def test_an_unknown_or_broken_vae(model, library, models):
    with pytest.raises(UnknownAsset) as info:
        generate(model, [req(vae="other-vea")], assets=library)
    assert info.value.fields["closest"][:1] == ["other-vae"]
    (models / "VAE" / "broken.safetensors").write_bytes(b"not a safetensors file")
    try:
        with pytest.raises(Problem) as info:
            generate(model, [req(vae="broken")], assets=library)
        assert info.value.code == AddonProblem.VAE_UNUSABLE
    finally:
        (models / "VAE" / "broken.safetensors").unlink()


def test_clip_skip_from_the_request_or_the_checkpoint(model, library):
    plain = image(model, library, req(vae="None"))
    skipped = generate_result(model, [req(vae="None", clip_skip=2)], assets=library)
    assert not same(skipped.images[0][0], plain) and skipped.applied[0].clip_skip == 2
    configured = ModelSettings(clip_skip={"tiny": 2})
    assert same(
        generate(model, [req(vae="None")], assets=library, settings=configured)[0][0], skipped.images[0][0]
    )


# -- through the worker's runner: the images' infotext -----------------------------------------------


def test_the_runner_writes_what_was_applied_into_the_pngs(models):
    import io

    from PIL import Image

    from generation.images.metadata import parse_hash_list, parse_parameters
    from generation.settings import PathSettings, Settings
    from generation.workers.runner import PipelineRunner

    runner = PipelineRunner(
        Settings(paths=PathSettings(models_dir=models), models=ModelSettings(device="cpu"))
    )
    model = runner.load("tiny")
    request = req("a red circle <lora:detail:0.5> shinyemb", clip_skip=2, vae="other-vae")
    generated = runner.generate(
        model, [request], sources=[None], on_progress=None, cancel=None, want_preview=False
    )
    applied = generated.applied[0]  # what each image applied, returned with the images
    encoded = runner.encode(request, generated.images[0], "tiny", runner.model_hash(model), applied=applied)
    params = parse_parameters(Image.open(io.BytesIO(encoded.images[0])).info["parameters"])
    assert parse_hash_list(params["Lora hashes"]) == {"detail": applied[0].loras[0].hash}
    assert list(parse_hash_list(params["TI hashes"])) == ["shinyemb"]
    assert (params["VAE"], params["Clip skip"]) == ("other-vae.safetensors", "2") and len(
        params["VAE hash"]
    ) == 10


# -- SDXL: both text encoders ------------------------------------------------------------------------


def test_an_sdxl_lora_and_embedding_on_an_sdxl_model(tmp_path):
    pipe = build_tiny_sdxl()
    entry = ModelEntry("xl", tmp_path / "xl", "diffusers")
    model = LoadedModel("xl", entry, pipe, Arch.SDXL, None, torch.device("cpu"), torch.float32)
    (tmp_path / "Lora").mkdir()
    (tmp_path / "embeddings").mkdir()
    save_file(tiny_lora(pipe, seed=8), str(tmp_path / "Lora" / "xl.safetensors"))
    save_file(tiny_embedding(pipe, seed=9), str(tmp_path / "embeddings" / "xlemb.safetensors"))
    library = AssetLibrary.in_models_dir(tmp_path)
    plain = image(model, library, req(steps=2))
    assert same(image(model, library, req("a red circle <lora:xl:0>", steps=2)), plain)
    assert not same(image(model, library, req("a red circle <lora:xl:1>", steps=2)), plain)
    assert set(pipe.get_list_adapters()) == {"unet", "text_encoder", "text_encoder_2"}
    result = generate_result(model, [req("a red circle xlemb", steps=2)], assets=library)
    assert not same(result.images[0][0], plain) and [u.name for u in result.applied[0].embeddings] == [
        "xlemb"
    ]


def test_a_swapped_vae_takes_the_tiling_of_the_models_own(model, library):
    from generation.pipelines.patches import seamless_tiling

    other = vae_module.load_vae(model, library.vae("other-vae"))
    with seamless_tiling(model.pipe, True), vae_module.using_vae(model.pipe, other):
        modes = {m.padding_mode for m in model.pipe.vae.modules() if isinstance(m, torch.nn.Conv2d)}
        assert model.pipe.vae is other and modes == {"circular"}
    assert {m.padding_mode for m in other.modules() if isinstance(m, torch.nn.Conv2d)} == {"zeros"}
    tiled = image(model, library, req(vae="other-vae", tiling=True))
    assert not same(tiled, image(model, library, req(vae="other-vae")))


def test_notes_go_to_the_request_they_concern(model, library):
    named, plain = req("a xlemb circle", seed=1), req("a red square", seed=2, clip_skip=2)
    first, second = generate_result(model, [named, plain], assets=library).applied
    assert [n.fields["name"] for n in first.notes] == ["xlemb"] and second.notes == ()
    assert (first.clip_skip, second.clip_skip) == (1, 2)
