"""Prompt conditioning with the A1111 web UI's semantics, for SD 1.x, SD 2.x and SDXL.

A prompt becomes the text encoders' hidden states the way the web UI makes them:

1. `<lora:...>` tags are taken out (the LoRAs are applied to the model, `lora.py`).
2. The emphasis syntax becomes (text, weight) pieces (`generation.requests.emphasis`).
3. Embedding names in the pieces become their vectors (`embeddings.py`).
4. Tokens are laid out in chunks of 75, each wrapped in start/end tokens and padded to 77: a chunk
   that fills up in the middle of a phrase moves the words after its last comma (within the last
   20 tokens) to the next chunk, an embedding never straddles two chunks, `BREAK` starts a new
   chunk. Nothing is truncated.
5. Each chunk goes through each text encoder: SD 1.x takes the last layer (with clip skip N, the
   Nth layer from the end, through the final layer norm); SD 2.x the last layer of its 23;
   SDXL the penultimate layer of both encoders, side by side (768 + 1280), and the pooled
   embedding of the second encoder's first chunk. Clip skip applies to SD 1.x only, as in the web
   UI (its SD 2.x and SDXL encoders ignore the setting); a request that asks for it elsewhere
   gets a note.
6. Emphasis: each token's hidden state is multiplied by its weight, then the chunk is rescaled so
   that its mean is what it was before.
7. The chunks are concatenated along the sequence axis (77 x chunks tokens).

Why not compel: compel's prompt syntax is its own (`word++`, `(words)1.2`), and its weighting is not
the web UI's: it lerps towards the empty prompt's embedding for weights above 1 and blends with a
masked-out prompt for weights below 1, with no mean restoration, no comma backtracking and no
BREAK. Users paste prompts written for the web UI and expect its pictures, so its semantics are
written out here, in one module.

A prompt and its negative prompt of different lengths, and the requests of one batch, are padded
to the longest; the padding is masked out of cross-attention (`attend_to_valid_tokens`), so it
changes nothing, which is what the web UI does by running the shorter one separately. With the
UNet run one image at a time (the batch-invariant mode), each image's call is cut back to its own
length, so an image is bit-identical whatever it is batched with.

Encoded prompts are cached on the loaded model (`model.derived["prompts"]`, the last
`CACHE_SIZE`), by text, clip skip, LoRA set and the embedding files they use: a reroll, or a
negative prompt shared by many jobs, is encoded once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from generation.models.arch import Arch
from generation.models.assets import AssetFile
from generation.models.loaded import LoadedModel
from generation.pipelines.batch import Batch
from generation.pipelines.embeddings import SINGLE, Embedding, load_embeddings
from generation.problems import Problem
from generation.requests.addons import extract_networks, name_spans
from generation.requests.applied import Note
from generation.requests.emphasis import is_break, parse_attention

__all__ = [
    "CHUNK_TOKENS",
    "BatchConditioning",
    "EncodedPrompt",
    "attend_to_valid_tokens",
    "encode_batch",
    "encode_prompt",
    "text_encoders",
]

CHUNK_TOKENS = 75  # per chunk, between its start and end tokens
COMMA_BACKTRACK = 20  # the web UI's "comma_padding_backtrack" default
CACHE_SIZE = 64  # encoded prompts kept per model
LENGTHS_KEY = "imagine_token_lengths"  # cross_attention_kwargs entry read by attend_to_valid_tokens
PLACEHOLDER_ID = 0  # token id under an embedding's vectors (replaced before the first layer)


# -- the text encoders of a model -------------------------------------------------------------


@dataclass(frozen=True)
class TextEncoder:
    """One tokenizer and text encoder, and how the web UI reads it."""

    tokenizer: Any
    encoder: Any
    key: str  # the embedding-file key of its vectors ("single", "clip_l", "clip_g")
    layer: str  # "last" (SD 1.x, SD 2.x) | "penultimate" (SDXL)
    clip_skip: bool  # whether clip skip applies (SD 1.x)
    pooled: bool  # whether its pooled embedding conditions the UNet (SDXL's second)

    @property
    def width(self) -> int:
        return int(self.encoder.get_input_embeddings().weight.shape[1])


def text_encoders(model: LoadedModel) -> list[TextEncoder]:
    pipe = model.pipe
    if model.arch is Arch.SDXL:
        return [
            TextEncoder(pipe.tokenizer, pipe.text_encoder, "clip_l", "penultimate", False, False),
            TextEncoder(pipe.tokenizer_2, pipe.text_encoder_2, "clip_g", "penultimate", False, True),
        ]
    return [TextEncoder(pipe.tokenizer, pipe.text_encoder, SINGLE, "last", model.arch is Arch.SD1, False)]


# -- 2-4. pieces and chunks --------------------------------------------------------------------


@dataclass
class Chunk:
    tokens: list[int] = field(default_factory=list)  # 77 once closed
    weights: list[float] = field(default_factory=list)
    fixes: list[tuple[int, Embedding]] = field(default_factory=list)  # (position, embedding)


Pieces = list[tuple[str | Embedding, float]]  # text (or an embedding) and its weight


def pieces_with_embeddings(text: str, embeddings: dict[str, Embedding]) -> Pieces:
    """The emphasis pieces of `text` (tags taken out) with embedding names split out as embeddings."""
    out: Pieces = []
    for piece, weight in parse_attention(extract_networks(text)[0]):
        if is_break((piece, weight)):
            out.append((piece, weight))
            continue
        at = 0
        for start, end, name in name_spans(piece, embeddings):
            if start > at:
                out.append((piece[at:start], weight))
            out.append((embeddings[name], weight))
            at = end
        if at < len(piece):
            out.append((piece[at:], weight))
    return out


class _Chunker:
    """Lays tokens out in chunks the way the web UI does (see the module docstring, step 4)."""

    def __init__(self, tokenizer: Any) -> None:
        self.start = int(tokenizer.bos_token_id)
        self.end = int(tokenizer.eos_token_id)
        self.pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.end)
        self.comma = tokenizer.convert_tokens_to_ids(",</w>")
        self.chunks: list[Chunk] = []
        self.current = Chunk()
        self.last_comma = -1
        self.tokens = 0  # real tokens laid out

    def close(self) -> None:
        chunk = self.current
        fill = CHUNK_TOKENS - len(chunk.tokens)
        # start, content, end, then padding (the end token for CLIP-L, "!" for OpenCLIP)
        chunk.tokens = [self.start, *chunk.tokens, self.end] + [self.pad] * fill
        chunk.weights = [1.0, *chunk.weights, 1.0] + [1.0] * fill
        chunk.fixes = [(position + 1, embedding) for position, embedding in chunk.fixes]
        self.chunks.append(chunk)
        self.current = Chunk()
        self.last_comma = -1

    def add_token(self, token: int, weight: float) -> None:
        chunk = self.current
        if token == self.comma:
            self.last_comma = len(chunk.tokens)
        elif (
            len(chunk.tokens) == CHUNK_TOKENS
            and self.last_comma != -1
            and len(chunk.tokens) - self.last_comma <= COMMA_BACKTRACK
        ):
            cut = self.last_comma + 1  # the words after the comma go to the next chunk
            moved = Chunk(
                chunk.tokens[cut:],
                chunk.weights[cut:],
                [(p - cut, e) for p, e in chunk.fixes if p >= cut],
            )
            chunk.tokens, chunk.weights = chunk.tokens[:cut], chunk.weights[:cut]
            chunk.fixes = [(p, e) for p, e in chunk.fixes if p < cut]
            self.close()
            self.current = moved
        if len(self.current.tokens) == CHUNK_TOKENS:
            self.close()
        self.current.tokens.append(token)
        self.current.weights.append(weight)
        self.tokens += 1

    def add_embedding(self, embedding: Embedding, weight: float) -> None:
        if len(self.current.tokens) + embedding.count > CHUNK_TOKENS:
            self.close()
        self.current.fixes.append((len(self.current.tokens), embedding))
        self.current.tokens += [PLACEHOLDER_ID] * embedding.count
        self.current.weights += [weight] * embedding.count
        self.tokens += embedding.count

    def finish(self) -> list[Chunk]:
        if self.current.tokens or not self.chunks:
            self.close()
        return self.chunks


def make_chunks(tokenizer: Any, pieces: Pieces) -> tuple[list[Chunk], int]:
    """The chunks of the pieces for this tokenizer, and the number of tokens in them."""
    texts = [p for p, w in pieces if isinstance(p, str) and not is_break((p, w))]
    tokenized = tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False) if texts else None
    ids = iter(tokenized["input_ids"] if tokenized is not None else [])
    chunker = _Chunker(tokenizer)
    for piece, weight in pieces:
        if isinstance(piece, Embedding):
            chunker.add_embedding(piece, weight)
        elif is_break((piece, weight)):
            chunker.close()
        else:
            for token in next(ids):
                chunker.add_token(int(token), weight)
    return chunker.finish(), chunker.tokens


# -- 5-7. encoding -------------------------------------------------------------------------------


@contextmanager
def _vectors_in_place(encoder: TextEncoder, chunks: list[Chunk]) -> Iterator[None]:
    """Put the embeddings' vectors where their placeholder tokens are, before the first layer."""
    fixes = [
        (row, position, e.vectors[encoder.key]) for row, c in enumerate(chunks) for position, e in c.fixes
    ]
    if not fixes:
        yield
        return

    def replace(_module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        output = output.clone()
        for row, position, vectors in fixes:
            output[row, position : position + vectors.shape[0]] = vectors.to(output)
        return output

    handle = encoder.encoder.get_input_embeddings().register_forward_hook(replace)
    try:
        yield
    finally:
        handle.remove()


def _final_layer_norm(encoder: Any) -> Any:
    norm = getattr(encoder, "final_layer_norm", None)
    return norm if norm is not None else encoder.text_model.final_layer_norm


def _hidden_states(
    encoder: TextEncoder, chunks: list[Chunk], clip_skip: int, device: Any
) -> tuple[torch.Tensor, Any]:
    """(chunks, 77, width) hidden states of one text encoder, and its pooled embedding (or None)."""
    ids = torch.tensor([c.tokens for c in chunks], dtype=torch.long, device=device)
    hidden = encoder.layer == "penultimate" or (encoder.clip_skip and clip_skip > 1)
    with _vectors_in_place(encoder, chunks):
        out = encoder.encoder(ids, output_hidden_states=hidden)
    if encoder.layer == "penultimate":
        states = out.hidden_states[-2]
    elif encoder.clip_skip and clip_skip > 1:
        layers = out.hidden_states
        states = _final_layer_norm(encoder.encoder)(layers[-min(clip_skip, len(layers))])
    else:
        states = out.last_hidden_state
    pooled = out.text_embeds[:1] if encoder.pooled else None  # the first chunk's, unweighted
    return states, pooled


def _emphasis(states: torch.Tensor, chunks: list[Chunk]) -> torch.Tensor:
    """Scale each token by its weight, then restore each chunk's mean (the web UI's "Original")."""
    weights = torch.tensor([c.weights for c in chunks], dtype=torch.float32, device=states.device)
    if bool((weights == 1.0).all()):
        return states
    z = states.float()
    before = z.mean(dim=(1, 2), keepdim=True)
    z = z * weights[..., None]
    z = z * (before / z.mean(dim=(1, 2), keepdim=True))
    return z.to(states.dtype)


@dataclass(frozen=True)
class EncodedPrompt:
    """One text, encoded: what the UNet attends to, and what went into it."""

    states: torch.Tensor  # (1, 77 x chunks, width of all encoders)
    pooled: torch.Tensor | None  # (1, pooled width), SDXL
    chunks: int
    tokens: int
    embeddings: tuple[str, ...]  # the embeddings it used
    zero: bool = False  # SDXL's empty negative prompt: zeros, like the web UI


def encode_prompt(
    model: LoadedModel, text: str, *, clip_skip: int = 1, embeddings: dict[str, Embedding] | None = None
) -> EncodedPrompt:
    """Encode one prompt with the web UI's semantics (not cached: see `encode_batch`)."""
    embeddings = embeddings or {}
    pieces = pieces_with_embeddings(text, embeddings)
    device = getattr(model.pipe, "_execution_device", model.device)
    parts, pooled, counts = [], None, set()
    with torch.no_grad():
        for encoder in text_encoders(model):
            chunks, tokens = make_chunks(encoder.tokenizer, pieces)
            counts.add(len(chunks))
            states, own_pooled = _hidden_states(encoder, chunks, clip_skip, device)
            parts.append(_emphasis(states, chunks).reshape(1, -1, states.shape[-1]))
            pooled = own_pooled if own_pooled is not None else pooled
    if len(counts) != 1:  # both SDXL tokenizers share CLIP's vocabulary: never expected
        raise RuntimeError(f"the text encoders chunked the prompt differently: {sorted(counts)}")
    used = tuple(dict.fromkeys(p.name for p, _ in pieces if isinstance(p, Embedding)))
    return EncodedPrompt(torch.cat(parts, dim=-1), pooled, counts.pop(), tokens, used)


def _zero_prompt(model: LoadedModel) -> EncodedPrompt:
    encoders = text_encoders(model)
    device = getattr(model.pipe, "_execution_device", model.device)
    dtype = encoders[0].encoder.dtype
    width = sum(e.width for e in encoders)
    pooled_width = int(encoders[-1].encoder.config.projection_dim)
    states = torch.zeros((1, CHUNK_TOKENS + 2, width), device=device, dtype=dtype)
    return EncodedPrompt(states, torch.zeros((1, pooled_width), device=device, dtype=dtype), 1, 0, (), True)


# -- a batch ---------------------------------------------------------------------------------------


@dataclass
class BatchConditioning:
    kwargs: dict[str, Any]  # prompt_embeds, negative_prompt_embeds, pooled ones, cross_attention_kwargs
    prompts: list[EncodedPrompt]  # per image
    negatives: list[EncodedPrompt | None]  # per image (None without guidance)
    notes: list[Problem]  # embeddings left out, clip skip that does not apply
    embeddings: dict[str, Embedding] = field(default_factory=dict)  # those loaded for the batch

    @property
    def masked(self) -> bool:
        return LENGTHS_KEY in self.kwargs.get("cross_attention_kwargs", {})


def _cache(model: LoadedModel) -> OrderedDict[Any, EncodedPrompt]:
    return model.derived.setdefault("prompts", OrderedDict())


def encode_batch(
    model: LoadedModel,
    batch: Batch,
    *,
    guidance: bool,
    clip_skips: Sequence[int],
    embedding_files: Sequence[AssetFile] = (),
    lora_key: Any = (),
) -> BatchConditioning:
    """The pipeline's prompt keyword arguments for the batch's images (one clip skip per image).

    Each distinct text is encoded once, alone, and cached on the model; the rows are padded to the
    longest and the lengths passed for `attend_to_valid_tokens`."""
    notes: list[Problem] = []
    uses_clip_skip = any(e.clip_skip for e in text_encoders(model))
    if not uses_clip_skip and any(skip > 1 for skip in clip_skips):
        notes.append(Problem(Note.CLIP_SKIP_IGNORED, clip_skip=max(clip_skips), arch=str(model.arch)))
    widths = {e.key: e.width for e in text_encoders(model)}
    embeddings, skipped = load_embeddings(model, list(embedding_files), widths)
    notes += skipped
    stamps = tuple(sorted(e.file.stamp() for e in embeddings.values()))
    cache = _cache(model)
    zero_negative = model.arch is Arch.SDXL and bool(
        model.pipe.config.get("force_zeros_for_empty_prompt", True)
    )

    def encoded(text: str, clip_skip: int, negative: bool) -> EncodedPrompt:
        if negative and zero_negative and not text:
            return _zero_prompt(model)
        skip = clip_skip if uses_clip_skip else 1
        key = (text, skip, lora_key, stamps)
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        result = encode_prompt(model, text, clip_skip=skip, embeddings=embeddings)
        cache[key] = result
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return result

    prompts = [encoded(t, s, False) for t, s in zip(batch.prompts, clip_skips, strict=True)]
    negatives: list[EncodedPrompt | None] = (
        [encoded(t, s, True) for t, s in zip(batch.negatives, clip_skips, strict=True)]
        if guidance
        else [None] * len(prompts)
    )
    rows = [*(n for n in negatives if n is not None), *prompts]  # the UNet's order with guidance
    longest = max(row.states.shape[1] for row in rows)

    def padded(rows_: list[EncodedPrompt]) -> torch.Tensor:
        out = []
        for row in rows_:
            states = row.states
            if states.shape[1] < longest:
                pad = states.new_zeros((1, longest - states.shape[1], states.shape[2]))
                states = torch.cat([states, pad], dim=1)
            out.append(states)
        return torch.cat(out)

    kwargs: dict[str, Any] = {"prompt_embeds": padded(prompts)}
    if guidance:
        kwargs["negative_prompt_embeds"] = padded([n for n in negatives if n is not None])
    if prompts[0].pooled is not None:
        kwargs["pooled_prompt_embeds"] = torch.cat([p.pooled for p in prompts])
        if guidance:
            kwargs["negative_pooled_prompt_embeds"] = torch.cat(
                [n.pooled for n in negatives if n is not None]
            )
    lengths = [row.states.shape[1] for row in rows]
    if any(length != longest for length in lengths):
        device = kwargs["prompt_embeds"].device
        kwargs["cross_attention_kwargs"] = {LENGTHS_KEY: torch.tensor(lengths, device=device)}
    return BatchConditioning(kwargs, prompts, negatives, notes, embeddings)


# -- masking the padding -------------------------------------------------------------------------


@contextmanager
def attend_to_valid_tokens(unet: Any, enabled: bool) -> Iterator[None]:
    """Within the call, the UNet attends only to each row's own tokens: the rows are cut to the
    longest row they hold, and when they still differ the rest is masked out of cross-attention.

    Install it before `unet_per_image`, which then hands each image's rows (and their lengths)
    through: an image's call is cut to its own length, exactly as when it runs alone."""
    if not enabled:
        yield
        return
    had_own = "forward" in vars(unet)
    forward = unet.forward

    def forward_valid(*args: Any, **kwargs: Any) -> Any:
        extra = kwargs.get("cross_attention_kwargs")
        if extra and LENGTHS_KEY in extra:
            extra = dict(extra)
            lengths = extra.pop(LENGTHS_KEY)
            kwargs["cross_attention_kwargs"] = extra or None
            keep = int(lengths.max())
            if "encoder_hidden_states" in kwargs:
                kwargs["encoder_hidden_states"] = kwargs["encoder_hidden_states"][:, :keep]
            else:  # forward(sample, timestep, encoder_hidden_states, ...)
                args = (*args[:2], args[2][:, :keep], *args[3:])
            if bool((lengths < keep).any()):
                positions = torch.arange(keep, device=lengths.device)
                kwargs["encoder_attention_mask"] = positions[None, :] < lengths[:, None]
        return forward(*args, **kwargs)

    unet.forward = forward_valid
    try:
        yield
    finally:
        if had_own:
            unet.forward = forward
        else:
            del unet.forward
