"""The colours of a run: do the generated images take the paintings' palette?

Red, green and blue histograms of Monet paintings, photos and the generated images of an
images.zip, side by side (`painter.plots.plot_rgb_histograms` draws them). Reads through
`painter.evaluate.images.iterate_images`, the reader an evaluation uses. No Keras.
"""

from __future__ import annotations

import os
from pathlib import Path

from painter.data.sources import ImageSource
from painter.evaluate.images import iterate_images
from painter.plots import plot_rgb_histograms


def plot_run_histograms(
    monet: str | os.PathLike | ImageSource,
    photo: str | os.PathLike | ImageSource,
    images_zip: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    count: int = 64,
) -> Path:
    """RGB histograms of the first `count` Monet paintings, photos (folders, TFRecords or
    ImageSources) and generated images in `images_zip` (sorted by name), side by side."""
    sets = {"Monet paintings": monet, "photos": photo, "generated Monets": images_zip}
    return plot_rgb_histograms(
        {
            name: [image for _, image in iterate_images(path, limit=count)]
            for name, path in sets.items()
        },
        out_path,
    )


__all__ = ["plot_run_histograms"]
