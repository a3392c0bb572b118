"""The quality benchmark's recipes (`benchmarks/bench_quality.py`): each one is a valid painter
Config of cpu-small's sizes carrying exactly its own recipe fields, whatever the presets' recipe."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_quality  # noqa: E402

from painter.config import PRESETS, Config  # noqa: E402


@pytest.mark.parametrize("steps", [800, 5800])
def test_every_recipe_is_a_valid_config_with_its_own_fields(steps):
    paper = Config()
    small = PRESETS["cpu-small"]
    for name, recipe in bench_quality.RECIPES.items():
        config = bench_quality.recipe_config(name, seed=3, steps=steps, image_size=64)
        assert config.seed == 3 and config.image_size == 64, name
        assert config.generator_filters == small["generator_filters"], name
        assert config.epochs * config.steps_per_epoch == steps, name
        for field, value in recipe["overrides"].items():
            assert getattr(config, field) == value, (name, field)
        # A field the recipe does not set is the paper's, not the preset's recipe (e.g. R1's
        # start without its gamma, which would not even be a valid config).
        for field in ("r1_weight", "r1_start", "cycle_weight", "upsampling"):
            if field not in recipe["overrides"]:
                assert getattr(config, field) == getattr(paper, field), (name, field)
