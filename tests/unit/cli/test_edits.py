"""The command line's inpaint, zoom and pan: the same JSON as the other commands."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from generation.__main__ import main
from generation.images.masks import grid_mask
from generation.images.metadata import read_parameters


@pytest.fixture
def cli(tmp_path, tiny_model_dir, capsys):
    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "tiny")
    config = tmp_path / "config.toml"
    config.write_text(
        '[paths]\nmodels_dir = "models"\n[models]\ndefault = "tiny"\n'
        "[defaults]\nwidth = 64\nheight = 64\nsteps = 3\ncount = 1\n"
    )

    def run(*argv):
        code = main(["--config", str(config), *argv, "--out", str(tmp_path / "o")])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return json.loads(captured.out.strip().splitlines()[-1])

    return run


def test_inpaint_zoom_and_pan_from_the_command_line(cli, tmp_path):
    source = cli("imagine", "a cat --seed 7")["files"][0]
    grid_mask(64, 64, [6, 7]).save(tmp_path / "mask.png")

    painted = cli("inpaint", source, "--mask", str(tmp_path / "mask.png"), "--prompt", "a dog", "--blur", "2")
    assert painted["mode"] == "inpaint" and painted["size"] == [64, 64] and len(painted["seeds"]) == 1
    text = read_parameters(painted["files"][0])
    assert text.startswith("a dog") and "Mask blur: 2" in text and "Denoising strength: 1" in text
    before, after = np.asarray(Image.open(source)), np.asarray(Image.open(painted["files"][0]))
    assert (before[56:, :] == after[56:, :]).all() and (before[16:32, 24:40] != after[16:32, 24:40]).any()

    zoomed = cli("zoom", source, "--factor", "1.5")
    assert zoomed["mode"] == "outpaint" and zoomed["size"] == [96, 96]
    assert "Zoom out: 1.5" in read_parameters(zoomed["files"][0])

    panned = cli("pan", painted["files"][0], "--direction", "left")  # an inpaint's result pans too
    assert panned["size"] == [96, 64] and "Pan: left" in read_parameters(panned["files"][0])
    assert read_parameters(panned["files"][0]).startswith("a dog")


def test_a_missing_mask_is_a_command_error(tmp_path, tiny_model_dir, capsys):
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 64)).save(image)
    code = main(["inpaint", str(image), "--mask", str(tmp_path / "nope.png"), "--out", str(tmp_path)])
    assert (code, capsys.readouterr().err) == (2, f"error: {tmp_path / 'nope.png'} is not a file\n")
