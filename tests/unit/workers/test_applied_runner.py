"""What was applied comes back from the PipelineRunner with each image (no side table), and a
request whose variants drew different LoRAs gets each image as if made alone with its own LoRA
(tiny model, CPU, 64x64, 2 steps)."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from generation.models.tiny import build_tiny_pipeline, tiny_lora
from generation.requests.request import Edit, Mode
from generation.workers.runner import PipelineRunner
from tests.helpers.service_env import make_settings, request


@pytest.fixture(scope="module")
def runner_and_model(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("applied-models")
    shutil.copytree(tiny_model_dir, root / "tiny")
    (root / "Lora").mkdir()
    pipe = build_tiny_pipeline()
    save_file(tiny_lora(pipe, seed=1, strength=0.6), str(root / "Lora" / "ink.safetensors"))
    save_file(tiny_lora(pipe, seed=2, strength=0.6), str(root / "Lora" / "oil.safetensors"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    runner = PipelineRunner(make_settings(root, models_dir=root))
    yield runner, runner.load("tiny")
    torch.set_num_threads(threads)


def run(runner, model, *requests):
    return runner.generate(
        model,
        list(requests),
        sources=[None] * len(requests),
        on_progress=None,
        cancel=None,
        want_preview=False,
    )


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_images_drawing_other_loras_are_each_made_with_their_own(runner_and_model):
    runner, model = runner_and_model
    ink, oil = "a cat <lora:ink:1>", "a cat <lora:oil:1>"
    mixed = request(
        "a cat {<lora:ink:1>|<lora:oil:1>}", count=2, seed=5, image_prompts=(ink, oil), model="tiny"
    )
    together = run(runner, model, mixed)
    alone = [run(runner, model, request(ink, seed=5, model="tiny")), run(runner, model, request(oil, seed=6))]
    plain = run(runner, model, request("a cat", seed=6, model="tiny"))
    assert [[u.name for u in a.loras] for a in together.applied[0]] == [["ink"], ["oil"]]
    assert all(u.hash for a in together.applied[0] for u in a.loras)  # the infotext's Lora hashes
    for i, made in enumerate(alone):
        assert np.array_equal(pixels(together.images[0][i]), pixels(made.images[0][0]))
    assert np.abs(pixels(together.images[0][1]) - pixels(plain.images[0][0])).max() > 0  # oil did something
    assert plain.applied == [(plain.applied[0][0],)] and plain.applied[0][0].loras == ()


def test_an_inpaints_mask_goes_with_each_lora_call(runner_and_model):
    """A split inpaint: each LoRA set's call gets the request's source and mask (outside the mask
    the source is kept in every image), and each image equals the one made alone."""
    runner, model = runner_and_model
    source, mask = png(Image.new("RGB", (64, 64), (200, 30, 30))), png(half_mask())
    ink, oil = "a cat <lora:ink:1>", "a cat <lora:oil:1>"
    edit = {"mode": Mode.INPAINT, "source_image": "uploads/s.png", "strength": 1.0, "model": "tiny"}
    edit["edit"] = Edit(mask="uploads/m.png", mask_blur=0)
    mixed = request("a cat {<lora:ink:1>|<lora:oil:1>}", count=2, seed=5, image_prompts=(ink, oil), **edit)
    together = runner.generate(
        model, [mixed], sources=[source], masks=[mask], on_progress=None, cancel=None, want_preview=False
    )
    for i, prompt in enumerate((ink, oil)):
        alone = runner.generate(
            model,
            [request(prompt, seed=5 + i, **edit)],
            sources=[source],
            masks=[mask],
            on_progress=None,
            cancel=None,
            want_preview=False,
        )
        made = pixels(together.images[0][i])
        assert np.array_equal(made, pixels(alone.images[0][0]))
        assert (np.abs(made[40:] - (200, 30, 30)) <= 2).all()  # below the mask: the source, kept


def half_mask() -> Image.Image:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 64, 32))
    return mask


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_batch_split_into_calls_reports_one_bar_and_each_jobs_own_preview(runner_and_model):
    """Two jobs whose LoRAs differ run in two calls: the steps count on across both (one bar to
    the total), and until its own call starts a job has no preview (never the other job's)."""
    runner, model = runner_and_model
    first, second = request("a cat <lora:ink:1>", seed=5, model="tiny"), request("a cat <lora:oil:1>", seed=6)
    reports = []

    def on_progress(step, total, previews):
        reports.append((step, total, [p is not None for p in previews()]))

    runner.generate(
        model,
        [first, second],
        sources=[None, None],
        on_progress=on_progress,
        cancel=None,
        want_preview=True,
    )
    steps, totals = [r[0] for r in reports], {r[1] for r in reports}
    assert len(totals) == 1 and steps == sorted(steps) and steps[-1] == totals.pop()
    half = len(reports) // 2
    assert all(shown == [True, False] for _, _, shown in reports[:half])  # the first call: job 1 only
    assert all(shown == [True, True] for _, _, shown in reports[half:])  # then both
