"""Write the single-file copy of the shapes model, in the original LDM key layout.

    python -m training.export --models models

Reads the diffusers folder `models/shapes`, writes `models/shapes-ldm.safetensors` (same fp16
weights, original Stable Diffusion key names) and the weightless skeleton folder
`models/shapes-ldm/` beside it (configs and tokenizer only), from which loaders take the
configuration offline. Re-runnable.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

SKELETON_FILES = (
    "model_index.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "unet/config.json",
    "vae/config.json",
)


def write_skeleton(folder: Path, skeleton: Path) -> None:
    if skeleton.exists():
        shutil.rmtree(skeleton)
    for rel in SKELETON_FILES:
        (skeleton / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / rel, skeleton / rel)
    shutil.copytree(folder / "tokenizer", skeleton / "tokenizer")


def export(folder: Path, target: Path) -> Path:
    import torch
    from diffusers import StableDiffusionPipeline

    from generation.models.convert import save_ldm_single_file

    pipe = StableDiffusionPipeline.from_pretrained(
        str(folder), dtype=torch.float16, local_files_only=True, safety_checker=None
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    save_ldm_single_file(pipe, target, dtype=torch.float16)
    # configs plus the full tokenizer, so that plain diffusers `from_single_file(config=...)` works too
    write_skeleton(folder, target.with_suffix(""))
    return target


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=Path("models"))
    ap.add_argument("--name", default="shapes")
    args = ap.parse_args(argv)
    target = export(args.models / args.name, args.models / f"{args.name}-ldm.safetensors")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and {target.with_suffix('')}/")


if __name__ == "__main__":
    main()
