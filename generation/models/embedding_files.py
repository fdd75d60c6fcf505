"""The embeddings and LoRAs there are, with what each is for, for listings (`/model embeddings`,
a `lora` autocomplete). Torch-free: `.safetensors` headers are read without their tensors; a
`.pt`/`.bin` embedding (a pickle) is listed with what it is for unknown, as reading it needs torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from .arch import Arch
from .assets import AssetFile, AssetLibrary
from .headers import HeaderError, read_header
from .lora_files import LoraInfo, lora_info

__all__ = ["EmbeddingInfo", "embedding_info", "list_embeddings", "list_loras"]

_WIDTH_ARCH = {768: Arch.SD1, 1024: Arch.SD2}


@dataclass(frozen=True)
class EmbeddingInfo:
    file: AssetFile
    arch: Arch | None  # None: not known without loading it (a pickle), or an unusual width
    vectors: int | None  # tokens it stands for
    width: int | None  # its vectors' width (SDXL: clip_l's)

    @property
    def name(self) -> str:
        return self.file.name


def embedding_info(file: AssetFile) -> EmbeddingInfo:
    """What an embedding file is for, from its header (a pickle: unknown)."""
    if file.path.suffix.lower() != ".safetensors":
        return EmbeddingInfo(file, None, None, None)
    try:
        shapes = read_header(file.path).shapes
    except HeaderError:
        return EmbeddingInfo(file, None, None, None)
    if "clip_l" in shapes and "clip_g" in shapes:
        shape = shapes["clip_l"]
        return EmbeddingInfo(file, Arch.SDXL, shape[0] if len(shape) > 1 else 1, shape[-1])
    shape = shapes.get("emb_params") or (next(iter(shapes.values())) if len(shapes) == 1 else None)
    if not shape:
        return EmbeddingInfo(file, None, None, None)
    return EmbeddingInfo(file, _WIDTH_ARCH.get(shape[-1]), shape[0] if len(shape) > 1 else 1, shape[-1])


def list_embeddings(library: AssetLibrary) -> list[EmbeddingInfo]:
    """Every embedding in the folder, by name, with what it is for."""
    return [embedding_info(file) for file in library.embeddings()]


def list_loras(library: AssetLibrary) -> list[tuple[AssetFile, LoraInfo | None]]:
    """Every LoRA in the folder, by name, with what its header says (None: unreadable)."""
    listed = []
    for file in library.loras():
        try:
            listed.append((file, lora_info(file.path)))
        except HeaderError:
            listed.append((file, None))
    return listed
