"""generation.models: registry, detection, offline single-file loading, hashes, devices."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from generation.models import (
    Arch,
    HashCache,
    LoadedModel,
    ModelEntry,
    ModelLoadError,
    ModelNotFound,
    ModelRegistry,
    UnknownArchitecture,
    UnsafeCheckpoint,
    detect_architecture,
    detect_file,
    hashing,
    ldm_state_dict,
    load_model,
    plan_single_file,
    probe_v_prediction,
    read_ldm_yaml,
    resolve_device,
    save_ldm_single_file,
    unload_model,
)
from generation.models.convert import unet_key_map, vae_key_map
from generation.models.tiny import SD_SCHEDULER, load_clip_tokenizer, tiny_text_config, tiny_unet
from generation.settings import ModelSettings

CPU = ModelSettings(device="cpu")
REPO = Path(__file__).resolve().parents[3]


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_pipe(tiny_model_dir):
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model_dir, local_files_only=True, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, tiny_model_dir, tiny_pipe):
    """A models folder: the tiny model as a diffusers folder, an LDM single file + skeleton, a .ckpt."""
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(tiny_model_dir, root / "tiny")
    save_ldm_single_file(tiny_pipe, root / "tiny-ldm.safetensors", config_folder=True)
    torch.save({"state_dict": ldm_state_dict(tiny_pipe), "global_step": 7}, root / "tiny-ckpt.ckpt")
    shutil.copytree(root / "tiny-ldm", root / "tiny-ckpt")
    return root


def _write_safetensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> Path:
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path))
    return path


def _outputs(pipe) -> torch.Tensor:
    out = pipe(
        ["a red circle", "a blue square"],
        height=64,
        width=64,
        num_inference_steps=2,
        guidance_scale=5.0,
        generator=[torch.Generator("cpu").manual_seed(s) for s in (1, 2)],
        output_type="pt",
    )
    return out.images


# -- synthetic state dicts (tiny tensors, real key names and widths) ---------------------------------

UNET = "model.diffusion_model."


def sd1_shapes(width: int = 768) -> dict[str, tuple[int, ...]]:
    return {
        UNET + "input_blocks.0.0.weight": (1, 4, 1, 1),
        UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (1, width),
        UNET + "output_blocks.11.0.skip_connection.weight": (1, 1, 1, 1),
        "first_stage_model.encoder.conv_in.weight": (1, 3, 1, 1),
        "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": (1, width),
        "cond_stage_model.transformer.text_model.final_layer_norm.weight": (width,),
    }


def sd2_shapes() -> dict[str, tuple[int, ...]]:
    return {
        UNET + "input_blocks.0.0.weight": (1, 4, 1, 1),
        UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (1, 1024),
        "first_stage_model.encoder.conv_in.weight": (1, 3, 1, 1),
        "cond_stage_model.model.positional_embedding": (1, 1024),
        "cond_stage_model.model.token_embedding.weight": (1, 1024),
        "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": (3, 1024),
    }


def sdxl_shapes() -> dict[str, tuple[int, ...]]:
    return {
        UNET + "input_blocks.0.0.weight": (1, 4, 1, 1),
        UNET + "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (1, 2048),
        UNET + "label_emb.0.0.weight": (1, 2816),
        "first_stage_model.encoder.conv_in.weight": (1, 3, 1, 1),
        "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight": (1, 768),
        "conditioner.embedders.1.model.positional_embedding": (1, 1280),
        "conditioner.embedders.1.model.text_projection": (1, 1280),
    }


# -- registry ----------------------------------------------------------------------------------


def test_registry_lists_folders_single_files_and_ckpts_by_stem(tmp_path, models_dir):
    root = tmp_path / "models"
    shutil.copytree(models_dir, root)
    (root / "a.safetensors").write_bytes(b"x")
    (root / "a.ckpt").write_bytes(b"x")  # the .safetensors of the same stem wins
    (root / "b.ckpt").write_bytes(b"x")
    (root / "b.yaml").write_text("model: {}\n")
    (root / "notes.txt").write_text("not a model")
    (root / "empty-folder").mkdir()
    (root / ".cache").mkdir()
    (root / ".hidden.safetensors").write_bytes(b"x")

    registry = ModelRegistry(root)
    by_name = {e.name: e for e in registry.entries()}
    assert registry.names() == ["a", "b", "tiny", "tiny-ckpt", "tiny-ldm"]
    assert by_name["tiny"].kind == "diffusers"
    assert by_name["tiny-ldm"].kind == "safetensors"
    assert by_name["tiny-ldm"].config == root / "tiny-ldm"  # the skeleton is its config, not a model
    assert by_name["tiny-ckpt"].kind == "ckpt"
    assert by_name["a"].path == root / "a.safetensors"
    assert by_name["b"].config == root / "b.yaml"
    assert registry.get("tiny-ldm.safetensors") == by_name["tiny-ldm"]
    assert registry.get("TINY") == by_name["tiny"]
    assert ModelRegistry(tmp_path / "missing").entries() == []


@pytest.mark.parametrize(
    "name", ["../tiny", "tiny/unet", "..", ".", "/etc/passwd", "..\\tiny", ".cache", "", "nope", "C:tiny"]
)
def test_registry_refuses_names_outside_the_folder(models_dir, name):
    registry = ModelRegistry(models_dir)
    with pytest.raises(ModelNotFound) as err:
        registry.get(name)
    assert "tiny-ldm" in str(err.value)  # the message lists what is available


def test_registry_follows_the_symlinks_the_owner_placed(tmp_path):
    # Issue 10 made the rule one: links in the models folder are the owner's and are followed
    # wherever they point (they used to be skipped when they left the folder); users still only
    # name what is listed.
    outside = tmp_path / "outside"
    outside.mkdir()
    _write_safetensors(outside / "shared.safetensors", sd1_shapes(8))
    root = tmp_path / "models"
    root.mkdir()
    _write_safetensors(root / "real.safetensors", sd1_shapes(8))
    try:
        (root / "shared.safetensors").symlink_to(outside / "shared.safetensors")
        (root / "outside-dir").symlink_to(outside, target_is_directory=True)  # no model_index.json
        (root / "alias.safetensors").symlink_to(root / "real.safetensors")
    except OSError:
        pytest.skip("symlinks not supported here")
    registry = ModelRegistry(root)
    assert registry.names() == ["alias", "real", "shared"]
    assert registry.get("shared").path == root / "shared.safetensors"
    with pytest.raises(ModelNotFound):
        registry.get("outside-dir")
    with pytest.raises(ModelNotFound):
        registry.get("../outside/shared")


def test_hub_ids_only_when_allowed(tmp_path):
    registry = ModelRegistry(tmp_path, hub_models=("stabilityai/sd-turbo",))
    entry = registry.get("stabilityai/sd-turbo")
    assert (entry.kind, entry.path) == ("hub", "stabilityai/sd-turbo")
    assert registry.names() == ["stabilityai/sd-turbo"]
    assert registry.short_hash(entry) is None
    with pytest.raises(ModelNotFound, match="path separators"):
        registry.get("someone/else")


# -- single files in the original layout ---------------------------------------------------------------


def test_ldm_export_uses_the_original_key_layout(models_dir):
    with safe_open(str(models_dir / "tiny-ldm.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert all(
        k.startswith(("model.diffusion_model.", "first_stage_model.", "cond_stage_model.")) for k in keys
    )
    for key in (
        "model.diffusion_model.input_blocks.0.0.weight",
        "model.diffusion_model.input_blocks.1.0.in_layers.2.weight",
        "model.diffusion_model.input_blocks.2.0.op.weight",  # the downsampler after 1 layer
        "model.diffusion_model.middle_block.1.proj_in.weight",
        "model.diffusion_model.output_blocks.1.2.conv.weight",  # an upsampler after attention
        "model.diffusion_model.out.2.weight",
        "first_stage_model.decoder.up.0.block.0.conv1.weight",
        "first_stage_model.encoder.mid.attn_1.q.weight",
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
    ):
        assert key in keys, key
    det = detect_file(models_dir / "tiny-ldm.safetensors")
    assert (det.arch, det.standard, det.text_widths, det.context_dim) == (Arch.SD1, False, (32,), 32)


def test_single_file_with_skeleton_loads_offline_and_equals_the_folder(models_dir, tiny_pipe):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    registry = ModelRegistry(models_dir)
    model = load_model(registry.get("tiny-ldm"), CPU, registry)
    assert isinstance(model, LoadedModel)
    assert (model.name, model.arch, model.dtype) == ("tiny-ldm", Arch.SD1, torch.float32)
    assert model.device == torch.device("cpu")
    for part in ("unet", "vae", "text_encoder"):
        want, got = getattr(tiny_pipe, part).state_dict(), getattr(model.pipe, part).state_dict()
        assert want.keys() == got.keys()
        assert all(torch.equal(want[k], got[k]) for k in want), part
    # the skeleton has no vocabulary: the loader supplied the project's CLIP tokenizer files
    ids = model.pipe.tokenizer("a photo of an astronaut").input_ids
    assert ids == [49406, 320, 1125, 539, 550, 18376, 49407]
    model.pipe.vae.disable_slicing()  # sliced decoding sums in another order (~1e-6 apart)
    assert torch.equal(_outputs(model.pipe), _outputs(tiny_pipe))


def _tiny_sdxl_pipeline():
    """A tiny SDXL-shaped pipeline. Its two text encoders differ in width, as in SDXL (768/1280):
    diffusers tells them apart by width."""

    torch.manual_seed(0)
    unet = tiny_unet(
        32 + 48,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=48 + 6 * 8,
        use_linear_projection=True,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1,
        norm_num_groups=8,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae.eval(),
        text_encoder=CLIPTextModel(tiny_text_config(32, hidden_act="quick_gelu")).eval(),
        text_encoder_2=CLIPTextModelWithProjection(tiny_text_config(48, hidden_act="gelu")).eval(),
        tokenizer=load_clip_tokenizer(),
        tokenizer_2=load_clip_tokenizer("!"),
        unet=unet.eval(),
        scheduler=EulerDiscreteScheduler(**SD_SCHEDULER),
        add_watermarker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_sdxl_single_file_round_trip(tmp_path):
    pipe = _tiny_sdxl_pipeline()
    save_ldm_single_file(pipe, tmp_path / "xl.safetensors", config_folder=True)
    det = detect_file(tmp_path / "xl.safetensors")
    assert (det.arch, det.text_widths, det.context_dim) == (Arch.SDXL, (32, 48), 80)
    registry = ModelRegistry(tmp_path)
    model = load_model(registry.get("xl"), CPU, registry)
    assert model.arch is Arch.SDXL and type(model.pipe).__name__ == "StableDiffusionXLPipeline"
    for part in ("unet", "vae", "text_encoder", "text_encoder_2"):
        want, got = getattr(pipe, part).state_dict(), getattr(model.pipe, part).state_dict()
        assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want), part
    assert (model.pipe.tokenizer.pad_token, model.pipe.tokenizer_2.pad_token) == ("<|endoftext|>", "!")
    model.pipe.vae.disable_slicing()

    def run(p):
        gen = torch.Generator("cpu").manual_seed(3)
        return p("a cat", height=64, width=64, num_inference_steps=2, generator=gen, output_type="pt").images

    assert torch.equal(run(model.pipe), run(pipe))


def test_half_precision_files_load_in_the_settings_dtype(tmp_path, tiny_model_dir):
    half = StableDiffusionPipeline.from_pretrained(
        tiny_model_dir, local_files_only=True, safety_checker=None, dtype=torch.float16
    )
    save_ldm_single_file(half, tmp_path / "half.safetensors", config_folder=True)
    half.save_pretrained(tmp_path / "halfdir", safe_serialization=True)
    registry = ModelRegistry(tmp_path)
    assert plan_single_file(registry.get("half"), registry.cache_dir).source == "folder"
    for name in ("half", "halfdir"):
        pipe = load_model(registry.get(name), CPU, registry).pipe
        assert {p.dtype for part in (pipe.unet, pipe.vae, pipe.text_encoder) for p in part.parameters()} == {
            torch.float32
        }, name


def test_custom_size_single_file_without_config_is_refused(tmp_path, models_dir):
    shutil.copy(models_dir / "tiny-ldm.safetensors", tmp_path / "bare.safetensors")
    registry = ModelRegistry(tmp_path)
    with pytest.raises(UnknownArchitecture, match="config folder named bare/"):
        load_model(registry.get("bare"), CPU, registry)


def test_benign_ckpt_loads(models_dir, tiny_pipe):
    registry = ModelRegistry(models_dir)
    model = load_model(registry.get("tiny-ckpt"), CPU, registry)
    assert model.arch is Arch.SD1
    want, got = tiny_pipe.unet.state_dict(), model.pipe.unet.state_dict()
    assert all(torch.equal(want[k], got[k]) for k in want)


class _Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_ckpt_that_would_run_code_is_refused(tmp_path, tiny_pipe):
    marker = tmp_path / "pwned"
    root = tmp_path / "models"
    root.mkdir()
    ckpt = root / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "callback": _Payload(marker)}, ckpt)
    registry = ModelRegistry(root)
    entry = registry.get("evil")
    with pytest.raises(UnsafeCheckpoint, match="could run arbitrary code"):
        load_model(entry, CPU, registry)
    with pytest.raises(UnsafeCheckpoint):
        detect_file(ckpt)
    assert not marker.exists()
    # control: a plain unpickle would have run the payload
    torch.load(ckpt, weights_only=False)
    assert marker.exists()


# -- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shapes", "arch", "widths", "context"),
    [
        (sd1_shapes(), Arch.SD1, (768,), 768),
        (sd2_shapes(), Arch.SD2, (1024,), 1024),
        (sdxl_shapes(), Arch.SDXL, (768, 1280), 2048),
    ],
)
def test_detect_families_from_keys_and_widths(tmp_path, shapes, arch, widths, context):
    path = _write_safetensors(tmp_path / "m.safetensors", shapes)
    for det in (detect_architecture(shapes), detect_file(path)):
        assert (det.arch, det.standard, det.text_widths, det.context_dim) == (arch, True, widths, context)
        assert det.prediction_type is None


def test_detect_reads_ckpt_shapes_safely(tmp_path):
    path = tmp_path / "m.ckpt"
    torch.save({"state_dict": {k: torch.zeros(s) for k, s in sd2_shapes().items()}}, path)
    assert detect_file(path).arch is Arch.SD2


def test_detect_custom_widths_are_not_standard():
    det = detect_architecture(sd1_shapes(width=64))
    assert det.arch is Arch.SD1 and not det.standard


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ({"lora_unet_down_blocks_0.alpha": (1,)}, "LoRA"),
        ({"encoder.conv_in.weight": (1,), "decoder.conv_in.weight": (1,)}, "VAE"),
        ({"down_blocks.0.resnets.0.conv1.weight": (1,)}, "diffusers key layout"),
        ({**sd1_shapes(), UNET + "input_blocks.0.0.weight": (1, 9, 1, 1)}, "9 input channels"),
        ({UNET + "input_blocks.0.0.weight": (1, 4, 1, 1)}, "no text encoder"),
        (
            {
                UNET + "input_blocks.0.0.weight": (1, 4, 1, 1),
                "conditioner.embedders.0.model.text_projection": (1,),
            },
            "refiner",
        ),
    ],
)
def test_detect_refuses_what_it_cannot_load(shapes, message):
    with pytest.raises(UnknownArchitecture, match=message):
        detect_architecture(shapes)


def test_sdxl_v_prediction_marker_key():
    det = detect_architecture({**sdxl_shapes(), "v_pred": (0,), "ztsnr": (0,)})
    assert det.prediction_type == "v_prediction" and det.zero_snr


SD2_V_YAML = """
model:
  target: ldm.models.diffusion.ddpm.LatentDiffusion
  params:
    parameterization: "v"
    scale_factor: 0.18215
    unet_config:
      target: ldm.modules.diffusionmodules.openaimodel.UNetModel
      params: {context_dim: 1024, use_linear_in_transformer: true}
