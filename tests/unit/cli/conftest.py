"""The command line's tests run it in-process on the tiny model, 64x64 at 4 steps."""

import shutil

import pytest


@pytest.fixture
def cli_config(tmp_path, tiny_model_dir):
    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "tiny")
    config = tmp_path / "config.toml"
    config.write_text(
        '[paths]\nmodels_dir = "models"\n[models]\ndefault = "tiny"\n'
        "[defaults]\nwidth = 64\nheight = 64\nsteps = 4\nupscale_strength = 0.5\n"
    )
    return config
