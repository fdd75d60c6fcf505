"""Follow-up requests from an image: upscale and img2img variations."""

from generation.requests.followups import fit_size, output_size, upscale_of, variation_of, with_enough_steps
from generation.requests.request import RANDOM_SEED, GenerationRequest, HiresFix, Mode
from generation.settings import Settings


def test_upscale_keeps_the_image_seed_and_starts_from_the_image_size():
    settings = Settings()
    source = GenerationRequest("a cat", width=64, height=96, seed=10, count=4, hires=HiresFix(2.0, 0.5))
    up = upscale_of(source, "/tmp/2.png", 12, settings)
    assert up.mode is Mode.UPSCALE and up.seed == 12 and up.count == 1
    assert (up.width, up.height) == (128, 192)  # the hires-fixed image's size
    assert up.hires is None and up.source_image == "/tmp/2.png"
    assert output_size(up) == (256, 384)


def test_variations_get_new_seeds_and_a_grid_sized_generation():
    settings = Settings()
    upscaled = GenerationRequest("a cat", mode=Mode.UPSCALE, width=512, height=512, seed=3, count=1)
    varied = variation_of(upscaled, "/tmp/u.png", settings, strength=0.4)
    assert varied.mode is Mode.IMG2IMG and varied.seed == RANDOM_SEED and varied.count == 4
    assert varied.strength == 0.4
    assert (varied.width, varied.height) == fit_size(1024, 1024, settings) == (512, 512)


def test_a_few_step_follow_up_still_runs_one_denoising_step():
    request = GenerationRequest("x", mode=Mode.IMG2IMG, steps=2, strength=0.3)
    assert with_enough_steps(request).steps == 4  # int(4 * 0.3) == 1
    assert with_enough_steps(request.replace(steps=10)).steps == 10
