"""Stylize photos of any size and aspect with a trained generator.

The generator is fully convolutional but downsamples: a ResNet generator needs sides that are a
multiple of 4, a U-Net of depth d a multiple of 2^d. Each photo is reflect-padded up to that
multiple (reflection, not zeros: no dark frame leaks into the painting), painted, and cropped back,
so the output has exactly the input's size. Very large photos are painted in overlapping tiles,
blended with linear ramps across the overlaps, so generator memory stays bounded and no seam shows.

Inputs are read as a viewer shows them: EXIF orientation applied, grayscale/CMYK/palette converted
to RGB, transparency composited onto white.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from painter.data.images import load_rgb, pixels_to_model_range, to_uint8
from painter.errors import DataError, PainterError
from painter.fileio import atomic_write_bytes
from painter.submission.inference import replica_count, run_model

OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
DEFAULT_TILE = 1024  # sides above this are tiled: a 1024^2 ResNet pass needs ~2-3 GB of activations
DEFAULT_OVERLAP = 64  # its outer quarter (16 px) is dropped: past most of the edge padding's reach


def read_photo(path: str | os.PathLike) -> np.ndarray:
    """A photo as uint8 [H, W, 3], at its own size, the way a viewer shows it
    (`painter.data.images.load_rgb`). Raises DataError naming the file."""
    try:
        return load_rgb(path)
    except ValueError as error:
        raise DataError(f"{path}: {error}; pass a JPEG or PNG") from error


def size_multiple(generator: Any) -> int:
    """The side multiple `generator` takes: painter.models.required_multiple when the model
    declares it (4 for the ResNet, 2^depth for the U-Net), else the product of its downsampling
    strides (any other fully convolutional keras model)."""
    from painter.models import required_multiple  # imports Keras: after the runtime is chosen

    if hasattr(generator, "layers"):
        declared = int(required_multiple(generator))
        if declared > 1:
            return declared
    multiple = 1
    for layer in _all_layers(generator):
        kind = type(layer).__name__
        if "Transpose" in kind or "UpSampling" in kind:
            continue
        strides = getattr(layer, "strides", None)
        if "Pool" in kind:
            strides = getattr(layer, "strides", None) or getattr(layer, "pool_size", None)
        if strides is None:
            continue
        strides = strides if isinstance(strides, (tuple, list)) else (strides,)
        multiple *= int(max(strides))
    return multiple


def _all_layers(model: Any) -> Iterable[Any]:
    for layer in getattr(model, "layers", ()):
        yield layer
        yield from _all_layers(layer)


def reflect_pad(image: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad [H, W, C] on the bottom/right by reflection up to multiples of `multiple`; returns the
    padded image and the original (H, W) to crop back to."""
    height, width = image.shape[:2]
    pad_h = -height % multiple
    pad_w = -width % multiple
    if pad_h or pad_w:
        # numpy reflects repeatedly when the pad exceeds the side (a tiny image, a deep U-Net)
        image = np.pad(
            image,
            ((0, pad_h), (0, pad_w), (0, 0)),
            mode="reflect" if min(height, width) > 1 else "edge",
        )
    return image, (height, width)


