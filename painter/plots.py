"""Pictures as PNG files (matplotlib, no screen needed): image grids, loss curves, histograms.

Every function writes atomically (temporary name, then rename) and returns the path written.
A presentation helper that data, training and evaluation all draw with: it takes arrays and
histories, never reads a data source, and imports only `painter.data.images` (pixel conversion),
`painter.fileio` and `painter.errors`. Figures are made with matplotlib's object API
(`matplotlib.figure.Figure`), never pyplot: no global backend switch, nothing left open.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from painter.data.images import to_uint8
from painter.errors import DataError
from painter.fileio import atomic_write_bytes


def save_figure(figure: Figure, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Render a matplotlib figure to PNG atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
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
    figure = Figure(figsize=(cell_inches * len(batches), cell_inches * rows))
    axes = figure.subplots(rows, len(batches), squeeze=False)
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


# --- training history ------------------------------------------------------------------------

_PANELS = (
    ("generator losses", lambda name: "gen_loss" in name),
    ("discriminator losses", lambda name: "disc_loss" in name),
    ("PatchNCE loss", lambda name: name.startswith("nce")),  # CUT's content term
    ("cycle and identity losses", lambda name: name.endswith("loss")),
)


def load_history(history: str | os.PathLike | Mapping | Sequence) -> dict[str, list[float]]:
    """A training history as `{metric: [one float per epoch]}`.

    Accepts the path of a history.json, or its content: `{"epoch": [...], "<metric>": [...]}`
    (what painter's training writes) or a list with one `{metric: value}` dict per epoch. Raises
    DataError naming the file and the problem when it is missing, empty or in another format."""
    where = "the history"
    if isinstance(history, (str, os.PathLike)):
        where = str(history)
        try:
            history = json.loads(Path(history).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise DataError(
                f"{where} does not exist: train first, or give a history.json."
            ) from error
        except (OSError, ValueError) as error:
            raise DataError(f"{where} is not readable JSON: {error}.") from error
    if isinstance(history, Sequence) and not isinstance(history, (str, bytes)):
        epochs = [epoch for epoch in history if isinstance(epoch, Mapping)]
        if len(epochs) < len(history):
            raise DataError(
                f"{where}: a list history must hold one {{metric: value}} dict per epoch."
            )
        names = list(dict.fromkeys(name for epoch in epochs for name in epoch))
        history = {name: [epoch.get(name, float("nan")) for epoch in epochs] for name in names}
    if not isinstance(history, Mapping):
        raise DataError(
            f"{where} is a {type(history).__name__}; expected {{metric: [value per epoch]}} or a "
            "list of per-epoch dicts."
        )
    curves: dict[str, list[float]] = {}
    for name, values in history.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise DataError(
                f"{where}: metric {name!r} is {values!r}, not a list of per-epoch numbers."
            )
        try:
            curves[str(name)] = [float("nan") if v is None else float(v) for v in values]
        except (TypeError, ValueError) as error:
            raise DataError(f"{where}: metric {name!r} holds a non-number: {error}.") from error
    if not any(values for name, values in curves.items() if name != "epoch"):
        raise DataError(f"{where} holds no metric values: nothing to plot.")
    return curves


def plot_loss_curves(
    history: str | os.PathLike | Mapping | Sequence,
    out_path: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """Plot every metric of a training history against the epoch: generator losses, discriminator
    losses, cycle/identity losses, then one panel per other metric (lr, epoch_seconds, ...).

    `history` is a history.json path, `{metric: [per epoch]}` or a list of per-epoch dicts."""
    curves = load_history(history)
    epochs = curves.pop("epoch", None)
    panels: dict[str, list[str]] = {}
    for name in curves:
        label = next((panel for panel, match in _PANELS if match(name)), name)
        panels.setdefault(label, []).append(name)
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(4.5 * columns, 3.2 * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis, (label, names) in zip(axes.flat, panels.items(), strict=False):
        for name in names:
            values = curves[name]
            x = (
                epochs
                if epochs is not None and len(epochs) == len(values)
                else range(1, len(values) + 1)
            )
            axis.plot(
                list(x), values, marker="o" if len(values) < 30 else None, markersize=3, label=name
            )
        axis.set_title(label, fontsize=10)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if len(names) > 1 or label != names[0]:
            axis.legend(fontsize=8)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, out_path)


# --- samples and colour ----------------------------------------------------------------------


def save_sample_grid(
    real_photo: np.ndarray,
    fake_monet: np.ndarray,
    cycled_photo: np.ndarray | None,
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """One row per example: real photo | fake Monet | cycled photo ([N, H, W, 3], [-1, 1] or
    uint8); without `cycled_photo` (CUT has no photo generator) the first two."""
    columns = {"real photo": real_photo, "fake Monet": fake_monet}
    if cycled_photo is not None:
        columns["cycled photo"] = cycled_photo
    return save_image_grid(columns, path, title=title)


def plot_rgb_histograms(
    groups: Mapping[str, np.ndarray | Sequence[np.ndarray]],
    out_path: str | os.PathLike,
    *,
    bins: int = 64,
    title: str | None = None,
) -> Path:
    """Side-by-side red/green/blue pixel histograms (density) of image sets, e.g.
    `{"Monet paintings": ..., "photos": ..., "generated": ...}`: does the colour of the generated
    images match the paintings'? Each set is [N, H, W, 3] or a list of [H, W, 3] images, uint8 or
    [-1, 1] float."""
    if not groups:
        raise ValueError("plot_rgb_histograms needs at least one named set of images.")
    counts: dict[str, np.ndarray] = {}
    edges = np.linspace(0, 256, bins + 1)
    for name, images in groups.items():
        arrays = [images] if isinstance(images, np.ndarray) and images.ndim == 4 else list(images)
        per_channel = np.zeros((3, bins))
        for image in arrays:
            pixels = to_uint8(image).reshape(-1, np.asarray(image).shape[-1])
            if pixels.shape[-1] != 3:
                raise ValueError(
                    f"images in {name!r} have {pixels.shape[-1]} channels; expected 3."
                )
            for channel in range(3):
                per_channel[channel] += np.histogram(pixels[:, channel], bins=edges)[0]
        if per_channel.sum() == 0:
            raise ValueError(f"the image set {name!r} is empty.")
        counts[name] = per_channel / per_channel.sum(axis=1, keepdims=True)
    figure = Figure(figsize=(4.0 * len(counts), 3.0))
    axes = figure.subplots(1, len(counts), squeeze=False, sharey=True)
    centers = (edges[:-1] + edges[1:]) / 2
    for axis, (name, density) in zip(axes[0], counts.items(), strict=True):
        for channel, colour in enumerate(("red", "green", "blue")):
            axis.plot(centers, density[channel], color=colour, label=colour[0].upper())
            axis.fill_between(centers, density[channel], color=colour, alpha=0.12)
        axis.set_title(name, fontsize=10)
        axis.set_xlim(0, 255)
        axis.set_xlabel("pixel value")
    axes[0][0].set_ylabel("fraction of pixels")
    axes[0][0].legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, out_path)
