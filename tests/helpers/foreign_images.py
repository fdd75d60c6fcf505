"""PNGs as other tools write them, built from their documented layouts (no file is copied in).

- AUTOMATIC1111's web UI: a `parameters` text chunk (prompt, `Negative prompt:`, then the
  `Key: value` line), here in the newer form with a separate `Schedule type`.
- ComfyUI: `prompt` (the API-format graph: node id -> class_type and inputs, links as
  [node id, output slot]) and `workflow` (the editor's graph, whose `links` are
  [id, from node, from slot, to node, to slot, type]) JSON chunks; the default text-to-image graph.
- InvokeAI 3: `invokeai_metadata`, a JSON object of the generation's core metadata.
- NovelAI: `Title`, `Description` (the prompt), `Software`, `Source` (model name and hash) and
  `Comment` (a JSON object of the settings, `uc` being the negative prompt).

Each image is 64x48, so a reader that falls back on the image's size is caught.
"""

from __future__ import annotations

import io
import json

from PIL import Image, PngImagePlugin

A1111_PARAMETERS = (
    "masterpiece, (red hair:1.2), a girl in a garden\n"
    "Negative prompt: EasyNegative, lowres\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, Version: v1.10.1"
)

COMFY_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "denoise": 1,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "SDXL/sd_xl_base_1.0.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "beautiful scenery, a glass bottle with a purple galaxy inside", "clip": ["4", 1]},
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
COMFY_LINKS = [
    [1, 4, 0, 3, 0, "MODEL"],
    [2, 5, 0, 3, 3, "LATENT"],
    [3, 4, 1, 6, 0, "CLIP"],
    [4, 6, 0, 3, 1, "CONDITIONING"],
    [5, 4, 1, 7, 0, "CLIP"],
    [6, 7, 0, 3, 2, "CONDITIONING"],
    [7, 3, 0, 8, 0, "LATENT"],
    [8, 4, 2, 8, 1, "VAE"],
    [9, 8, 0, 9, 0, "IMAGE"],
]
COMFY_WORKFLOW = {
    "last_node_id": 9,
    "last_link_id": 9,
    "nodes": [
        {"id": int(node_id), "type": node["class_type"], "widgets_values": []}
        for node_id, node in COMFY_PROMPT.items()
    ],
    "links": COMFY_LINKS,
    "groups": [],
    "config": {},
    "extra": {},
    "version": 0.4,
}

INVOKEAI_METADATA = {
    "generation_mode": "txt2img",
    "positive_prompt": "a cozy cabin in the snow, warm light",
    "negative_prompt": "blurry",
    "width": 768,
    "height": 512,
    "seed": 3405691582,
    "rand_device": "cpu",
    "cfg_scale": 7.5,
    "cfg_rescale_multiplier": 0,
    "steps": 30,
    "scheduler": "dpmpp_2m_k",
    "clip_skip": 0,
    "model": {"model_name": "stable-diffusion-v1-5", "base_model": "sd-1", "model_type": "main"},
    "app_version": "3.7.0",
}

NOVELAI_COMMENT = {
    "prompt": "1girl, masterpiece, night sky",
    "steps": 28,
    "height": 1216,
    "width": 832,
    "scale": 5.0,
    "uncond_scale": 1.0,
    "cfg_rescale": 0.0,
    "seed": 2851843542,
    "n_samples": 1,
    "noise_schedule": "native",
    "sampler": "k_euler_ancestral",
    "sm": False,
    "sm_dyn": False,
    "uc": "lowres, bad anatomy",
    "request_type": "PromptGenerateRequest",
}


def png(texts: dict[str, str], size: tuple[int, int] = (64, 48)) -> bytes:
    """A small PNG with these text chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def a1111_png() -> bytes:
    return png({"parameters": A1111_PARAMETERS})


def comfyui_png() -> bytes:
    return png({"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)})


def invokeai_png() -> bytes:
    return png({"invokeai_metadata": json.dumps(INVOKEAI_METADATA)})


def novelai_png() -> bytes:
    return png(
        {
            "Title": "AI generated image",
            "Description": NOVELAI_COMMENT["prompt"],
            "Software": "NovelAI",
            "Source": "Stable Diffusion XL C1E1DE52",
            "Generation time": "4.5",
            "Comment": json.dumps(NOVELAI_COMMENT),
        }
    )


FOREIGN_PNGS = {
    "AUTOMATIC1111": a1111_png,
    "ComfyUI": comfyui_png,
    "InvokeAI": invokeai_png,
    "NovelAI": novelai_png,
}
