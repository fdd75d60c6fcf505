"""How many images one UNet pass carries: the GPU batch, apart from any one job's image count.

Several users' compatible jobs share a pass (the fair queue fills it). On a GPU the limit that
matters is memory and the point of diminishing returns, both of which grow with pixels, so the
pass is sized by pixels: `models.batch_pixels` in all (8 images at 512x512 by default, 2 at
1024x1024), and never more than `queue.batch_size` images. Pure and torch-free.
"""

from __future__ import annotations

from generation.settings import Settings


def images_per_pass(settings: Settings, width: int, height: int) -> int:
    """The most images one pipeline call at `width` x `height` should carry (at least 1: a job's
    own images always go together, even when they alone exceed the pixels)."""
    most = settings.queue.batch_size
    budget = settings.models.batch_pixels
    if budget > 0:
        most = min(most, budget // max(1, width * height))
    return max(1, most)
