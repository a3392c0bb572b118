"""A small two-domain data set made in code: the demo and the tests need no download.

"Photos" are smooth landscapes: a sky gradient over a ground gradient, a sun, hills and houses
in plain colours. "Paintings" are the same kind of scenes (other random draws), repainted: the
colours pass through a Monet-like palette (violet shadows, warm yellow lights, less contrast) and a
brush-stroke texture (noise smeared along short strokes) is laid on top. The difference between the
domains is global and visible at a glance, so a small CycleGAN learns it in minutes on a CPU.

Everything is deterministic in `seed`. Numpy, scipy and PIL only (no TensorFlow).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from painter.data.images import encode_jpeg


def _scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """One smooth landscape, float [size, size, 3] in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    horizon = rng.uniform(0.35, 0.7)
    sky_top = rng.uniform([0.1, 0.3, 0.6], [0.4, 0.6, 1.0])
    sky_bottom = rng.uniform([0.6, 0.6, 0.6], [1.0, 0.9, 1.0])
    ground_near = rng.uniform([0.1, 0.3, 0.0], [0.4, 0.6, 0.2])
    ground_far = rng.uniform([0.3, 0.4, 0.1], [0.6, 0.7, 0.3])
    t_sky = np.clip(y / horizon, 0, 1)[..., None]
    t_ground = np.clip((y - horizon) / (1 - horizon), 0, 1)[..., None]
    image = np.where(
        (y < horizon)[..., None],
        sky_top * (1 - t_sky) + sky_bottom * t_sky,
        ground_far * (1 - t_ground) + ground_near * t_ground,
    )
    # The sun: a soft disc in the sky.
    cx, cy, radius = (
        rng.uniform(0.1, 0.9),
        rng.uniform(0.08, horizon * 0.7),
        rng.uniform(0.05, 0.12),
    )
    sun = np.clip(1.5 - np.hypot(x - cx, y - cy) / radius, 0, 1)[..., None]
    image = image * (1 - sun) + rng.uniform([0.9, 0.8, 0.4], [1.0, 1.0, 0.8]) * sun
    # A hill: a darker bump on the horizon.
    hx, width, height = rng.uniform(0, 1), rng.uniform(0.2, 0.5), rng.uniform(0.05, 0.2)
    hill = (y > horizon - height * np.exp(-(((x - hx) / width) ** 2))) & (y < horizon + 0.02)
    image = np.where(hill[..., None], rng.uniform([0.1, 0.25, 0.1], [0.3, 0.45, 0.3]), image)
    # Houses: plain rectangles standing on the ground.
    for _ in range(rng.integers(0, 3)):
        left, w, h = rng.uniform(0, 0.85), rng.uniform(0.06, 0.15), rng.uniform(0.06, 0.18)
        base = rng.uniform(horizon + 0.02, min(0.98, horizon + 0.25))
        house = (x > left) & (x < left + w) & (y < base) & (y > base - h)
        image = np.where(house[..., None], rng.uniform(0.3, 0.95, 3), image)
    return np.clip(image, 0, 1).astype(np.float32)


def _paint(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Repaint a scene: Monet-like palette and brush-stroke texture."""
    size = image.shape[0]
    luminance = image @ np.array([0.299, 0.587, 0.114], np.float32)
    shadow, light = (
        np.array([0.42, 0.38, 0.68], np.float32),
        np.array([1.0, 0.88, 0.55], np.float32),
    )
    tint = shadow * (1 - luminance[..., None]) + light * luminance[..., None]
    painted = 0.45 * image + 0.55 * tint
    # Brush strokes: noise on a 24x24 grid (so the texture looks alike at every image size and
    # survives downscaling to the training size) smeared along short horizontal or vertical
    # strokes; mostly brightness, a little colour: dabs of lighter and darker paint.
    cells = 24
    noise = rng.normal(0, 1, (cells, cells, 1)) + 0.3 * rng.normal(0, 1, (cells, cells, 3))
    axis = int(rng.integers(0, 2))
    strokes = ndimage.uniform_filter1d(noise.astype(np.float32), size=4, axis=axis, mode="wrap")
    block = -(-size // cells)
    strokes = np.repeat(np.repeat(strokes, block, axis=0), block, axis=1)[:size, :size]
    painted = ndimage.gaussian_filter(painted, sigma=(size / 80, size / 80, 0))  # softer edges
    painted = painted + 0.08 * strokes / (strokes.std() + 1e-6)
    return np.clip(painted, 0, 1)


def make_images(domain: str, count: int, *, size: int = 64, seed: int = 0) -> np.ndarray:
    """`count` uint8 [size, size, 3] images of `domain` ("photo" or "monet")."""
    if domain not in ("photo", "monet"):
        raise ValueError(f"`domain` must be 'photo' or 'monet'. Received: {domain!r}")
    # Different streams per domain: the paintings are not repaintings of the photos (unpaired).
    rng = np.random.default_rng([seed, 0 if domain == "photo" else 1])
    images = []
    for _ in range(count):
        image = _scene(rng, size)
        if domain == "monet":
            image = _paint(rng, image)
        images.append(np.round(image * 255).astype(np.uint8))
    return np.stack(images)


def write_image_folder(images: np.ndarray, folder: str | os.PathLike, prefix: str) -> Path:
    """Write images as `prefix_NNNN.jpg` into `folder` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        (folder / f"{prefix}_{index:04d}.jpg").write_bytes(encode_jpeg(image))
    return folder


def make_dataset(
    out_dir: str | os.PathLike,
    *,
    photos: int = 120,
    monets: int = 60,
    size: int = 64,
    seed: int = 0,
    tfrecords: bool = True,
    records_per_file: int = 64,
) -> Path:
    """Write a two-domain data set in Kaggle's layout under `out_dir`: `photo_jpg/`, `monet_jpg/`
    and (with `tfrecords`) `photo_tfrec/`, `monet_tfrec/` in the competition's record format.
    Returns `out_dir`."""
    out_dir = Path(out_dir)
    for domain, count in (("photo", photos), ("monet", monets)):
        jpg = write_image_folder(
            make_images(domain, count, size=size, seed=seed), out_dir / f"{domain}_jpg", domain
        )
        if tfrecords:
            from painter.data.tfrecord import write_tfrecords

            write_tfrecords(
                jpg,
                out_dir / f"{domain}_tfrec",
                domain,
                records_per_file=records_per_file,
                image_size=size,
            )
    return out_dir


__all__ = ["make_images", "make_dataset", "write_image_folder"]
