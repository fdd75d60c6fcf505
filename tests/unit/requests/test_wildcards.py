"""Variants: each image draws its own from its seed, reproducibly; wildcard files; --permute and
--repeat fan-outs within the limit; the job flags."""

from collections import Counter
from pathlib import Path

import pytest

from generation.problems import Problem
from generation.requests.followups import prompt_of_image, reroll_of, upscale_of_image, variation_of_image
from generation.requests.prompt import JobFlags, PromptError, format_flags, job_flags, parse_prompt
from generation.requests.request import RANDOM_SEED, GenerationRequest
from generation.requests.wildcards import (
    VariantError,
    Wildcards,
    draw,
    fan_out,
    permutations,
    with_image_prompts,
)
from generation.settings import DefaultSettings, Settings


@pytest.fixture
def wildcards(tmp_path: Path) -> Wildcards:
    folder = tmp_path / "wildcards"
    (folder / "animals").mkdir(parents=True)
    (folder / "colors.txt").write_text("red\ngreen\n# a comment\nblue\n", encoding="utf-8")
    (folder / "animals" / "pets.txt").write_text("cat\ndog\n", encoding="utf-8")
    return Wildcards(folder)


def request(prompt: str, seed: int = 42, count: int = 4) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, seed=seed, count=count)


def test_each_image_draws_from_its_own_seed_reproducibly(wildcards):
    job = with_image_prompts(request("a {red|green|blue} __animals/pets__, (sharp:1.2)"), wildcards)
    assert len(job.image_prompts) == 4
    for i, seed in enumerate(job.seeds):
        # image i of this job is what a lone job with seed + i draws, every time
        alone = with_image_prompts(request(job.prompt, seed=seed, count=1), wildcards)
        assert job.prompt_for(i) == alone.prompt_for(0) == draw(job.prompt, seed, wildcards)
        colour, animal = job.prompt_for(i).removeprefix("a ").removesuffix(", (sharp:1.2)").split()
        assert colour in {"red", "green", "blue"} and animal in {"cat", "dog"}
    again = with_image_prompts(request(job.prompt), wildcards)
    assert again.image_prompts == job.image_prompts
    many = {with_image_prompts(request(job.prompt, seed=s), wildcards).image_prompts for s in range(20)}
    assert len(many) > 1  # and other seeds draw other variants


def test_weights_skew_the_draws(wildcards):
    drawn = Counter(draw("{9::red|blue}", seed, wildcards) for seed in range(300))
    assert drawn["red"] > 3 * drawn["blue"] > 0


def test_a1111_syntax_passes_through_untouched(wildcards):
    text = "masterpiece, (red hair:1.2), [blurry], <lora:detailed_eyes:0.7>, BREAK \\(literal\\)"
    assert draw(text, 1, wildcards) == text


def test_no_variants_no_image_prompts(wildcards):
    plain = request("a red circle")
    assert with_image_prompts(plain, wildcards) is plain
    stale = plain.replace(image_prompts=("x",) * 4)
    assert with_image_prompts(stale, wildcards).image_prompts == ()
    assert with_image_prompts(request("a red} circle"), wildcards).image_prompts == ()  # literal
    with pytest.raises(ValueError):
        with_image_prompts(request("{a|b}", seed=RANDOM_SEED), wildcards)


def test_mistakes_are_variant_errors(wildcards):
    with pytest.raises(VariantError) as caught:
        with_image_prompts(request("a {red|blue ball"), wildcards)
    assert caught.value.code == "variants.syntax" and caught.value.fields["position"] == 2
    with pytest.raises(VariantError) as caught:
        with_image_prompts(request("a __colours__ {x|__animals/pest__}"), wildcards)
    assert caught.value.fields == {"name": "colours", "suggested": ["colors"], "count": 2}
    with pytest.raises(VariantError) as caught:
        with_image_prompts(request("{x|__nothing_like_it__}"), Wildcards(None))
    assert caught.value.fields == {"name": "nothing_like_it", "suggested": [], "count": 0}
    with pytest.raises(VariantError) as caught:
        with_image_prompts(request("{" + "x" * 50 + "|y}"), wildcards, max_length=20)
    assert caught.value.code == "variants.prompt_too_long" and caught.value.fields["max"] == 20


def test_new_wildcard_files_are_seen(wildcards, tmp_path):
    assert wildcards.names() == ["animals/pets", "colors"]
    (tmp_path / "wildcards" / "shapes.txt").write_text("circle\n", encoding="utf-8")
    assert draw("a __shapes__", 0, wildcards) == "a circle"


