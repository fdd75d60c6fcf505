"""Rebuild the CLIP tokenizer files the project carries in generation/configs/tokenizer/.

The files derive from CLIP's BPE merges list (`bpe_simple_vocab_16e6.txt.gz`, shipped inside
the `open_clip_torch` wheel). Fetch the wheel without installing it (it pulls in torchvision):

    pip download --no-deps -d /tmp/oc open_clip_torch
    unzip -o /tmp/oc/open_clip_torch-*.whl open_clip/bpe_simple_vocab_16e6.txt.gz -d /tmp/oc
    python scripts/build_clip_tokenizer.py /tmp/oc/open_clip/bpe_simple_vocab_16e6.txt.gz
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "generation" / "configs" / "tokenizer"
MERGE_LINES = 48894  # lines 1..48894 of the file are the merges CLIP uses (line 0 is a header)


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable character table (the same as GPT-2's)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def build(merges_gz: Path) -> None:
    with gzip.open(merges_gz, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : MERGE_LINES + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (OUT / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {OUT}")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
