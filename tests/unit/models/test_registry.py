"""The registry over several models folders: links followed, and what is left out said."""

import os
from pathlib import Path

import pytest

from bot.ui.text import describe
from generation.models.errors import ModelNotFound
from generation.models.registry import (
    BROKEN_LINK,
    FOLDER_MISSING,
    LINK_LOOP,
    NAME_TAKEN,
    NO_MODEL_INDEX,
    UNREADABLE,
    ModelRegistry,
    Skipped,
)
from generation.settings import load_settings


def diffusers_folder(path):
    (path / "unet").mkdir(parents=True)
    (path / "model_index.json").write_text("{}")
    (path / "unet" / "config.json").write_text("{}")
    return path


def link(path, target):
    try:
        path.symlink_to(target, target_is_directory=target.is_dir())
    except OSError:
        pytest.skip("symlinks not supported here")


def test_links_to_files_and_folders_elsewhere_are_listed(tmp_path):
    shared = tmp_path / "shared"
    diffusers_folder(shared / "sdxl-base")
    shared.joinpath("anime.safetensors").write_bytes(b"x")
    root = tmp_path / "models"
    root.mkdir()
    link(root / "sdxl-base", shared / "sdxl-base")
    link(root / "anime.safetensors", shared / "anime.safetensors")
    registry = ModelRegistry(root)
    assert registry.names() == ["anime", "sdxl-base"]
    assert registry.get("sdxl-base").path == root / "sdxl-base"
    assert registry.skipped() == []
    for name in ("../shared/anime", "shared/anime", str(shared / "anime.safetensors")):
        with pytest.raises(ModelNotFound):
            registry.get(name)


def test_what_is_skipped_is_said(tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    link(root / "gone.safetensors", tmp_path / "nowhere.safetensors")
    link(root / "loop.safetensors", root / "loop.safetensors")
    (root / "m.safetensors").write_bytes(b"x")
    (root / "m.ckpt").write_bytes(b"x")
    (root / "half").mkdir()
    (root / "half" / "unet").mkdir()
    (root / "half" / "unet" / "config.json").write_text("{}")  # a diffusers folder missing its index
    (root / "notes.txt").write_text("not a model, not worth a word")
    (root / ".cache").mkdir()
    registry = ModelRegistry(root)
    assert registry.names() == ["m"]
    skipped = {s.path.name: s for s in registry.skipped()}
    assert skipped == {
        "gone.safetensors": Skipped(root / "gone.safetensors", BROKEN_LINK),
        "loop.safetensors": Skipped(root / "loop.safetensors", LINK_LOOP),
        "m.ckpt": Skipped(root / "m.ckpt", NAME_TAKEN, str(root / "m.safetensors")),
        "half": Skipped(root / "half", NO_MODEL_INDEX),
    }
    words = {name: describe(s.problem()) for name, s in skipped.items()}
    assert words["gone.safetensors"].startswith("Skipped /")
    assert words["gone.safetensors"].endswith("/models/gone.safetensors: it is a link to nothing.")
    assert words["loop.safetensors"].endswith("it is a link that loops back on itself.")
    assert words["m.ckpt"].endswith("models/m.safetensors.") and "its name is taken by /" in words["m.ckpt"]
    assert words["half"].endswith("/half: it looks like a diffusers folder but has no model_index.json.")
    assert all(len(w) < 300 for w in words.values())


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_an_unreadable_folder_is_said(tmp_path):
    root = tmp_path / "models"
    locked = diffusers_folder(root / "locked")
    locked.chmod(0)
    try:
        assert ModelRegistry(root).skipped() == [Skipped(locked, UNREADABLE)]
    finally:
        locked.chmod(0o755)


def test_several_folders_in_order(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    diffusers_folder(first / "base")
    diffusers_folder(second / "base")
    (second / "extra.safetensors").parent.mkdir(exist_ok=True)
    (second / "extra.safetensors").write_bytes(b"x")
    registry = ModelRegistry([first, second, tmp_path / "missing", first])
    assert registry.models_dirs == (first, second, tmp_path / "missing")
    assert registry.names() == ["base", "extra"]
    assert registry.get("base").path == first / "base"  # the earlier folder wins
    assert registry.cache_dir == first / ".cache"
    assert registry.skipped() == [
        Skipped(second / "base", NAME_TAKEN, str(first / "base")),
        Skipped(tmp_path / "missing", FOLDER_MISSING),
    ]


def test_models_dirs_setting(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[paths]\nmodels_dir = "models"\nmodels_dirs = ["shared", "/srv/sd", "models"]\n')
    paths = load_settings(config).paths
    assert paths.models_dir == tmp_path / "models"
    assert paths.models_dirs == (tmp_path / "shared", Path("/srv/sd"), tmp_path / "models")
    assert paths.model_folders == (tmp_path / "models", tmp_path / "shared", Path("/srv/sd"))
    assert load_settings().paths.model_folders == (load_settings().paths.models_dir,)


def test_a_link_inside_a_diffusers_folder_follows_the_same_rule(tmp_path, tiny_model_dir):
    import shutil

    from generation.models import load_model
    from generation.settings import ModelSettings

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    root = tmp_path / "models"
    shutil.copytree(tiny_model_dir, root / "tiny")
    weights = next((root / "tiny" / "unet").glob("diffusion_pytorch_model.*"))
    shutil.move(weights, outside / weights.name)
    link(weights, outside / weights.name)
    registry = ModelRegistry(root)
    model = load_model(registry.get("tiny"), ModelSettings(device="cpu", dtype="float32"), registry)
    assert model.name == "tiny" and registry.short_hash(registry.get("tiny"))
