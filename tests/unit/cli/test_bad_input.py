"""The command line answers bad files, numbers and models with one line and exit status 2."""

import io
import json
import struct
import zlib

import pytest
from PIL import Image

from tests.helpers.cli import run_cli


def one_error_line(code, out, err):
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and len(err) < 320
    return err


def bomb_header(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(16)))


def truncated_png():
    buffer = io.BytesIO()
    Image.effect_noise((96, 96), 60).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()[:2000]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "error: empty (image.empty)\n"),
        (b"name,value\n1,2\n", "error: not an image: size=15, looks_like='text' (image.not_an_image)\n"),
        (None, "error: truncated: format='PNG', width=96, height=96 (image.truncated)\n"),
        (
            bomb_header(30000, 30000),
            "error: too many pixels: pixels=900000000, max=40000000 (image.too_many_pixels)\n",
        ),
    ],
)
@pytest.mark.parametrize("command", ["upscale", "vary"])
def test_files_that_are_no_image(cli_config, tmp_path, capsys, command, content, expected):
    path = tmp_path / "input.png"
    path.write_bytes(truncated_png() if content is None else content)
    err = one_error_line(*run_cli(capsys, "--config", cli_config, command, path, "--out", tmp_path / "o"))
    assert err == expected


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--factor", "inf"],
            "error: bad number: option='--factor', value='inf', reason='infinite' (cli.bad_number)",
        ),
        (["--factor", "1e999"], "error: bad number: option='--factor', value='1e999', reason='too_large'"),
        (["--strength", "nan"], "error: bad number: option='--strength', value='nan', reason='nan'"),
        (["--factor", "9" * 400], "reason='too_large', digits=400 (cli.bad_number)"),
        (["--factor", "big"], "reason='not_a_number' (cli.bad_number)"),
        (["--factor", "1"], "error: upscale factor too small: value=1, suggested=2"),
    ],
)
def test_numeric_options_are_bounded_like_flags(cli_config, tmp_path, capsys, argv, expected):
    path = tmp_path / "in.png"
    Image.new("RGB", (64, 64), "red").save(path)
    err = one_error_line(*run_cli(capsys, "--config", cli_config, "upscale", path, *argv, "--out", tmp_path))
    assert err.startswith(expected) or expected in err, err


@pytest.mark.parametrize(
    "prompt",
    [
        "a cat --seed " + "1" * 4400,
        "a cat --ar " + "9" * 400 + ":1",
        "a cat --w 1" + "0" * 400,
        "a cat --strength inf",
        "a cat --" + "x" * 2500,
        "a cat --sampler " + "s" * 2100,
        'a ”b --model "x y"',
    ],
)
def test_prompts_that_break_every_range(cli_config, tmp_path, capsys, prompt):
    one_error_line(*run_cli(capsys, "--config", cli_config, "imagine", prompt, "--out", tmp_path))


def test_a_1x1_image_is_scaled_up_with_a_note(cli_config, tmp_path, capsys):
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), "blue").save(path)
    code, out, err = run_cli(capsys, "--config", cli_config, "upscale", path, "--out", tmp_path / "o")
    assert code == 0, err
    assert err.startswith("note: scaled up: width=1, height=1, to_width=64, to_height=64, min=64")
    assert json.loads(out.strip().splitlines()[-1])["size"] == [128, 128]


def test_model_errors_are_one_line(cli_config, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    models = cli_config.parent / "models"
    (models / "broken.safetensors").write_bytes(b"\x00" * 4)
    save_file({"not.a.unet": torch.zeros(2)}, models / "odd.safetensors")

    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"state_dict": {"w": torch.zeros(2)}, "x": Payload()}, models / "evil.ckpt")
    for name, words in (
        ("broken", "broken.safetensors"),
        ("odd", "Stable Diffusion"),
        ("evil", "arbitrary code"),
        ("m" * 1500, "is not a model name: it is too long"),
        ("m" * 200, "no model named 'mmmm"),
    ):
        err = one_error_line(
            *run_cli(capsys, "--config", cli_config, "imagine", "a cat", "--model", name, "--out", tmp_path)
        )
        assert words in err, err
