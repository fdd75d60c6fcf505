"""Prompt conditioning with the web UI's semantics, on tiny random models (CPU, 64x64, 3 steps)."""

import numpy as np
import pytest
import torch

from generation.models.arch import Arch
from generation.models.loaded import LoadedModel, ModelEntry
from generation.models.tiny import build_tiny_pipeline, load_clip_tokenizer
from generation.pipelines import conditioning
from generation.pipelines.batch import Batch
from generation.pipelines.conditioning import (
    CHUNK_TOKENS,
    attend_to_valid_tokens,
    encode_batch,
    encode_prompt,
    make_chunks,
    pieces_with_embeddings,
)
from generation.pipelines.embeddings import Embedding
from generation.pipelines.engine import generate, generate_result
from generation.requests.applied import Note
from generation.requests.request import GenerationRequest
from tests.unit.pipelines.test_engine import build_tiny_sdxl


def loaded(pipe, arch=Arch.SD1, name="tiny") -> LoadedModel:
    pipe.set_progress_bar_config(disable=True)
    entry = ModelEntry(name, f"/nonexistent/{name}", "diffusers")
    return LoadedModel(name, entry, pipe, arch, None, torch.device("cpu"), torch.float32)


@pytest.fixture(scope="module")
def model():
    pipe = build_tiny_pipeline(seed=3)
    with torch.no_grad():  # a trained CLIP's final norm has a bias: hidden states whose mean is not 0
        pipe.text_encoder.final_layer_norm.bias.fill_(0.25)
    return loaded(pipe)


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer()


def req(prompt="a red circle", **changes) -> GenerationRequest:
    base = GenerationRequest(prompt, width=64, height=64, steps=3, seed=1234, count=1, sampler="Euler")
    return base.replace(**changes)


