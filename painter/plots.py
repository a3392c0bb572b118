"""Pictures as PNG files (matplotlib, no screen needed): image grids, loss curves, histograms.

Every function writes atomically (temporary name, then rename) and returns the path written.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from painter.fileio import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display on servers, CI or Kaggle's kernel
    import matplotlib.pyplot as plt

    return plt


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] (float) or [0, 255] (uint8) -> uint8, rounded and clipped."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.round((images.astype(np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def save_figure(figure, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Render a matplotlib figure to PNG atomically and close it."""
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def save_image_grid(
    columns: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    cell_inches: float = 2.0,
) -> Path:
    """Save a grid whose columns are titled batches of images (e.g. real photo | fake Monet |
    cycled photo), one row per example. Images are [N, H, W, 3] in [-1, 1] float or uint8."""
    if not columns:
        raise ValueError("save_image_grid needs at least one column of images.")
    batches = {name: to_uint8(images) for name, images in columns.items()}
    rows = min(len(images) for images in batches.values())
    if rows == 0:
        raise ValueError("save_image_grid got an empty batch of images.")
    plt = _pyplot()
    figure, axes = plt.subplots(
        rows, len(batches), figsize=(cell_inches * len(batches), cell_inches * rows), squeeze=False
    )
    for column, (name, images) in enumerate(batches.items()):
        for row in range(rows):
            axis = axes[row][column]
            image = images[row]
            axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name, fontsize=10)
            if column == 0 and row_labels is not None and row < len(row_labels):
                axis.set_ylabel(row_labels[row], fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)
