"""Inpainting on the loaded checkpoint, and the plan of one repainted picture.

A dedicated inpainting checkpoint (a UNet with 9 input channels: latents, mask, masked picture)
is its own pipeline and repaints natively. Any other checkpoint repaints through diffusers'
inpaint pipeline built from its components (sharing the weights, like the img2img pipeline):
after every step the latents outside the mask are replaced by the original's, noised to that
step, so only the masked part is generated, in keeping with what surrounds it.

A `RegionPlan` says what one request's pass generates and how its result goes back:

- whole picture: the source fitted to the request's size, generated at that size;
- only masked (the web UI's "Inpaint area: Only masked"): the box around the mask plus
  `padding`, scaled up to about the model's native area (never down), generated, scaled back;
- either way the result is pasted over the original through the feathered mask (`mask_blur`),
  so pixels outside it are the original's, exactly.

The mask the pipeline sees is the feathered one grown to whole latent cells, so everything the
paste blends in was generated in keeping with its surroundings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from diffusers import AutoPipelineForInpainting
from PIL import Image

from generation.images.masks import as_mask, feather, latent_mask, mask_box
from generation.models.loaded import LoadedModel
from generation.pipelines.schedulers import base_scheduler_config
from generation.pipelines.sources import LANCZOS, fit_image
from generation.requests.request import Edit, GenerationRequest
from generation.requests.sizes import round_to_8

INPAINT_CHANNELS = 9  # latents (4) + mask (1) + masked picture's latents (4)
SHARED = ("unet", "vae", "text_encoder", "text_encoder_2")


def is_inpainting_model(model: LoadedModel) -> bool:
    """Whether the checkpoint is a dedicated inpainting one (its UNet takes the mask as input)."""
    return int(model.pipe.unet.config.in_channels) == INPAINT_CHANNELS


def inpaint_pipeline(model: LoadedModel) -> Any:
    """The model's inpaint pipeline: its own pipe for an inpainting checkpoint, else one built from
    its components (SD or SDXL), sharing the weights; kept with the model."""
    pipe = model.pipe
    if is_inpainting_model(model):
        return pipe
    derived = model.derived.get("inpaint")
    if derived is None or any(getattr(derived, k, None) is not getattr(pipe, k, None) for k in SHARED):
        base_scheduler_config(model)  # remembered before from_pipe copies the scheduler
        derived = AutoPipelineForInpainting.from_pipe(pipe)
        bar = getattr(pipe, "_progress_bar_config", None)
        if bar is not None:
            derived.set_progress_bar_config(**bar)
        model.derived["inpaint"] = derived
    return derived


def native_size(model: LoadedModel) -> int:
    """The side the model was made for (its UNet's sample size times the VAE's downscale)."""
    pipe = model.pipe
    return int(pipe.unet.config.sample_size) * int(getattr(pipe, "vae_scale_factor", 8))


def full_masks(size: tuple[int, int], count: int) -> list[Image.Image]:
    """All-white masks: how an inpainting checkpoint runs text-to-image and img2img (as the web UI
    does), repainting everything."""
    return [Image.new("L", size, 255) for _ in range(count)]


def blank_images(size: tuple[int, int], count: int) -> list[Image.Image]:
    """Mid-grey pictures for an inpainting checkpoint's text-to-image (fully masked: never seen)."""
    return [Image.new("RGB", size, (127, 127, 127)) for _ in range(count)]


# -- the plan of one picture ---------------------------------------------------------------------


@dataclass
class RegionPlan:
    """One request's repaint: `picture` is the original at the result's size, `soft` its feathered
    mask (the paste's weights), `box` the part generated, at `size`."""

    picture: Image.Image
    soft: Image.Image
    box: tuple[int, int, int, int]
    size: tuple[int, int]
    new: Image.Image | None = None  # where the picture has no pixels (outpaint): the fill's noise goes there
    noise: float = 0.0  # standard deviation (of 255) of the noise added to the fill, per image seed

    def inputs(self, seed: int = 0) -> tuple[Image.Image, Image.Image]:
        """The pass's start picture and its mask (hard, in whole latent cells), at `size`; an
        outpaint's fill gets noise drawn from the image's `seed`."""
        start = self.picture
        if self.noise > 0 and self.new is not None:
            start = with_noise(start, self.new, self.noise, seed)
        start = start.crop(self.box)
        hard = self.soft.crop(self.box).point(lambda v: 255 if v > 0 else 0)
        if start.size != self.size:
            start = start.resize(self.size, LANCZOS)
            hard = hard.resize(self.size, Image.Resampling.BILINEAR).point(lambda v: 255 if v > 0 else 0)
        return start, latent_mask(hard)

    def paste(self, generated: Image.Image) -> Image.Image:
        """The generated part over the original, through the feathered mask."""
        width, height = self.box[2] - self.box[0], self.box[3] - self.box[1]
        if generated.size != (width, height):
            generated = generated.resize((width, height), LANCZOS)
        layer = self.picture.copy()
        layer.paste(generated, self.box[:2])
        return Image.composite(layer, self.picture, self.soft)


def plan_inpaint(
    request: GenerationRequest, source: Image.Image, mask: Image.Image, native: int
) -> RegionPlan:
    """The plan of an inpaint: the source and its mask fitted to the request's size; the whole
    picture, or only the mask's box, generated (see the module)."""
    edit = request.edit or Edit()
    size = (request.width, request.height)
    picture = fit_image(source, *size)
    soft = feather(as_mask(mask, size), edit.mask_blur)
    whole = (0, 0, *size)
    if not edit.only_masked:
        return RegionPlan(picture, soft, whole, size)
    box = mask_box(soft, edit.padding) or whole
    return RegionPlan(picture, soft, box, only_masked_size(box, native))


def only_masked_size(box: tuple[int, int, int, int], native: int) -> tuple[int, int]:
    """The size an "only masked" box is generated at: scaled up to about the model's native area
    (a small region gets the model's full resolution), never down, sides multiples of 8."""
    width, height = box[2] - box[0], box[3] - box[1]
    scale = max(1.0, math.sqrt(native * native / (width * height)))
    return round_to_8(width * scale), round_to_8(height * scale)


def with_noise(image: Image.Image, where: Image.Image, sigma: float, seed: int) -> Image.Image:
    """Gaussian noise of `sigma` (of 255) added where `where` is white, drawn from `seed`."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float32)
    noise = rng.normal(0.0, sigma, pixels.shape).astype(np.float32)
    weight = (np.asarray(where.convert("L"), dtype=np.float32) / 255.0)[..., None]
    return Image.fromarray(np.clip(pixels + noise * weight + 0.5, 0, 255).astype(np.uint8), "RGB")