def pixels(image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def same(a, b) -> bool:
    return bool((pixels(a) == pixels(b)).all())


def ids(tokenizer, text) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def content(chunk, tokenizer) -> list[int]:
    """A chunk's tokens between its start token and its end token."""
    inner = chunk.tokens[1:]
    return inner[: inner.index(tokenizer.eos_token_id)]


LONG = ", ".join(  # 18 phrases of 7 tokens and a comma: 143 tokens, two chunks
    f"a {colour} {shape} on {ground}"
    for colour in ("red", "blue", "green")
    for shape in ("circle", "square", "triangle")
    for ground in ("white sand", "black stone")
)


# -- chunks ----------------------------------------------------------------------------------------


def test_a_short_prompt_is_one_chunk_as_the_tokenizer_pads_it(tokenizer):
    chunks, tokens = make_chunks(tokenizer, pieces_with_embeddings("a red circle", {}))
    padded = tokenizer("a red circle", padding="max_length", max_length=77)["input_ids"]
    assert len(chunks) == 1 and chunks[0].tokens == padded and tokens == 3
    assert chunks[0].weights == [1.0] * 77


def test_a_long_prompt_is_not_truncated(tokenizer):
    text = " ".join(["cat"] * 180)
    chunks, tokens = make_chunks(tokenizer, pieces_with_embeddings(text, {}))
    assert tokens == 180 and [len(content(c, tokenizer)) for c in chunks] == [75, 75, 30]
    assert all(len(c.tokens) == 77 for c in chunks)


def test_break_starts_a_new_chunk(tokenizer):
    chunks, _ = make_chunks(tokenizer, pieces_with_embeddings("a cat BREAK a dog", {}))
    assert [content(c, tokenizer) for c in chunks] == [ids(tokenizer, "a cat"), ids(tokenizer, "a dog")]
    inside, _ = make_chunks(tokenizer, pieces_with_embeddings("(a cat BREAK a dog)", {}))
    assert len(inside) == 1  # inside brackets BREAK is a word, as in the web UI


def test_words_after_a_late_comma_move_to_the_next_chunk(tokenizer):
    text = " ".join(["cat"] * 70) + ", " + " ".join(["dog"] * 10)
    chunks, tokens = make_chunks(tokenizer, pieces_with_embeddings(text, {}))
    first, second = (content(c, tokenizer) for c in chunks)
    assert first == ids(tokenizer, " ".join(["cat"] * 70) + ",")
    assert second == ids(tokenizer, " ".join(["dog"] * 10)) and tokens == 81
    far = " ".join(["cat"] * 40) + ", " + " ".join(["dog"] * 40)  # the comma is too far back
    assert len(content(make_chunks(tokenizer, pieces_with_embeddings(far, {}))[0][0], tokenizer)) == 75


def test_weights_follow_their_tokens(tokenizer):
    [chunk], _ = make_chunks(tokenizer, pieces_with_embeddings("a (red:1.5) [circle]", {}))
    n_a, n_red, n_circle = (len(ids(tokenizer, w)) for w in ("a", "red", "circle"))
    inner = chunk.weights[1 : 1 + n_a + n_red + n_circle]
    assert inner == [1.0] * n_a + [1.5] * n_red + [1 / 1.1] * n_circle


def test_an_embedding_never_straddles_two_chunks(tokenizer):
    emb = Embedding("myemb", None, {"single": torch.zeros(3, 32)})
    text = " ".join(["cat"] * 74) + " myemb dog"
    chunks, tokens = make_chunks(tokenizer, pieces_with_embeddings(text, {"myemb": emb}))
    assert len(content(chunks[0], tokenizer)) == 74 and tokens == 78
    assert chunks[1].fixes == [(1, emb)] and chunks[1].tokens[1:4] == [conditioning.PLACEHOLDER_ID] * 3


# -- encoding --------------------------------------------------------------------------------------


def test_plain_prompts_encode_exactly_as_diffusers_does(model):
    mine = encode_prompt(model, "a red circle").states
    theirs = model.pipe.encode_prompt("a red circle", "cpu", 1, False)[0]
    assert torch.equal(mine, theirs)


def test_emphasis_scales_tokens_then_restores_the_mean(model, tokenizer):
    plain = encode_prompt(model, "a red circle").states  # the same tokens as below
    weighted = encode_prompt(model, "(a red:3) circle").states
    weights = torch.ones(77)
    weights[1:3] = 3.0  # after the start token: "a", "red"
    scaled = plain * weights[None, :, None]
    assert abs(float(scaled.mean() / plain.mean()) - 1) > 0.01  # scaling alone moves the mean...
    expected = scaled * (plain.mean() / scaled.mean())  # ...which is put back
    assert torch.allclose(weighted, expected, rtol=1e-5, atol=1e-7)
    assert torch.allclose(weighted.mean(), plain.mean(), rtol=1e-5)
    assert torch.equal(encode_prompt(model, "(a:1.0) red circle").states, plain)


def test_long_prompts_are_chunks_side_by_side(model):
    encoded = encode_prompt(model, LONG)
    assert encoded.chunks == 2 and encoded.states.shape == (1, 154, 32)
    chunks, _ = make_chunks(model.pipe.tokenizer, pieces_with_embeddings(LONG, {}))
    alone = model.pipe.text_encoder(torch.tensor([chunks[0].tokens])).last_hidden_state
    assert torch.equal(encoded.states[:, :77], alone)


def test_clip_skip_takes_an_earlier_layer_through_the_final_norm(model):
    encoder = model.pipe.text_encoder
    ids_ = model.pipe.tokenizer("a red circle", padding="max_length", max_length=77, return_tensors="pt")
    hidden = encoder(ids_.input_ids, output_hidden_states=True).hidden_states
    skipped = encode_prompt(model, "a red circle", clip_skip=2).states
    assert torch.equal(skipped, encoder.final_layer_norm(hidden[-2]))
    assert not torch.equal(skipped, encode_prompt(model, "a red circle").states)


def test_sdxl_uses_both_encoders_and_the_first_chunks_pool():
    model = loaded(build_tiny_sdxl(), Arch.SDXL, "xl")
    pipe = model.pipe
    embeds, _, pooled, _ = pipe.encode_prompt("a red circle", device="cpu", do_classifier_free_guidance=False)
    mine = encode_prompt(model, "a red circle")
    assert torch.equal(mine.states, embeds) and torch.equal(mine.pooled, pooled)
    long = encode_prompt(model, LONG)
    assert long.states.shape == (1, 154, 64) and long.chunks == 2
    chunks, _ = make_chunks(pipe.tokenizer_2, pieces_with_embeddings(LONG, {}))
    first = torch.tensor([chunks[0].tokens])
    assert torch.allclose(long.pooled, pipe.text_encoder_2(first).text_embeds, atol=1e-5)  # chunk 1 pools
    batch = Batch.of([req(negative_prompt="")])
    cond = encode_batch(model, batch, guidance=True, clip_skips=[2])
    assert not cond.kwargs["negative_prompt_embeds"].any()  # an empty negative is zeros, as in the web UI
    assert [n.code for n in cond.notes] == [Note.CLIP_SKIP_IGNORED]


def test_sd2_pads_with_its_own_token_and_ignores_clip_skip():
    pipe = build_tiny_pipeline(seed=4)
    pipe.tokenizer = load_clip_tokenizer(pad_token="!")
    model = loaded(pipe, Arch.SD2, "v2")
    [chunk], _ = make_chunks(pipe.tokenizer, pieces_with_embeddings("a red circle", {}))
    assert chunk.tokens[4] == pipe.tokenizer.eos_token_id and set(chunk.tokens[5:]) == {0}
    assert torch.equal(
        encode_prompt(model, "a cat", clip_skip=2).states, encode_prompt(model, "a cat").states
    )


# -- the cache, batching -----------------------------------------------------------------------------


def count_encodes(model):
    calls = []
    handle = model.pipe.text_encoder.register_forward_hook(lambda *_: calls.append(1))
    return calls, handle


def test_a_reroll_encodes_nothing_and_the_cache_is_bounded(model, monkeypatch):
    model.derived.pop("prompts", None)
    calls, handle = count_encodes(model)
    try:
        generate(model, [req("a cached prompt", negative_prompt="blurry")])
        assert len(calls) == 2  # the prompt and the negative prompt, once each
        generate(model, [req("a cached prompt", negative_prompt="blurry", seed=99, count=2)])
        assert len(calls) == 2
        generate(model, [req("another prompt", negative_prompt="blurry")])
        assert len(calls) == 3  # only the new prompt
    finally:
        handle.remove()
    monkeypatch.setattr(conditioning, "CACHE_SIZE", 3)
    for k in range(5):
        encode_batch(model, Batch.of([req(f"prompt {k}")]), guidance=True, clip_skips=[1])
    assert len(model.derived["prompts"]) == 3


def test_mixed_lengths_batch_together_and_each_equals_itself_alone(model):
    long = req(LONG, seed=7)
    short = req("a blue square", negative_prompt="blurry", seed=8, count=2)
    assert long.batch_key() == short.batch_key()
    together = generate(model, [long, short], batch_invariant=True)
    for request, images in zip([long, short], together, strict=True):
        alone = generate(model, [request], batch_invariant=True)[0]
        assert all(same(x, y) for x, y in zip(images, alone, strict=True))
    # the UNet batched: the padding is masked, so only kernel rounding differs
    batched = generate(model, [long, short])
    for request, images in zip([long, short], batched, strict=True):
        alone = generate(model, [request])[0]
        for x, y in zip(images, alone, strict=True):
            diff = np.abs(pixels(x) - pixels(y))
            assert diff.max() <= 2 and (diff > 0).mean() < 0.01


def test_masked_padding_equals_each_row_at_its_own_length(model):
    unet = model.pipe.unet
    g = torch.Generator().manual_seed(0)
    short, long = torch.randn(1, 77, 32, generator=g), torch.randn(1, 154, 32, generator=g)
    sample, t = torch.randn(2, 4, 8, 8, generator=g), torch.tensor(10)
    padded = torch.cat([torch.cat([short, torch.zeros(1, 77, 32)], dim=1), long])
    lengths = {conditioning.LENGTHS_KEY: torch.tensor([77, 154])}
    with torch.no_grad():
        with attend_to_valid_tokens(unet, True):
            out = unet(sample, t, encoder_hidden_states=padded, cross_attention_kwargs=lengths).sample
            cut = unet(
                sample[:1],
                t,
                encoder_hidden_states=padded[:1],
                cross_attention_kwargs={conditioning.LENGTHS_KEY: torch.tensor([77])},
            ).sample
        a = unet(sample[:1], t, encoder_hidden_states=short).sample
        b = unet(sample[1:], t, encoder_hidden_states=long).sample
        attended = unet(sample, t, encoder_hidden_states=padded).sample
    assert torch.allclose(out[0], a[0], atol=1e-5) and torch.allclose(out[1], b[0], atol=1e-5)
    assert not torch.allclose(attended[0], a[0], atol=1e-3)  # unmasked, the zeros would count
    assert torch.equal(cut, a)  # a row alone is cut to its length: the very call it makes alone
    assert "forward" not in vars(unet)


# -- pixels ----------------------------------------------------------------------------------------


def test_what_the_syntax_does_to_the_picture(model):
    base = generate(model, [req("a red circle")])[0][0]
    assert same(generate(model, [req("(a:1.0) red circle")])[0][0], base)
    assert not same(generate(model, [req("a (red:1.5) circle")])[0][0], base)
    # the same tokens in two chunks; a BREAK at the very end starts no chunk, as in the web UI
    assert not same(generate(model, [req("a red BREAK circle")])[0][0], base)
    assert same(generate(model, [req("a red circle BREAK")])[0][0], base)
    tail_a = generate(model, [req(LONG + ", a yellow star")])[0][0]
    tail_b = generate(model, [req(LONG + ", a purple moon")])[0][0]
    assert not same(tail_a, tail_b)  # words past the 77th token change the picture


def test_the_chunks_are_reported(model):
    result = generate_result(model, [req(LONG), req("short BREAK two BREAK three")])
    assert [(a.prompt_chunks, a.negative_chunks) for a in result.applied] == [(2, 1), (3, 1)]
    assert CHUNK_TOKENS == 75