"""
SD1_YAML = "model:\n  params:\n    unet_config:\n      params:\n        context_dim: 768\n"
SDXL_YAML = """
model:
  target: sgm.models.diffusion.DiffusionEngine
  params:
    scale_factor: 0.13025
    network_config:
      params: {adm_in_channels: 2816, context_dim: 2048}
"""


def test_read_ldm_yaml(tmp_path):
    cases = {"v": (SD2_V_YAML, Arch.SD2, "v_prediction"), "e": (SD1_YAML, Arch.SD1, "epsilon")}
    cases["xl"] = (SDXL_YAML, Arch.SDXL, "epsilon")
    for stem, (text, arch, prediction) in cases.items():
        (tmp_path / f"{stem}.yaml").write_text(text)
        hints = read_ldm_yaml(tmp_path / f"{stem}.yaml")
        assert (hints.arch, hints.prediction_type) == (arch, prediction)
    assert read_ldm_yaml(tmp_path / "xl.yaml").scaling_factor == 0.13025


def _tokenizer(folder: Path):
    return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)


def test_plans_pick_bundled_skeletons_and_prediction_types(tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    for name, shapes in (("one", sd1_shapes()), ("two", sd2_shapes()), ("twov", sd2_shapes())):
        _write_safetensors(root / f"{name}.safetensors", shapes)
    _write_safetensors(root / "xl.safetensors", sdxl_shapes())
    (root / "twov.yaml").write_text(SD2_V_YAML)
    registry = ModelRegistry(root)
    cache = registry.cache_dir
    plans = {name: plan_single_file(registry.get(name), cache) for name in registry.names()}

    one = plans["one"]
    assert (one.arch, one.prediction_type, one.source) == (Arch.SD1, "epsilon", "detected")
    assert (plans["two"].arch, plans["two"].prediction_type) == (Arch.SD2, None)  # the probe decides later
    assert (plans["twov"].prediction_type, plans["twov"].source) == ("v_prediction", "yaml")
    assert plans["xl"].arch == Arch.SDXL

    def config(plan, part):
        name = "scheduler/scheduler_config.json" if part == "scheduler" else f"{part}/config.json"
        return json.loads((plan.config_dir / name).read_text())

    assert config(plans["twov"], "scheduler")["prediction_type"] == "v_prediction"
    assert config(plans["twov"], "unet")["sample_size"] == 96
    assert config(plans["two"], "unet")["sample_size"] == 64
    assert UNet2DConditionModel.load_config(plans["xl"].config_dir / "unet")["cross_attention_dim"] == 2048
    assert _tokenizer(plans["one"].config_dir / "tokenizer").pad_token == "<|endoftext|>"
    assert _tokenizer(plans["two"].config_dir / "tokenizer").pad_token == "!"
    assert _tokenizer(plans["xl"].config_dir / "tokenizer").pad_token == "<|endoftext|>"
    tok2 = _tokenizer(plans["xl"].config_dir / "tokenizer_2")
    assert tok2.pad_token == "!" and tok2("a cat").input_ids == [49406, 320, 2368, 49407]
    assert (plans["xl"].config_dir / "text_encoder_2" / "config.json").is_file()
    # assembled once, then reused; nothing of the skeletons is copied into the repo
    assert plan_single_file(registry.get("one"), cache).config_dir == plans["one"].config_dir
    assert not (REPO / "generation" / "configs" / Arch.SD1 / "tokenizer").exists()


def test_probe_v_prediction_reads_the_mean_output():
    class Unet(torch.nn.Module):
        def __init__(self, factor):
            super().__init__()
            self.factor = torch.nn.Parameter(torch.tensor(factor))
            self.config = type("C", (), {"cross_attention_dim": 1024, "in_channels": 4})()

        def forward(self, x, t, encoder_hidden_states):
            assert t.tolist() == [999] and encoder_hidden_states.shape == (1, 2, 1024)
            return type("Out", (), {"sample": x * self.factor})()

    assert probe_v_prediction(Unet(-3.0))  # out - x = -2: v-prediction
    assert not probe_v_prediction(Unet(1.0))  # out ~ x: epsilon


# -- hashes --------------------------------------------------------------------------------------


def test_short_hash_is_sha256_prefix_and_cached_on_disk(tmp_path, monkeypatch):
    root = tmp_path / "models"
    root.mkdir()
    data = os.urandom(3 * 1024 * 1024 + 17)
    (root / "m.safetensors").write_bytes(data)
    registry = ModelRegistry(root)
    entry = registry.get("m")
    expected = hashlib.sha256(data).hexdigest()
    assert registry.short_hash(entry) == expected[:10]
    cache = json.loads((root / ".cache" / "hashes.json").read_text())
    [record] = cache["files"].values()
    assert record["sha256"] == expected and record["size"] == len(data)

    def no_reread(*args, **kwargs):
        raise AssertionError("the file was hashed again")

    monkeypatch.setattr(hashing, "sha256_file", no_reread)
    assert ModelRegistry(root).short_hash(entry) == expected[:10]  # a new registry: read from disk
    monkeypatch.undo()

    (root / "m.safetensors").write_bytes(data + b"!")  # a changed file is hashed again
    assert registry.short_hash(entry) == hashlib.sha256(data + b"!").hexdigest()[:10]


def test_folder_hash_is_its_unet_weights(models_dir):
    registry = ModelRegistry(models_dir)
    unet = models_dir / "tiny" / "unet" / "diffusion_pytorch_model.safetensors"
    assert registry.short_hash(registry.get("tiny")) == hashlib.sha256(unet.read_bytes()).hexdigest()[:10]
    assert HashCache(None).short_hash(unet) == registry.short_hash(registry.get("tiny"))


# -- devices and memory options --------------------------------------------------------------------


def test_resolve_device_honours_settings(monkeypatch):
    assert resolve_device(CPU) == (torch.device("cpu"), torch.float32)
    assert resolve_device(ModelSettings(device="cpu", dtype="bfloat16"))[1] == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device(ModelSettings()) == (torch.device("cpu"), torch.float32)
    with pytest.raises(ModelLoadError, match="no CUDA GPU"):
        resolve_device(ModelSettings(device="cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device(ModelSettings()) == (torch.device("cuda"), torch.float16)
    assert resolve_device(ModelSettings(dtype="float32")) == (torch.device("cuda"), torch.float32)
    assert resolve_device(ModelSettings(device="cpu")) == (torch.device("cpu"), torch.float32)
    with pytest.raises(ModelLoadError, match="only 1 CUDA"):
        resolve_device(ModelSettings(device="cuda:3"))


def test_folder_load_options_and_unload(models_dir):
    registry = ModelRegistry(models_dir)
    settings = ModelSettings(device="cpu", attention_slicing=True)
    model = load_model(registry.get("tiny"), settings, registry)
    pipe = model.pipe
    assert model.arch is Arch.SD1 and model.entry.kind == "diffusers" and len(model.short_hash) == 10
    assert pipe.safety_checker is None and pipe._progress_bar_config == {"disable": True}
    assert pipe.vae.use_slicing and not pipe.vae.use_tiling
    assert any(type(p).__name__ == "SlicedAttnProcessor" for p in pipe.unet.attn_processors.values())
    unload_model(model)
    assert model.pipe is None


def test_load_errors_name_the_model(tmp_path):
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 4)
    registry = ModelRegistry(tmp_path)
    with pytest.raises(ModelLoadError, match=r"broken\.safetensors"):
        load_model(registry.get("broken"), CPU, registry)
    with pytest.raises(ModelLoadError):
        load_model(ModelEntry("x", tmp_path, "weird"), CPU)


# -- the bundled skeletons -------------------------------------------------------------------------


def test_sd1_skeleton_matches_sd15_and_exports_its_key_layout():
    """On the meta device (no memory): SD1.5's sizes, and the exporter's key set is the real one."""

    skeleton = REPO / "generation" / "configs" / Arch.SD1
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(skeleton / "unet"))
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(skeleton / "vae"))
        text = CLIPTextModel(CLIPTextConfig.from_pretrained(skeleton / "text_encoder"))
    assert sum(p.numel() for p in unet.parameters()) == 859_520_964
    assert sum(p.numel() for p in vae.parameters()) == 83_653_863
    assert sum(p.numel() for p in text.parameters()) == 123_060_480
    unet_sd, vae_sd = unet.state_dict(), vae.state_dict()
    unet_keys, vae_keys = unet_key_map(unet_sd, unet.config), vae_key_map(vae_sd, vae.config)
    assert (len(unet_keys), len(vae_keys)) == (686, 248)  # as in v1-5-pruned.safetensors
    assert unet_keys["up_blocks.0.upsamplers.0.conv.weight"] == "output_blocks.2.1.conv.weight"
    assert unet_keys["up_blocks.1.upsamplers.0.conv.weight"] == "output_blocks.5.2.conv.weight"
    assert unet_keys["down_blocks.2.attentions.1.proj_out.weight"] == "input_blocks.8.1.proj_out.weight"
    shapes = {UNET + unet_keys[k]: tuple(v.shape) for k, v in unet_sd.items()}
    for k, v in text.state_dict().items():
        shapes[f"cond_stage_model.transformer.text_model.{k}"] = tuple(v.shape)
    det = detect_architecture(shapes)
    assert (det.arch, det.standard) == (Arch.SD1, True)


def test_arch_is_an_enum_the_loaded_model_checks():
    entry = ModelEntry("m", "m", "diffusers")
    model = LoadedModel("m", entry, None, "sdxl", None, torch.device("cpu"), torch.float32)
    assert model.arch is Arch.SDXL and model.arch == "sdxl" and Arch.SD2.label == "Stable Diffusion 2.x"
    with pytest.raises(ValueError, match="sd3"):
        LoadedModel("m", entry, None, "sd3", None, torch.device("cpu"), torch.float32)
    assert type(detect_architecture(sd1_shapes()).arch) is Arch
