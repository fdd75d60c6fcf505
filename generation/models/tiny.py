"""A tiny Stable-Diffusion-1.x-shaped model with random weights, built in about a second.

Tests, benchmarks and the command line (when no real model is present) use it: it has every part
a real checkpoint has (CLIP tokenizer and text encoder, UNet with cross-attention, KL VAE with an
8x downscale, a scheduler), so it runs through exactly the same loading and pipeline code.
It draws noise, not pictures.

`tiny_lora` and `tiny_embedding` make add-on files for it (or for any SD-shaped pipeline) the
way they are distributed: a LoRA in kohya's key layout (or diffusers'), an embedding in the web
UI's `.safetensors` layout, so tests and benchmarks exercise the real loading paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

TOKENIZER_DIR = Path(__file__).resolve().parent.parent / "configs" / "tokenizer"

SD_SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "timestep_spacing": "leading",
    "steps_offset": 1,
}


def load_clip_tokenizer(pad_token: str = "<|endoftext|>") -> CLIPTokenizer:
    """The real CLIP BPE tokenizer, from the files the project carries."""
    return CLIPTokenizer(
        str(TOKENIZER_DIR / "vocab.json"),
        str(TOKENIZER_DIR / "merges.txt"),
        model_max_length=77,
        pad_token=pad_token,
    )


def tiny_vae() -> AutoencoderKL:
    """A KL autoencoder with SD's 8x downscale and 4 latent channels, a few thousand weights."""
    return AutoencoderKL(
        block_out_channels=(8, 16, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=64,
    )


def tiny_text_config(hidden_size: int = 32, **overrides) -> CLIPTextConfig:
    """A two-layer CLIP text encoder config over the real CLIP vocabulary."""
    config = {
        "vocab_size": 49408,
        "hidden_size": hidden_size,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "pad_token_id": 49407,
        "projection_dim": hidden_size,
    }
    return CLIPTextConfig(**(config | overrides))


def tiny_unet(cross_attention_dim: int = 32, **extra) -> UNet2DConditionModel:
    """A two-level UNet with cross-attention in its lower level; `extra` adds e.g. SDXL's
    `addition_embed_type`."""
    return UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
        **extra,
    )


def build_tiny_pipeline(seed: int = 0, cross_attention_dim: int = 32) -> StableDiffusionPipeline:
    """A `StableDiffusionPipeline` with tiny random weights (deterministic for a given seed)."""
    torch.manual_seed(seed)
    unet = tiny_unet(cross_attention_dim)
    vae = tiny_vae()
    text_encoder = CLIPTextModel(tiny_text_config(cross_attention_dim))
    return StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=load_clip_tokenizer(),
        unet=unet.eval(),
        scheduler=EulerDiscreteScheduler(**SD_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_tiny_inpaint_pipeline(
    seed: int = 0, cross_attention_dim: int = 32
) -> StableDiffusionInpaintPipeline:
    """A tiny inpainting checkpoint: the tiny model's parts with a 9-channel UNet (latents, mask,
    masked picture), as a `StableDiffusionInpaintPipeline`."""
    torch.manual_seed(seed)
    return StableDiffusionInpaintPipeline(
        vae=tiny_vae().eval(),
        text_encoder=CLIPTextModel(tiny_text_config(cross_attention_dim)).eval(),
        tokenizer=load_clip_tokenizer(),
        unet=tiny_unet(cross_attention_dim, in_channels=9).eval(),
        scheduler=EulerDiscreteScheduler(**SD_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Write the tiny model as a diffusers folder (safetensors weights) and return its path."""
    folder = Path(folder)
    build_tiny_pipeline(seed).save_pretrained(folder, safe_serialization=True)
    return folder


def tiny_lora(
    pipe: Any,
    seed: int = 0,
    *,
    rank: int = 4,
    strength: float = 0.3,
    layout: str = "kohya",
    text: bool = True,
) -> dict[str, torch.Tensor]:
    """A random LoRA for every attention and MLP linear layer of the pipeline's UNet (and text
    encoders), as a state dict in `layout` "kohya" (`lora_unet_*.lora_down.weight`, `.alpha`;
    `lora_te_` or SDXL's `lora_te1_`/`lora_te2_`) or "diffusers" (`unet.*.lora_A.weight`). Both
    layouts of one seed hold the same weights (alpha = rank: a scale of 1)."""
    generator = torch.Generator().manual_seed(seed)
    xl = getattr(pipe, "text_encoder_2", None) is not None
    parts = [(pipe.unet, "lora_unet_", "unet.")]
    if text:
        parts.append((pipe.text_encoder, "lora_te1_" if xl else "lora_te_", "text_encoder."))
        if xl:
            parts.append((pipe.text_encoder_2.text_model, "lora_te2_", "text_encoder_2."))
    state: dict[str, torch.Tensor] = {}
    for module, kohya, diffusers in parts:
        text_part = kohya.startswith("lora_te")
        for name, layer in module.named_modules():
            if not isinstance(layer, torch.nn.Linear) or not any(k in name for k in ("attn", "mlp", "ff")):
                continue
            down = torch.randn(rank, layer.in_features, generator=generator) * strength
            up = torch.randn(layer.out_features, rank, generator=generator) * strength
            if layout == "kohya":
                key = kohya + ("text_model_" if text_part else "") + name.replace(".", "_")
                state |= {f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up}
                state[f"{key}.alpha"] = torch.tensor(float(rank))
            else:
                key = diffusers + ("text_model." if text_part else "") + name
                state |= {f"{key}.lora_A.weight": down, f"{key}.lora_B.weight": up}
    return state


def tiny_embedding(
    pipe: Any, vectors: int = 2, seed: int = 0, *, scale: float = 1.0
) -> dict[str, torch.Tensor]:
    """A random textual-inversion embedding for the pipeline's text encoder(s): `emb_params` for
    SD 1.x/2.x, `clip_l` and `clip_g` for SDXL (the formats civitai ships)."""
    generator = torch.Generator().manual_seed(seed)

    def vectors_for(encoder: Any) -> torch.Tensor:
        width = encoder.get_input_embeddings().weight.shape[1]
        return torch.randn(vectors, width, generator=generator) * scale

    if getattr(pipe, "text_encoder_2", None) is not None:
        return {"clip_l": vectors_for(pipe.text_encoder), "clip_g": vectors_for(pipe.text_encoder_2)}
    return {"emb_params": vectors_for(pipe.text_encoder)}


def build_tiny_sdxl_pipeline(seed: int = 0) -> StableDiffusionXLPipeline:
    """A tiny random SDXL-shaped pipeline: two text encoders and text_time conditioning, 64 px
    images (benchmarks' CPU smoke runs go through SDXL's code paths with it)."""
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64,
        attention_head_dim=(2, 4),
        norm_num_groups=8,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=8 * 6 + 32,
    )
    config = tiny_text_config(32, intermediate_size=37)
    return StableDiffusionXLPipeline(
        vae=tiny_vae().eval(),
        text_encoder=CLIPTextModel(config).eval(),
        text_encoder_2=CLIPTextModelWithProjection(config).eval(),
        tokenizer=load_clip_tokenizer(),
        tokenizer_2=load_clip_tokenizer(pad_token="!"),
        unet=unet.eval(),
        scheduler=EulerDiscreteScheduler(**SD_SCHEDULER),
        add_watermarker=False,
    )
