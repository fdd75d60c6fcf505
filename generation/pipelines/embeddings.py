"""Textual-inversion embeddings: reading the files the web UI reads, and which text encoder takes what.

Formats:

- SD 1.x / 2.x: one tensor of `(vectors, width)`: the web UI's `.pt` (`string_to_param["*"]`),
  `.safetensors` with `emb_params` (or one tensor under any name), diffusers' `.bin` (`{token:
  tensor}`).
- SDXL: `clip_l` (`(vectors, 768)`, the first text encoder) and `clip_g` (`(vectors, 1280)`).

`.pt` and `.bin` files are pickles: they are read with `torch.load(weights_only=True)` only, so a
file that would build Python objects or run code is refused (noted as unreadable). An embedding
whose vectors do not fit the model's text encoders is left out with a note, as the web UI skips
it. Loaded vectors are kept per model (`model.derived["embeddings"]`), keyed by the file's stamp.
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from safetensors.torch import load_file

from generation.models.assets import AssetFile
from generation.models.loaded import LoadedModel
from generation.problems import Problem
from generation.requests.applied import Note

__all__ = ["SINGLE", "Embedding", "load_embeddings"]

SINGLE = "single"  # the key of an SD 1.x / 2.x embedding's one tensor
SDXL_KEYS = ("clip_l", "clip_g")
MAX_VECTORS = 75  # one chunk; the web UI cannot place a longer embedding either


class EmbeddingFileError(ValueError):
    """The file holds no embedding this project can read; the message says why."""


@dataclass(frozen=True)
class Embedding:
    name: str
    file: AssetFile
    vectors: dict[str, torch.Tensor]  # by text-encoder key ("single", or "clip_l" / "clip_g"), float32 CPU

    @property
    def count(self) -> int:
        return int(next(iter(self.vectors.values())).shape[0])


def _tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.detach().float().reshape(-1, value.shape[-1]) if value.dim() else None
    return None


def read_embedding(file: AssetFile) -> dict[str, torch.Tensor]:
    """The file's vectors by text-encoder key; EmbeddingFileError when it holds none."""
    path = file.path
    try:
        if path.suffix.lower() == ".safetensors":
            data: Any = load_file(str(path))
        else:
            with warnings.catch_warnings():  # a refused pickle's protocol warning says nothing more
                warnings.simplefilter("ignore")
                data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise EmbeddingFileError("a pickle holding more than tensors, not loaded") from None
    except Exception as exc:
        raise EmbeddingFileError(f"{type(exc).__name__}: {exc}") from None
    if isinstance(data, dict) and all(key in data for key in SDXL_KEYS):
        vectors = {key: _tensor(data[key]) for key in SDXL_KEYS}
    elif isinstance(data, dict) and isinstance(data.get("string_to_param"), dict):
        vectors = {SINGLE: _tensor(next(iter(data["string_to_param"].values()), None))}
    elif isinstance(data, dict) and "emb_params" in data:
        vectors = {SINGLE: _tensor(data["emb_params"])}
    elif isinstance(data, dict):
        found = [t for t in map(_tensor, data.values()) if t is not None]
        vectors = {SINGLE: found[0] if len(found) == 1 else None}
    else:
        vectors = {SINGLE: _tensor(data)}
    if any(v is None or v.shape[0] == 0 for v in vectors.values()):
        raise EmbeddingFileError("no embedding vectors in it")
    counts = {int(v.shape[0]) for v in vectors.values()}
    if len(counts) != 1 or counts.pop() > MAX_VECTORS:
        raise EmbeddingFileError(f"vectors of uneven or too great a length (at most {MAX_VECTORS})")
    return vectors  # type: ignore[return-value]


def load_embeddings(
    model: LoadedModel, files: list[AssetFile], widths: dict[str, int]
) -> tuple[dict[str, Embedding], list[Problem]]:
    """The embeddings among `files` that fit text encoders of these `widths` (by key), and a note
    for each that does not. Files are read once per model."""
    cache: dict[tuple[str, int, int], dict[str, torch.Tensor] | EmbeddingFileError]
    cache = model.derived.setdefault("embeddings", {})
    loaded: dict[str, Embedding] = {}
    notes: list[Problem] = []
    for file in files:
        try:
            stamp = file.stamp()
        except OSError as exc:
            notes.append(
                Problem(Note.EMBEDDING_SKIPPED, name=file.name, reason="unreadable", detail=str(exc))
            )
            continue
        if stamp not in cache:
            try:
                cache[stamp] = read_embedding(file)
            except EmbeddingFileError as exc:
                cache[stamp] = exc
        vectors = cache[stamp]
        if isinstance(vectors, EmbeddingFileError):
            notes.append(
                Problem(Note.EMBEDDING_SKIPPED, name=file.name, reason="unreadable", detail=str(vectors))
            )
            continue
        mismatch = _mismatch(vectors, widths)
        if mismatch:
            notes.append(_skipped(file, "arch", mismatch))
            continue
        loaded[file.name] = Embedding(file.name, file, {key: vectors[key] for key in widths})
    return loaded, notes


def _skipped(file: AssetFile, reason: str, detail: str) -> Problem:
    return Problem(Note.EMBEDDING_SKIPPED, name=file.name, reason=reason, detail=detail)


def _mismatch(vectors: dict[str, torch.Tensor], widths: dict[str, int]) -> str | None:
    have = {key: int(t.shape[1]) for key, t in vectors.items()}
    if set(widths) - set(have):
        kind = (
            "an SDXL embedding (clip_l/clip_g)" if set(have) == set(SDXL_KEYS) else "an SD 1.x/2.x embedding"
        )
        wanted = "SDXL's clip_l and clip_g vectors" if set(widths) == set(SDXL_KEYS) else "one set of vectors"
        return f"{kind}; this model needs {wanted}"
    wrong = [key for key, width in widths.items() if have[key] != width]
    if wrong:
        key = wrong[0]
        return f"vectors {have[key]} wide, the model's text encoder takes {widths[key]}"
    return None