def paint(
    generator: Any,
    image: np.ndarray,
    *,
    multiple: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
) -> np.ndarray:
    """uint8 [H, W, 3] photo -> uint8 [H, W, 3] painting of the same size.

    Sides up to `tile` are painted in one pass; larger images in tiles of `tile` pixels that
    overlap by `overlap`, blended with weights that ramp linearly across each overlap."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"`image` must be [H, W, 3]. Received shape: {image.shape}")
    multiple = multiple or size_multiple(generator)
    if overlap < 4 or tile <= 2 * overlap:
        raise PainterError(
            f"`tile` must exceed twice the overlap and the overlap be at least 4 pixels. "
            f"Received: tile={tile}, overlap={overlap}"
        )
    height, width = image.shape[:2]
    ys = _tile_starts(height, tile, overlap)
    xs = _tile_starts(width, tile, overlap)
    if len(ys) == 1 and len(xs) == 1:
        return to_uint8(_run(generator, [image], multiple)[0])
    tile_h, tile_w = min(tile, height), min(tile, width)
    corners = [(y, x) for y in ys for x in xs]
    fake_monet = np.zeros((height, width, 3), np.float32)
    weights = np.zeros((height, width, 1), np.float32)
    group = max(_replicas(generator), 1)  # tiles per call: one per replica, memory stays bounded
    for start in range(0, len(corners), group):
        chunk = corners[start : start + group]
        painted = _run(
            generator, [image[y : y + tile_h, x : x + tile_w] for y, x in chunk], multiple
        )
        for (y, x), tile_painting in zip(chunk, painted, strict=True):
            weight = np.outer(
                _ramp(tile_h, overlap, y > 0, y + tile_h < height),
                _ramp(tile_w, overlap, x > 0, x + tile_w < width),
            )[..., None]
            fake_monet[y : y + tile_h, x : x + tile_w] += tile_painting * weight
            weights[y : y + tile_h, x : x + tile_w] += weight
    return to_uint8(fake_monet / weights)


def _tile_starts(side: int, tile: int, overlap: int) -> list[int]:
    if side <= tile:
        return [0]
    count = math.ceil((side - overlap) / (tile - overlap))
    step = (side - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def _ramp(length: int, overlap: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    """Blend weights along one side of a tile: 1 inside; across an overlap with a neighbour, 0 for
    the outer quarter (where the tile's own edge padding corrupts the output) then rising
    linearly. The neighbour's weights are positive there, so every pixel is covered."""
    ramp = np.ones(length, np.float32)
    margin = overlap // 4
    edge = np.clip((np.arange(overlap, dtype=np.float32) - margin + 0.5) / (overlap - margin), 0, 1)
    if fade_in:
        ramp[:overlap] = np.minimum(ramp[:overlap], edge)
    if fade_out:
        ramp[-overlap:] = np.minimum(ramp[-overlap:], edge[::-1])
    return ramp


def _replicas(generator: Any) -> int:
    if not hasattr(generator, "predict_on_batch"):
        return 1
    return replica_count(generator)


def _run(generator: Any, real_photos: list[np.ndarray], multiple: int) -> np.ndarray:
    """Paint same-shaped uint8 images (or tiles) in one call -> float32 in [-1, 1]. The batch is
    padded (repeating the first image) to a multiple of the replica count, as a TPU strategy or
    JAX DataParallel requires, and each replica paints its share (`inference.run_model`: sharded
    over the devices on JAX). Floats are made per call: a huge photo is never float32 whole."""
    padded = [reflect_pad(pixels_to_model_range(photo), multiple)[0] for photo in real_photos]
    height, width = real_photos[0].shape[:2]
    replicas = _replicas(generator)
    padded += [padded[0]] * (-len(padded) % replicas)
    batch = np.stack(padded)
    if hasattr(generator, "predict_on_batch"):
        fake_monet = run_model(generator, batch)
    else:
        fake_monet = generator(batch)
    return np.asarray(fake_monet, np.float32)[: len(real_photos), :height, :width]


def output_path(
    image_path: str | os.PathLike, out_dir: str | os.PathLike, suffix: str | None = None
) -> Path:
    """Where `stylize` writes a photo's painting: out_dir/<stem><suffix>, the suffix the input's
    when it is .png/.jpg/.jpeg, else .png."""
    image_path = Path(image_path)
    if suffix is None:
        suffix = (
            image_path.suffix.lower() if image_path.suffix.lower() in OUTPUT_FORMATS else ".png"
        )
    if suffix.lower() not in OUTPUT_FORMATS:
        raise PainterError(
            f"output suffix must be one of {sorted(OUTPUT_FORMATS)}. Received: {suffix!r}"
        )
    return Path(out_dir) / (image_path.stem + suffix)


def stylize(
    generator: Any,
    image_paths: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    multiple: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    suffix: str | None = None,
    jpeg_quality: int = 95,
) -> list[Path]:
    """Paint each image with `generator` and write it to `out_dir`, same size as the input.

    Args:
        generator: photo -> Monet keras model (float32 [-1, 1], any size that is a multiple of
            `multiple`).
        image_paths: photos of any size, aspect, orientation (EXIF) and mode.
        out_dir: created if needed; each output is `<stem>.png|.jpg` (format by suffix: the
            input's when PNG/JPEG, else PNG, or `suffix`), written atomically.
        multiple: the side multiple the generator takes (default: from its strides).
        tile, overlap: images with a side above `tile` are painted in overlapping tiles.

    Returns:
        The written paths, in the order of `image_paths`.
    """
    out_dir = Path(out_dir)
    photo_paths = [Path(p) for p in image_paths]
    if not photo_paths:
        raise PainterError("no images to stylize: pass at least one image path")
    targets = [output_path(p, out_dir, suffix) for p in photo_paths]
    seen: dict[Path, Path] = {}
    for source, target in zip(photo_paths, targets, strict=True):
        if target in seen:
            raise PainterError(
                f"{seen[target]} and {source} would both be written to {target}; "
                "stylize them into different --out folders"
            )
        if target.resolve() == source.resolve():
            raise PainterError(f"{target} would overwrite its own input; choose another --out")
        seen[target] = source
    multiple = multiple or size_multiple(generator)
    written = []
    for source, target in zip(photo_paths, targets, strict=True):
        painting = paint(
            generator, read_photo(source), multiple=multiple, tile=tile, overlap=overlap
        )
        buffer = io.BytesIO()
        image_format = OUTPUT_FORMATS[target.suffix.lower()]
        options = {"quality": jpeg_quality} if image_format == "JPEG" else {}
        Image.fromarray(painting, mode="RGB").save(buffer, format=image_format, **options)
        atomic_write_bytes(target, buffer.getvalue())
        written.append(target)
    return written
