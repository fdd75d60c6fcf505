"""The command line draws each image's variant from its seed, as the bot does, and records it."""

import json
import shutil

from generation.__main__ import main
from generation.images.metadata import parse_parameters, read_parameters
from generation.requests.wildcards import Wildcards, draw


def test_imagine_draws_each_image_s_variant(tmp_path, tiny_model_dir, capsys):
    shutil.copytree(tiny_model_dir, tmp_path / "models" / "tiny")
    (tmp_path / "wildcards").mkdir()
    (tmp_path / "wildcards" / "shapes.txt").write_text("circle\nsquare\nstar\ntriangle\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        '[paths]\nmodels_dir = "models"\n[models]\ndefault = "tiny"\n'
        '[variants]\nwildcards_dir = "wildcards"\n'
        "[defaults]\nwidth = 64\nheight = 64\nsteps = 1\n"
    )
    template = "a red __shapes__"
    code = main(
        ["--config", str(config), "imagine", f"{template} --seed 5 --n 3", "--out", str(tmp_path / "o")]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    wildcards = Wildcards(tmp_path / "wildcards")
    for path, seed in zip(result["files"], [5, 6, 7], strict=True):
        assert parse_parameters(read_parameters(path) or "")["prompt"] == draw(template, seed, wildcards)

    code = main(["--config", str(config), "imagine", "a __shape__", "--out", str(tmp_path / "o")])
    assert code == 2 and "variants.unknown_wildcard" in capsys.readouterr().err
