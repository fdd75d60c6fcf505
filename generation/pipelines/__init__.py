"""Pipelines: running requests on a loaded model. Every module here may import torch and diffusers.

engine (generate: the numbered steps), batch (a call's images, flattened), noise (seeds, CPU
generators, slerp), schedulers (a sampler's diffusers scheduler), patches (tiling, per-image UNet,
VAE modes), callbacks (progress and cancel per step), previews (latents -> small RGB images),
sources (source images), upscalers (ESRGAN via spandrel, Lanczos), acceleration (the GPU fast
paths applied at load: attention, channels_last, TF32, torch.compile behind batch buckets).
"""
