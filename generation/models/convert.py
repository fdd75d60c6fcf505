"""Export a diffusers SD1-style (or SDXL) pipeline as one `.safetensors` file in the original layout.

diffusers reads such files (`from_single_file`) but ships no writer. The layout written here is
the one CompVis/Stability checkpoints (and so AUTOMATIC1111, ComfyUI and diffusers' single-file
loader) use:

- UNet -> `model.diffusion_model.*` (`input_blocks` / `middle_block` / `output_blocks`)
- VAE -> `first_stage_model.*` (`encoder.down.N.block.M`, `decoder.up.N...`, 1x1-conv attention)
- CLIP text encoder -> `cond_stage_model.transformer.text_model.*`
- SDXL: `conditioner.embedders.0.transformer.text_model.*` and, for the second text encoder in the
  OpenCLIP layout, `conditioner.embedders.1.model.*` (SD 2.x's OpenCLIP layout is not written)

The mapping is derived from the model's own config (block count, layers per block, which blocks
have attention), so any block count works, tiny test models included. A key the mapping does not
cover raises `ValueError` rather than being dropped silently.

`save_config_skeleton` writes the matching weightless config folder (`model_index.json`,
component configs, the tokenizer's config but not its 1.5 MB vocabulary: the loader adds the
project's CLIP vocabulary), so `NAME.safetensors` + `NAME/` loads offline.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = "cond_stage_model.transformer."
XL_TEXT1_PREFIX = "conditioner.embedders.0.transformer."
XL_TEXT2_PREFIX = "conditioner.embedders.1.model."

RESNET_RENAMES = (
    ("norm1.", "in_layers.0."),
    ("conv1.", "in_layers.2."),
    ("time_emb_proj.", "emb_layers.1."),
    ("norm2.", "out_layers.0."),
    ("conv2.", "out_layers.3."),
    ("conv_shortcut.", "skip_connection."),
)
UNET_FIXED = {
    "conv_in.": "input_blocks.0.0.",
    "time_embedding.linear_1.": "time_embed.0.",
    "time_embedding.linear_2.": "time_embed.2.",
    "add_embedding.linear_1.": "label_emb.0.0.",
    "add_embedding.linear_2.": "label_emb.0.2.",
    "conv_norm_out.": "out.0.",
    "conv_out.": "out.2.",
}
VAE_ATTENTION_RENAMES = {
    "group_norm.": "norm.",
    "to_q.": "q.",
    "to_k.": "k.",
    "to_v.": "v.",
    "to_out.0.": "proj_out.",
}
TOKENIZER_VOCAB_FILES = ("vocab.json", "merges.txt", "tokenizer.json")


def _layers_per_block(config: Any) -> int:
    lpb = config["layers_per_block"]
    if isinstance(lpb, list | tuple):
        if len(set(lpb)) != 1:
            raise ValueError("the LDM layout needs the same layers_per_block in every block")
        lpb = lpb[0]
    return int(lpb)


def _rename_resnet(rest: str) -> str:
    for old, new in RESNET_RENAMES:
        if rest.startswith(old):
            return new + rest[len(old) :]
    raise ValueError(f"unexpected resnet parameter {rest!r}")


def unet_key_map(state_dict: dict[str, Any], config: Any) -> dict[str, str]:
    """diffusers UNet2DConditionModel key -> original LDM key (without `model.diffusion_model.`)."""
    lpb = _layers_per_block(config)
    n_down = len(config["down_block_types"])
    n_up = len(config["up_block_types"])
    resnets: dict[str, str] = {}  # diffusers prefix -> LDM prefix, resnet renames apply
    plain: dict[str, str] = dict(UNET_FIXED)  # diffusers prefix -> LDM prefix, as is
    for b in range(n_down):
        for layer in range(lpb):
            i = 1 + b * (lpb + 1) + layer
            resnets[f"down_blocks.{b}.resnets.{layer}."] = f"input_blocks.{i}.0."
            plain[f"down_blocks.{b}.attentions.{layer}."] = f"input_blocks.{i}.1."
        plain[f"down_blocks.{b}.downsamplers.0.conv."] = f"input_blocks.{1 + b * (lpb + 1) + lpb}.0.op."
    resnets["mid_block.resnets.0."] = "middle_block.0."
    plain["mid_block.attentions.0."] = "middle_block.1."
    resnets["mid_block.resnets.1."] = "middle_block.2."
    for b in range(n_up):
        has_attention = any(k.startswith(f"up_blocks.{b}.attentions.") for k in state_dict)
        for layer in range(lpb + 1):
            i = b * (lpb + 1) + layer
            resnets[f"up_blocks.{b}.resnets.{layer}."] = f"output_blocks.{i}.0."
            plain[f"up_blocks.{b}.attentions.{layer}."] = f"output_blocks.{i}.1."
        last = b * (lpb + 1) + lpb
        plain[f"up_blocks.{b}.upsamplers.0.conv."] = f"output_blocks.{last}.{2 if has_attention else 1}.conv."

    mapping = {}
    for key in state_dict:
        mapping[key] = _map_key(key, resnets, plain, "UNet")
    return mapping


def _map_key(key: str, resnets: dict[str, str], plain: dict[str, str], what: str) -> str:
    for prefix, target in resnets.items():
        if key.startswith(prefix):
            return target + _rename_resnet(key[len(prefix) :])
    for prefix, target in plain.items():
        if key.startswith(prefix):
            return target + key[len(prefix) :]
    raise ValueError(f"no LDM name for the {what} parameter {key!r}")


def vae_key_map(state_dict: dict[str, Any], config: Any) -> dict[str, str]:
    """diffusers AutoencoderKL key -> original LDM key (without `first_stage_model.`)."""
    n_down = len(config["down_block_types"])
    n_up = len(config["up_block_types"])
    plain = {
        "encoder.conv_in.": "encoder.conv_in.",
        "encoder.conv_out.": "encoder.conv_out.",
        "encoder.conv_norm_out.": "encoder.norm_out.",
        "decoder.conv_in.": "decoder.conv_in.",
        "decoder.conv_out.": "decoder.conv_out.",
        "decoder.conv_norm_out.": "decoder.norm_out.",
        "quant_conv.": "quant_conv.",
        "post_quant_conv.": "post_quant_conv.",
    }
    resnets = {}  # only conv_shortcut -> nin_shortcut differs inside a VAE resnet
    for i in range(n_down):
        resnets[f"encoder.down_blocks.{i}.resnets."] = f"encoder.down.{i}.block."
        plain[f"encoder.down_blocks.{i}.downsamplers.0.conv."] = f"encoder.down.{i}.downsample.conv."
    for i in range(n_up):
        j = n_up - 1 - i  # LDM numbers decoder levels from the lowest resolution up
        resnets[f"decoder.up_blocks.{i}.resnets."] = f"decoder.up.{j}.block."
        plain[f"decoder.up_blocks.{i}.upsamplers.0.conv."] = f"decoder.up.{j}.upsample.conv."
    for part in ("encoder", "decoder"):
        resnets[f"{part}.mid_block.resnets.0."] = f"{part}.mid.block_1."
        resnets[f"{part}.mid_block.resnets.1."] = f"{part}.mid.block_2."

    mapping = {}
    for key in state_dict:
        for part in ("encoder", "decoder"):
            prefix = f"{part}.mid_block.attentions.0."
            if key.startswith(prefix):
                rest = key[len(prefix) :]
                for old, new in VAE_ATTENTION_RENAMES.items():
                    if rest.startswith(old):
                        mapping[key] = f"{part}.mid.attn_1.{new}{rest[len(old) :]}"
                        break
                else:
                    raise ValueError(f"no LDM name for the VAE parameter {key!r}")
                break
        else:
            for prefix, target in resnets.items():
                if key.startswith(prefix):
                    mapping[key] = target + key[len(prefix) :].replace("conv_shortcut.", "nin_shortcut.")
                    break
            else:
                mapping[key] = _map_key(key, {}, plain, "VAE")
    return mapping


OPENCLIP_LAYER_RENAMES = (
    ("self_attn.out_proj.", "attn.out_proj."),
    ("layer_norm1.", "ln_1."),
    ("layer_norm2.", "ln_2."),
    ("mlp.fc1.", "mlp.c_fc."),
    ("mlp.fc2.", "mlp.c_proj."),
)


def _clip_ldm(text_encoder: Any, prefix: str) -> dict[str, Any]:
    """A transformers CLIP text model in the HF layout the LDM checkpoints embed (`text_model.*`)."""
    out = {}
    for key, tensor in text_encoder.state_dict().items():
        if key.endswith("position_ids"):
            continue
        name = key if key.startswith("text_model.") else "text_model." + key
        out[prefix + name] = tensor
    return out


def _openclip_ldm(text_encoder: Any, prefix: str) -> dict[str, Any]:
    """A CLIPTextModel(WithProjection) in the OpenCLIP layout (SDXL's second text encoder)."""
    state = {k.removeprefix("text_model."): v for k, v in text_encoder.state_dict().items()}
    out = {}
    for key, tensor in state.items():
        if key.endswith("position_ids"):
            continue
        if key == "embeddings.position_embedding.weight":
            out[prefix + "positional_embedding"] = tensor
        elif key == "embeddings.token_embedding.weight":
            out[prefix + "token_embedding.weight"] = tensor
        elif key.startswith("final_layer_norm."):
            out[prefix + "ln_final." + key.removeprefix("final_layer_norm.")] = tensor
        elif key == "text_projection.weight":
            out[prefix + "text_projection"] = tensor.T  # OpenCLIP multiplies x @ P
        elif key.startswith("encoder.layers."):
            index, rest = key.removeprefix("encoder.layers.").split(".", 1)
            block = f"{prefix}transformer.resblocks.{index}."
            if rest.startswith(("self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj.")):
                if rest.startswith("self_attn.q_proj."):  # q, k and v are one in_proj in OpenCLIP
                    kind = rest.rsplit(".", 1)[1]
                    parts = [state[f"encoder.layers.{index}.self_attn.{p}_proj.{kind}"] for p in "qkv"]
                    out[f"{block}attn.in_proj_{kind}"] = torch.cat(parts)
                continue
            for old, new in OPENCLIP_LAYER_RENAMES:
                if rest.startswith(old):
                    out[block + new + rest[len(old) :]] = tensor
                    break
            else:
                raise ValueError(f"no OpenCLIP name for the text encoder parameter {key!r}")
        else:
            raise ValueError(f"no OpenCLIP name for the text encoder parameter {key!r}")
    return out


def ldm_state_dict(pipe: Any) -> dict[str, Any]:
    """The pipeline's UNet, VAE and text encoder(s) weights under original LDM key names.

    SD1-style pipelines get `cond_stage_model.transformer.text_model.*`; SDXL-style ones (with a
    `text_encoder_2`) get `conditioner.embedders.0.transformer.*` and, in the OpenCLIP layout,
    `conditioner.embedders.1.model.*`. (SD 2.x's OpenCLIP `cond_stage_model.model.*` is not written.)
    """
    out: dict[str, Any] = {}

    unet_sd = pipe.unet.state_dict()
    for key, ldm in unet_key_map(unet_sd, pipe.unet.config).items():
        out[UNET_PREFIX + ldm] = unet_sd[key]

    vae_sd = pipe.vae.state_dict()
    for key, ldm in vae_key_map(vae_sd, pipe.vae.config).items():
        tensor = vae_sd[key]
        if ".mid.attn_1." in ldm and ldm.endswith(".weight") and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]  # LDM's attention projections are 1x1 convolutions
        out[VAE_PREFIX + ldm] = tensor

    if getattr(pipe, "text_encoder_2", None) is not None:
        out.update(_clip_ldm(pipe.text_encoder, XL_TEXT1_PREFIX))
        out.update(_openclip_ldm(pipe.text_encoder_2, XL_TEXT2_PREFIX))
    else:
        out.update(_clip_ldm(pipe.text_encoder, TEXT_PREFIX))
    return out


