"""What a prompt names besides words: `<lora:...>` tags and textual-inversion names. Torch-free.

Extra-network tags are the web UI's: `<TYPE:ARGS>`, ARGS split at `:`.

    <lora:detailed_eyes>            weight 1 (text encoder and UNet)
    <lora:detailed_eyes:0.7>        weight 0.7 for both
    <lora:detailed_eyes:0.7:0.3>    text encoder 0.7, UNet 0.3 (also `te=0.7`, `unet=0.3`)
    <lyco:name:0.5>                 LyCORIS files use the same tag (an alias of lora)

Every tag is taken out of the text that is encoded, whatever its type (the web UI does the same);
tags of other types (`<hypernet:...>`) are recognised and not applied. A tag that names the same
LoRA twice adds its weights. A weight that is not a number makes the tag `malformed`: validation
refuses it (`request.bad_lora_tag`).

Textual-inversion embeddings are used by writing their name anywhere in the prompt or negative
prompt (the web UI's convention): `name_spans` finds them as whole words, case-insensitively, the
longest name first where names overlap.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "LORA_TYPES",
    "LoraTag",
    "NetworkTag",
    "extract_networks",
    "find_names",
    "lora_tags",
    "name_spans",
]

LORA_TYPES = ("lora", "lyco")
DEFAULT_WEIGHT = 1.0
_TAG = re.compile(r"<(\w+):([^>]+)>")


@dataclass(frozen=True)
class NetworkTag:
    """One `<type:name:...>` tag as written in the prompt."""

    kind: str  # "lora" (also for "lyco"), or the other type as written, lower case
    name: str
    te_weight: float
    unet_weight: float
    text: str  # the tag as written
    malformed: str | None = None  # what is wrong ("name", "weight"), or None

    @property
    def is_lora(self) -> bool:
        return self.kind == "lora"


@dataclass(frozen=True)
class LoraTag:
    """A LoRA a request applies, with its two weights (tags of the same name added up)."""

    name: str
    te_weight: float = DEFAULT_WEIGHT
    unet_weight: float = DEFAULT_WEIGHT


def _weight(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _tag(kind: str, args: str, text: str) -> NetworkTag:
    items = [item.strip() for item in args.split(":")]
    positional = [item for item in items if "=" not in item]
    named = {k.strip().lower(): v.strip() for k, _, v in (i.partition("=") for i in items if "=" in i)}
    name = positional[0] if positional else ""
    kind = "lora" if kind.lower() in LORA_TYPES else kind.lower()
    malformed = None if name else "name"
    te_text = named.get("te", positional[1] if len(positional) > 1 else None)
    te = DEFAULT_WEIGHT if te_text is None else _weight(te_text)
    unet_text = named.get("unet", positional[2] if len(positional) > 2 else None)
    unet = te if unet_text is None else _weight(unet_text)
    if te is None or unet is None:
        malformed = malformed or "weight"
    te = DEFAULT_WEIGHT if te is None else te
    return NetworkTag(kind, name, te, te if unet is None else unet, text, malformed)


def extract_networks(text: str) -> tuple[str, list[NetworkTag]]:
    """The text without its `<type:...>` tags, and the tags in order of appearance."""
    tags: list[NetworkTag] = []

    def take(match: re.Match[str]) -> str:
        tags.append(_tag(match.group(1), match.group(2), match.group(0)))
        return ""

    return _TAG.sub(take, text), tags


def lora_tags(text: str) -> tuple[LoraTag, ...]:
    """The LoRAs a prompt applies, one per name (weights of repeated tags added), sorted by name;
    malformed tags are left out (validation reports them)."""
    weights: dict[str, list[float]] = {}
    for tag in extract_networks(text)[1]:
        if tag.is_lora and tag.malformed is None:
            total = weights.setdefault(tag.name, [0.0, 0.0])
            total[0] += tag.te_weight
            total[1] += tag.unet_weight
    return tuple(LoraTag(name, te, unet) for name, (te, unet) in sorted(weights.items()))


@functools.lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    usable = sorted({n for n in names if n.strip()}, key=lambda n: (-len(n), n))
    if not usable:
        return None
    alternatives = "|".join(re.escape(name) for name in usable)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def name_spans(text: str, names: Iterable[str]) -> list[tuple[int, int, str]]:
    """Where the names occur in the text as whole words (case-insensitive), as (start, end, name)
    with the name as given; longest first where names overlap, never overlapping."""
    names = tuple(names)
    pattern = _names_pattern(names)
    if pattern is None:
        return []
    by_folded: dict[str, str] = {}
    for name in names:
        by_folded.setdefault(name.casefold(), name)
    return [
        (m.start(), m.end(), by_folded.get(m.group(0).casefold(), m.group(0))) for m in pattern.finditer(text)
    ]


def find_names(text: str, names: Iterable[str]) -> list[str]:
    """The names that occur in the text (see `name_spans`), each once, in order of first use."""
    return list(dict.fromkeys(name for _, _, name in name_spans(text, names)))
