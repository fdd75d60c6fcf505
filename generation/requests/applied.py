"""What a generation applied from a request's add-ons, and what it left out and why. Torch-free.

The pipelines return one `Applied` per request (`generation.pipelines.engine.generate_result`);
the image metadata records it in the web UI's keys (`Clip skip`, `Lora hashes`, `TI hashes`,
`VAE`, `VAE hash`), and front ends show it: each `note` is a `Problem` whose code says what was
ignored (`Note`) and whose fields say which and why. It travels as `to_dict()` / `from_dict()`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.problems import Problem

__all__ = ["Applied", "EmbeddingUse", "LoraUse", "Note", "VaeUse", "combined"]


class Note(enum.StrEnum):
    """Something a request asked for that was not applied (the image was still made)."""

    LORA_IN_NEGATIVE = "note.lora_in_negative"  # name: LoRA tags only work in the prompt
    OTHER_NETWORK = "note.other_network"  # kind, name: e.g. <hypernet:...>, not supported
    EMBEDDING_SKIPPED = "note.embedding_skipped"  # name, reason ("arch" | "unreadable"), detail
    CLIP_SKIP_IGNORED = "note.clip_skip_ignored"  # clip_skip, arch: only SD 1.x uses clip skip


@dataclass(frozen=True)
class LoraUse:
    name: str  # as the prompt names it
    file: str  # its file name
    te_weight: float
    unet_weight: float
    hash: str | None  # the web UI's 12-digit LoRA hash


@dataclass(frozen=True)
class EmbeddingUse:
    name: str
    file: str
    hash: str | None  # the web UI's 12-digit embedding hash
    vectors: int  # tokens it stands for


@dataclass(frozen=True)
class VaeUse:
    name: str  # its file name, as the web UI's infotext writes it
    hash: str | None  # the web UI's 10-digit VAE hash
    source: str  # "request" | "config" | "automatic"


@dataclass(frozen=True)
class Applied:
    loras: tuple[LoraUse, ...] = ()
    embeddings: tuple[EmbeddingUse, ...] = ()
    vae: VaeUse | None = None  # None: the checkpoint's own VAE
    clip_skip: int = 1  # what the prompt was encoded with (1 where clip skip does not apply)
    prompt_chunks: int = 1  # 75-token chunks the prompt was encoded in
    negative_chunks: int = 1
    notes: tuple[Problem, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "loras": [dataclasses.asdict(use) for use in self.loras],
            "embeddings": [dataclasses.asdict(use) for use in self.embeddings],
            "vae": None if self.vae is None else dataclasses.asdict(self.vae),
            "clip_skip": self.clip_skip,
            "prompt_chunks": self.prompt_chunks,
            "negative_chunks": self.negative_chunks,
            "notes": [note.to_dict() for note in self.notes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Applied:
        vae = data.get("vae")
        return cls(
            loras=tuple(LoraUse(**use) for use in data.get("loras", ())),
            embeddings=tuple(EmbeddingUse(**use) for use in data.get("embeddings", ())),
            vae=None if vae is None else VaeUse(**vae),
            clip_skip=int(data.get("clip_skip", 1)),
            prompt_chunks=int(data.get("prompt_chunks", 1)),
            negative_chunks=int(data.get("negative_chunks", 1)),
            notes=tuple(Problem.from_dict(note) for note in data.get("notes", ())),
        )


def combined(applied: Sequence[Applied]) -> Applied | None:
    """One `Applied` for a job from its images' (None for none): the images' own when they agree,
    else everything any image used and every note, each once (variants that drew other LoRA tags
    for some images; each image's infotext keeps its own)."""
    if not applied:
        return None
    first = applied[0]
    if all(other == first for other in applied[1:]):
        return first

    def each(items: list[Any]) -> tuple[Any, ...]:
        return tuple(dict.fromkeys(items))

    return Applied(
        loras=each([use for a in applied for use in a.loras]),
        embeddings=each([use for a in applied for use in a.embeddings]),
        vae=first.vae,  # one per job: the VAE is not part of a variant
        clip_skip=first.clip_skip,
        prompt_chunks=max(a.prompt_chunks for a in applied),
        negative_chunks=max(a.negative_chunks for a in applied),
        notes=each([note for a in applied for note in a.notes]),
    )