def save_ldm_single_file(
    pipe: Any,
    path: str | os.PathLike[str],
    *,
    dtype: torch.dtype | None = None,
    config_folder: bool | str | os.PathLike[str] = False,
) -> Path:
    """Write `pipe` (an SD1-style or SDXL diffusers pipeline) as one LDM-layout `.safetensors` file.

    `dtype` casts floating-point weights (e.g. `torch.float16`). `config_folder=True` also writes
    the weightless config skeleton beside it under the same stem (`NAME/`), or give a folder path.
    Returns the file's path.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path.name}: the single file must end in .safetensors")
    tensors = {}
    for key, tensor in ldm_state_dict(pipe).items():
        tensor = tensor.detach().to("cpu")
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        tensors[key] = tensor.contiguous().clone()  # no shared storage: safetensors refuses it
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".safetensors.tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"format": "pt"})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if config_folder:
        folder = path.with_suffix("") if config_folder is True else Path(config_folder)
        save_config_skeleton(pipe, folder)
    return path


def save_config_skeleton(pipe: Any, folder: str | os.PathLike[str]) -> Path:
    """Write the pipeline's configs without weights: what `from_single_file(config=...)` needs.

    The tokenizer folders get their small config files only; the loader supplies the project's
    CLIP `vocab.json`/`merges.txt` when a skeleton lacks them.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_config(folder)  # model_index.json
    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        component = getattr(pipe, name, None)
        if component is None:
            continue
        sub = folder / name
        sub.mkdir(exist_ok=True)
        if hasattr(component, "save_config") and hasattr(component, "config_name"):
            component.save_config(sub)  # diffusers models and schedulers
        elif hasattr(component, "save_vocabulary"):  # a tokenizer
            with tempfile.TemporaryDirectory() as tmp:
                component.save_pretrained(tmp)
                for file in Path(tmp).iterdir():
                    if file.name not in TOKENIZER_VOCAB_FILES and file.is_file():
                        (sub / file.name).write_bytes(file.read_bytes())
        elif hasattr(component, "config") and hasattr(component.config, "to_json_file"):
            component.config.to_json_file(sub / "config.json")  # transformers models
    return folder
