"""The committed default model "shapes": loading (folder and single file), prompt adherence, training."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from training.checker import check, summarise
from training.scenes import HELD_OUT

ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / "models"
FOLDER = MODELS / "shapes"
SINGLE = MODELS / "shapes-ldm.safetensors"
SKELETON = MODELS / "shapes-ldm"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """The project's registry over a copy of the committed model (its caches stay out of the repo)."""
    import shutil

    from generation.models import ModelRegistry

    root = tmp_path_factory.mktemp("models")
    shutil.copytree(FOLDER, root / FOLDER.name)
    shutil.copyfile(SINGLE, root / SINGLE.name)
    shutil.copytree(SKELETON, root / SKELETON.name)
    return ModelRegistry(root)


def _load(registry, name):
    """Through the project's loader, as the bot loads it (float32 on the CPU)."""
    from generation.models import Arch, load_model
    from generation.settings import ModelSettings

    loaded = load_model(registry.get(name), ModelSettings(device="cpu", dtype="float32"), registry)
    assert loaded.arch is Arch.SD1 and loaded.dtype == torch.float32
    loaded.pipe.set_progress_bar_config(disable=True)
    return loaded


@pytest.fixture(scope="module")
def folder_pipe(registry):
    loaded = _load(registry, "shapes")
    assert loaded.entry.kind == "diffusers"
    return loaded.pipe


def test_committed_files_and_size():
    assert (FOLDER / "model_index.json").is_file()
    index = json.loads((FOLDER / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    for part in ("unet", "vae", "text_encoder"):
        assert list((FOLDER / part).glob("*.safetensors")), part
    assert SINGLE.is_file()
    # the skeleton holds configs and tokenizer only
    assert (SKELETON / "model_index.json").is_file() and (SKELETON / "tokenizer").is_dir()
    assert not list(SKELETON.rglob("*.safetensors")) and not list(SKELETON.rglob("*.bin"))
    total = sum(p.stat().st_size for p in MODELS.glob("shapes*/**/*") if p.is_file()) + SINGLE.stat().st_size
    assert total <= 25_000_000


def test_folder_and_single_file_hold_identical_weights(folder_pipe, registry):
    loaded = _load(registry, "shapes-ldm")
    assert loaded.entry.kind == "safetensors" and loaded.entry.config is not None
    single = loaded.pipe
    for part in ("unet", "vae", "text_encoder"):
        a = getattr(folder_pipe, part).state_dict()
        b = getattr(single, part).state_dict()
        missing = {k for k in a if k not in b and "position_ids" not in k}
        assert not missing, (part, sorted(missing)[:5])
        for k, v in a.items():
            if k in b:
                assert torch.equal(v.float(), b[k].float()), (part, k)
    assert folder_pipe.vae.config.scaling_factor == single.vae.config.scaling_factor
    ids = single.tokenizer("a red circle on a blue background").input_ids
    assert ids == folder_pipe.tokenizer("a red circle on a blue background").input_ids


def test_held_out_prompt_adherence(folder_pipe):
    from training.train import generate, read_defaults, set_sampler

    d = read_defaults()
    set_sampler(folder_pipe, d["sampler"])
    cases = [c for c in HELD_OUT for _ in range(3)]  # 27 images
    seeds = [7000 + i for i in range(len(cases))]
    images = generate(
        folder_pipe,
        cases,
        seeds,
        steps=d["steps"],
        cfg=d["cfg_scale"],
        width=d["width"],
        height=d["height"],
        batch=27,
    )
    r = summarise([check(im, *c) for im, c in zip(images, cases, strict=True)])
    assert r["colour"] >= 0.8 and r["background"] >= 0.8 and r["shape"] >= 0.6, r
    assert np.asarray(images[0]).shape == (d["height"], d["width"], 3)


# a few steps of every part of the training script, on a tiny data set
TINY_RUN = shlex.split(
    "--images 48 --vae-images 48 --vae-steps 2 --vae-batch 4 --steps 2 --finetune-steps 2 --batch 4"
)
NO_EVAL = shlex.split("--eval-held-seeds 0 --eval-seen-seeds 0 --eval-img2img 0 --no-export")


def test_training_script_smoke(tmp_path):
    from training.train import main

    evaluation = shlex.split("--eval-held-seeds 1 --eval-seen-seeds 0 --eval-img2img 2")
    res = main(["--out", str(tmp_path), *TINY_RUN, "--polish-steps", "2", *evaluation])
    folder = tmp_path / "shapes"
    assert (folder / "model_index.json").is_file()
    assert (tmp_path / "shapes-ldm.safetensors").is_file()
    assert (tmp_path / "shapes-ldm" / "unet" / "config.json").is_file()
    assert res["held_out"]["n"] == len(HELD_OUT)
    assert 0.0 <= res["img2img"]["recolour"] <= 1.0
    assert set(res["timings_s"]) >= {"unet", "unet_phase2", "unet_phase3"}


def test_training_script_resumes_at_phase_3(tmp_path):
    """A later phase can start from a saved folder and runs only the phases from --init-phase on."""
    from training.train import main

    main(["--out", str(tmp_path / "a"), *TINY_RUN, "--polish-steps", "0", *NO_EVAL])
    resume = ["--init-from", str(tmp_path / "a" / "shapes"), "--init-phase", "3", "--polish-steps", "2"]
    res = main(["--out", str(tmp_path / "b"), *TINY_RUN, *resume, *NO_EVAL])
    assert "unet_phase3" in res["timings_s"] and "unet_phase2" not in res["timings_s"]
    first = (tmp_path / "a" / "shapes" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    again = (tmp_path / "b" / "shapes" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    assert first != again  # phase 3 trained the weights it started from
