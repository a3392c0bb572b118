"""Small synthetic image sets for the data tests (written with Pillow into tmp folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def identity_image(index: int, size: int) -> np.ndarray:
    """A flat image whose red/green channels encode `index` (exact through PNG)."""
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 0] = index % 256
    image[..., 1] = index // 256
    image[..., 2] = 77
    return image


def decode_identity(images: np.ndarray) -> list[int]:
    """Indices of a batch of identity images in [-1, 1] (float) or uint8."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.round((images + 1.0) * 127.5)
    return [int(r) + 256 * int(g) for r, g in images[:, 0, 0, :2]]


def write_identity_folder(folder: Path, count: int, size: int, *, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(start, start + count):
        Image.fromarray(identity_image(index, size)).save(folder / f"img{index:04d}.png")
    return folder


def random_image(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Smooth random RGB (compresses well, survives JPEG with small error). size = (h, w)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size[1], size[0]), Image.Resampling.BILINEAR))
