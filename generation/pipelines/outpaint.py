"""Outpainting for Zoom Out and Pan: extend the canvas, then inpaint the new area.

1. the canvas: the request's size (`generation.requests.canvas` sized it), the source placed on
   it as `place_source` says (its own pixels, or scaled down when the canvas was);
2. the fill: the new area continues the source's edge colours (`fill_from_edges`), plus noise
   drawn from each image's seed, so the pass starts from something like the picture rather than
   flat grey;
3. the mask: the new area and a seam `2 * mask_blur` pixels into the source along the sides that
   face new canvas, feathered by `mask_blur`, so the join is repainted and blended;
4. the pass inpaints the whole canvas with the request's prompt (`generation.pipelines.inpaint`)
   and pastes it over the canvas through the feathered mask: the source stays as it was beyond
   the seam.
"""

from __future__ import annotations

from PIL import Image, ImageChops

from generation.images.masks import feather, fill_from_edges
from generation.pipelines.inpaint import RegionPlan
from generation.pipelines.sources import LANCZOS
from generation.requests.canvas import place_source
from generation.requests.request import Edit, GenerationRequest

FILL_NOISE = 16.0  # of 255: texture for the pass to work from, small enough to keep the colours


def plan_outpaint(request: GenerationRequest, source: Image.Image) -> RegionPlan:
    """The plan of a Zoom Out or Pan of `source` onto the request's canvas."""
    edit = request.edit or Edit()
    canvas = (request.width, request.height)
    placed = place_source(source.size, canvas, zoom=edit.zoom, pan=edit.pan)
    left, top, right, bottom = placed.box
    picture = Image.new("RGB", canvas, (127, 127, 127))
    picture.paste(source if source.size == placed.size else source.resize(placed.size, LANCZOS), (left, top))

    known = Image.new("L", canvas, 0)
    known.paste(255, placed.box)
    new = Image.new("L", canvas, 255)
    new.paste(0, placed.box)
    # The seam: the mask reaches twice `mask_blur` into the source on each side that faces new
    # canvas (not on sides at the canvas's edge, which have nothing to join), so that at the
    # source's old edge the feathered mask is nearly full and no trace of that edge is left.
    seam = 2 * edit.mask_blur
    kept = (
        left + seam if left > 0 else left,
        top + seam if top > 0 else top,
        right - seam if right < canvas[0] else right,
        bottom - seam if bottom < canvas[1] else bottom,
    )
    hard = Image.new("L", canvas, 255)
    if kept[2] > kept[0] and kept[3] > kept[1]:
        hard.paste(0, kept)
    soft = ImageChops.lighter(feather(hard, edit.mask_blur), new)  # the new area wholly generated
    filled = fill_from_edges(picture, known)  # the source's pixels stay as they are
    return RegionPlan(filled, soft, (0, 0, *canvas), canvas, new=new, noise=FILL_NOISE)
