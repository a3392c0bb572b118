"""The quality benchmark's lattice measure (`benchmarks/style_fd.lattice_ridges`): a grid painted
at period p shows as a ridge at p and nowhere else; images without one score ~1."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import style_fd  # noqa: E402


def _smooth_images(count=16, size=64, seed=0):
    """Natural-looking test images: white noise blurred, so power falls with frequency smoothly."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (count, size, size, 3))
    kernel = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    for axis in (1, 2):
        noise = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, noise)
    return 0.5 * noise / np.abs(noise).max()


def _grid(size, period):
    """A +-1 pattern that repeats every `period` pixels along both axes."""
    line = np.where(np.arange(size) % period < period // 2, 1.0, -1.0)
    return (line[:, None] * line[None, :])[None, :, :, None]


def test_images_without_a_grid_score_about_one():
    ridges = style_fd.lattice_ridges(_smooth_images())
    assert set(ridges) == {"2", "4", "8"}
    for period, value in ridges.items():
        assert 0.7 < value < 1.4, (period, value)


@pytest.mark.parametrize("period", [2, 4, 8])
def test_a_faint_grid_is_a_ridge_at_its_period_only(period):
    images = _smooth_images() + 0.02 * _grid(64, period)
    ridges = style_fd.lattice_ridges(images)
    assert ridges[str(period)] > 2, ridges
    for other, value in ridges.items():
        if int(other) != period:
            assert value < 1.4, ridges


def test_pixels_repeated_in_blocks_are_a_notch():
    """Nearest x2 of a smooth image: pixel pairs are equal, which cancels the 2-px frequency."""
    half = _smooth_images(size=32)
    blocks = half.repeat(2, axis=1).repeat(2, axis=2)
    assert style_fd.lattice_ridges(blocks)["2"] < 0.2


def test_sizes_a_period_does_not_divide_are_left_out():
    assert set(style_fd.lattice_ridges(_smooth_images(size=36))) == {"2", "4"}
