"""The Vary (Region) picture: the image with a numbered grid over it, so that a user can name the
cells to repaint in a select menu (cell 1 top left, row by row). Torch-free; runs in a thread."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

SHOWN_SIDE = 768  # the overlay is drawn at about this size, whatever the image's
LINE = (255, 255, 255)
SHADOW = (0, 0, 0)


def cell_box(cell: int, grid: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixel box (left, top, right, bottom) of cell `cell` (1-based, row by row)."""
    row, column = divmod(cell - 1, grid)
    return (
        column * width // grid,
        row * height // grid,
        (column + 1) * width // grid,
        (row + 1) * height // grid,
    )


def grid_overlay(png: bytes, grid: int, selected: tuple[int, ...] = ()) -> bytes:
    """The image scaled to about SHOWN_SIDE with grid lines, cell numbers and the selected cells
    tinted; PNG bytes."""
    with Image.open(io.BytesIO(png)) as source:
        image = source.convert("RGB")
    scale = SHOWN_SIDE / max(image.size)
    size = (max(grid, round(image.width * scale)), max(grid, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    width, height = image.size
    if selected:
        tint = Image.new("RGB", image.size, (255, 80, 40))
        mask = Image.new("L", image.size, 0)
        draw_mask = ImageDraw.Draw(mask)
        for cell in selected:
            draw_mask.rectangle(cell_box(cell, grid, width, height), fill=110)
        image = Image.composite(tint, image, mask)
    draw = ImageDraw.Draw(image)
    thickness = max(1, min(width, height) // 256)
    for k in range(1, grid):
        x, y = k * width // grid, k * height // grid
        for offset, colour in ((thickness, SHADOW), (0, LINE)):
            draw.line([(x + offset, 0), (x + offset, height)], fill=colour, width=thickness)
            draw.line([(0, y + offset), (width, y + offset)], fill=colour, width=thickness)
    font = ImageFont.load_default(size=max(10, min(width, height) // (grid * 4)))
    for cell in range(1, grid * grid + 1):
        left, top, _, _ = cell_box(cell, grid, width, height)
        pad = max(2, min(width, height) // (grid * 16))
        draw.text(
            (left + pad, top + pad),
            str(cell),
            fill=LINE,
            font=font,
            stroke_width=max(1, thickness),
            stroke_fill=SHADOW,
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
