"""The command line runs a request through parser, validation, pipelines and image code."""

import json

from PIL import Image, PngImagePlugin

from generation.images.metadata import read_parameters
from tests.helpers.cli import run_cli


def test_imagine_writes_grid_images_and_prints_json(cli_config, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys,
        "--config",
        str(cli_config),
        "imagine",
        "a red circle --seed 42 --n 2",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["seeds"] == [42, 43]
    assert result["model"] == "tiny" and len(result["model_hash"]) == 10
    assert len(result["files"]) == 2
    for path in [result["grid"], *result["files"]]:
        assert Image.open(path).size[0] > 0
    assert "Seed: 43" in read_parameters(result["files"][1])


def test_upscale_and_vary_read_parameters_back(cli_config, tmp_path, capsys):
    out_dir = tmp_path / "o"
    _, out, _ = run_cli(
        capsys, "--config", str(cli_config), "imagine", "a cat --seed 7 --n 1", "--out", str(out_dir)
    )
    source = json.loads(out.strip().splitlines()[-1])["files"][0]

    code, out, err = run_cli(capsys, "--config", str(cli_config), "upscale", source, "--out", str(out_dir))
    assert code == 0, err
    upscaled = json.loads(out.strip().splitlines()[-1])
    assert upscaled["mode"] == "upscale" and upscaled["size"] == [128, 128]
    assert upscaled["seeds"] == [7]

    code, out, err = run_cli(
        capsys,
        "--config",
        str(cli_config),
        "vary",
        source,
        "--prompt",
        "a dog",
        "--strength",
        "0.7",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    varied = json.loads(out.strip().splitlines()[-1])
    assert varied["mode"] == "img2img" and len(varied["files"]) == 4
    assert read_parameters(varied["files"][0]).startswith("a dog")


def test_bad_flag_is_a_clear_error(cli_config, tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "--config", str(cli_config), "imagine", "a cat --ar wide", "--out", str(tmp_path)
    )
    assert code == 2 and out == ""
    assert err == "error: bad value: flag=--ar, kind='ratio', value='wide' (prompt.bad_value)\n"


def test_a_refused_request_is_one_line_naming_the_limit(cli_config, tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "--config", str(cli_config), "imagine", "a cat --steps 500", "--out", str(tmp_path)
    )
    assert code == 2 and out == ""
    assert err == (
        "error: steps out of range: value=500, min=1, max=60, flag=--steps (request.steps_out_of_range)\n"
    )


def test_unreadable_parameters_are_one_line_too(cli_config, tmp_path, capsys):
    source = tmp_path / "odd.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: many, Sampler: Euler a, CFG scale: 7, Seed: 1")
    Image.new("RGB", (64, 64)).save(source, pnginfo=info)
    code, out, err = run_cli(capsys, "--config", str(cli_config), "vary", str(source), "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert err == "error: bad parameter: key='Steps', value='many', kind='int' (image.bad_parameter)\n"


def test_a_missing_image_is_a_command_error(cli_config, tmp_path, capsys):
    missing = tmp_path / "nope.png"
    code, out, err = run_cli(
        capsys, "--config", str(cli_config), "upscale", str(missing), "--out", str(tmp_path)
    )
    assert (code, out, err) == (2, "", f"error: {missing} is not a file\n")


def test_unknown_model_names_the_models_there_are(cli_config, tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "--config", str(cli_config), "imagine", "a cat", "--model", "nope", "--out", str(tmp_path)
    )
    assert code == 2
    assert "nope" in err and "tiny" in err