def test_permutations_are_every_combination_in_order(wildcards):
    assert permutations("a {red|blue} __animals/pets__", wildcards) == [
        "a red cat",
        "a red dog",
        "a blue cat",
        "a blue dog",
    ]
    assert permutations("plain", wildcards) == ["plain"]
    assert len(permutations("{a|b} " * 30, wildcards, limit=5)) == 6  # stops once over the limit


def test_fan_out_permute_keeps_the_seed_and_repeat_steps_it(wildcards):
    base = request("a {red|blue} ball", seed=10, count=2)
    jobs = fan_out(base, wildcards, permute=True, repeat=2, max_jobs=4)
    assert [(j.prompt, j.seed) for j in jobs] == [
        ("a red ball", 10),
        ("a red ball", 12),
        ("a blue ball", 10),
        ("a blue ball", 12),
    ]
    fresh = fan_out(request("x", seed=RANDOM_SEED), wildcards, repeat=3, max_jobs=4)
    assert [j.seed for j in fresh] == [RANDOM_SEED] * 3  # each drawn when it is submitted
    assert fan_out(base, wildcards, max_jobs=1) == [base]  # neither flag: the request itself


def test_fan_out_refuses_above_the_limit_once(wildcards):
    with pytest.raises(VariantError) as caught:
        fan_out(request("{a|b|c} {x|y}"), wildcards, permute=True, repeat=2, max_jobs=8)
    assert caught.value.code == "variants.too_many_jobs"
    assert caught.value.fields == {"combinations": 6, "counted": 100, "repeat": 2, "jobs": 12, "max": 8}
    with pytest.raises(VariantError) as caught:
        fan_out(request("{a|b} " * 12), wildcards, permute=True, max_jobs=8)
    assert caught.value.fields["combinations"] is None  # 4096: more than it counts
    for repeat in (0, 9):
        with pytest.raises(VariantError) as caught:
            fan_out(request("x"), wildcards, repeat=repeat, max_jobs=8)
        assert caught.value.fields == {"value": repeat, "max": 8, "flag": "repeat"}


def test_job_flags_are_read_and_parse_prompt_leaves_them_out():
    text = "a {red|blue} cat --style Cinematic, film noir --permute --repeat 3 --seed 4"
    assert job_flags(text) == JobFlags(styles=("Cinematic", "film noir"), permute=True, repeat=3)
    parsed = parse_prompt(text, DefaultSettings())
    assert parsed.prompt == "a {red|blue} cat" and parsed.seed == 4
    assert "--style" not in format_flags(parsed, DefaultSettings())
    assert job_flags("a cat --permute off") == JobFlags()
    for bad in ("a --repeat x", "a --permute maybe", "a --style", "a --repeat 2 --repeat 3"):
        with pytest.raises(PromptError):
            parse_prompt(bad, DefaultSettings())


def test_follow_ups_keep_the_image_s_own_prompt(wildcards):
    job_request = with_image_prompts(request("a {red|green|blue} ball", count=4), wildcards)

    class Image:
        def __init__(self, i):
            self.index, self.seed, self.key = i, job_request.seeds[i], f"j/{i}.png"

    class Job:
        id, status, request, images = "j", "done", job_request, [Image(i) for i in range(4)]

    settings = Settings()
    for i in range(4):
        assert upscale_of_image(Job, i, settings).prompt == job_request.prompt_for(i)
        assert variation_of_image(Job, i, settings).prompt == job_request.prompt_for(i)
        assert prompt_of_image(job_request, i).image_prompts == ()
    rerolled = reroll_of(job_request)
    assert rerolled.prompt == job_request.prompt and rerolled.image_prompts == ()


def test_image_prompts_survive_storage_and_only_apply_when_complete():
    stored = request("{a|b}", count=2).replace(image_prompts=("a", "b"))
    assert GenerationRequest.from_dict(stored.to_dict()) == stored
    assert stored.prompt_for(1) == "b"
    assert stored.replace(count=1).prompt_for(0) == "{a|b}"  # a stale list is not used
    assert stored.batch_key() == request("other", count=2).batch_key()


def test_variant_errors_are_problems():
    assert issubclass(VariantError, Problem)


def test_a_draw_is_what_dynamicprompts_draws_for_the_seed(wildcards):
    from dynamicprompts.generators import RandomPromptGenerator

    template = "a {red|green|blue} __colors__ {2::sharp|soft} {2$$a|b|c}"
    for seed in range(50):
        expected = RandomPromptGenerator(wildcards.manager(), seed=seed).generate(template, 1)[0]
        assert draw(template, seed, wildcards) == expected
