"""The quality benchmark's recipes (`benchmarks/bench_quality.py`): each one is a valid painter
Config of cpu-small's sizes carrying exactly its own recipe fields, whatever the presets' recipe;
and its detail measure and the split of the style FD into its two terms (`benchmarks/style_fd.py`),
which need none of the benchmark's packages."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_quality  # noqa: E402
import style_fd  # noqa: E402

from painter.config import PRESETS, Config  # noqa: E402


@pytest.mark.parametrize("steps", [800, 5800])
def test_every_recipe_is_a_valid_config_with_its_own_fields(steps):
    paper = Config()
    small = PRESETS["cpu-small"]
    for name, recipe in bench_quality.RECIPES.items():
        config = bench_quality.recipe_config(name, seed=3, steps=steps, image_size=64)
        assert config.seed == 3 and config.image_size == 64, name
        # cpu-small's sizes unless the recipe sets them (a bug once gave every recipe the
        # dataclass's 64-filter D as soon as one recipe set discriminator_filters).
        for field in ("generator_filters", "discriminator_filters", "global_batch_size"):
            expected = recipe["overrides"].get(field, small[field])
            assert getattr(config, field) == expected, (name, field)
        assert config.resize_size == recipe["overrides"].get("resize_size", small["resize_size"])
        assert config.epochs * config.steps_per_epoch == steps, name
        for field, value in recipe["overrides"].items():
            assert getattr(config, field) == value, (name, field)
        # Every other field cpu-small sets is its recipe: where the recipe does not set it, it
        # is the paper's (e.g. R1's start without its gamma, which would not even be a valid
        # config, or the preset's weight-average ramp).
        lengths = {"epochs", "decay_epochs", "steps_per_epoch", "session_limit_minutes"}
        recipe_fields = set(small) - set(bench_quality.CPU_SMALL_SIZE_FIELDS) - lengths
        assert {"objective", "r1_start", "r1_interval", "ema_warmup"} <= recipe_fields
        for field in recipe_fields - set(recipe["overrides"]):
            assert getattr(config, field) == getattr(paper, field), (name, field)


def waves(amplitudes: dict[int, float], size: int = 64) -> np.ndarray:
    """Grey images [2, size, size, 3]: a sum of horizontal cosines, `cycles: amplitude`."""
    x = np.arange(size) / size
    row = sum(a * np.cos(2 * np.pi * k * x) for k, a in amplitudes.items())
    image = np.broadcast_to(row[None, :, None], (size, size, 3))
    return np.stack([image, image * 0.5])


def test_detail_ratios_compare_each_octave_of_periods_with_the_monets():
    # 20 cycles in 64 px = 3.2 px periods (the 2-4 px octave), 10 = 6.4 px, 6 = 10.7 px.
    monets = waves({20: 0.1, 10: 0.2, 6: 0.3})
    paintings = waves({20: 0.2, 10: 0.2, 6: 0.15})
    ratios = style_fd.detail_ratios(paintings, monets)
    assert list(ratios) == ["2-4", "4-8", "8-16"]
    np.testing.assert_allclose(list(ratios.values()), [4.0, 1.0, 0.25], rtol=1e-9)
    # The 2-px Nyquist line belongs to the finest octave.
    nyquist = style_fd.octave_power(waves({32: 0.1}))
    assert nyquist["2-4"] > 0 and nyquist["4-8"] == nyquist["8-16"] == 0


def test_detail_ratios_refuse_images_of_another_size():
    with pytest.raises(ValueError, match="share a size"):
        style_fd.detail_ratios(waves({6: 1.0}, 32), waves({6: 1.0}, 64))


def test_fd_terms_split_the_style_fd_into_where_styles_sit_and_how_they_vary():
    from painter.evaluate.mifid import fid_from_features

    rng = np.random.default_rng(0)
    monets = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    paintings = rng.normal(size=(400, 6)) * 0.7 + 0.3
    terms = style_fd.fd_terms(paintings, monets)
    assert terms["means"] + terms["spread"] == pytest.approx(
        fid_from_features(paintings, monets), rel=1e-9
    )
    # The same styles moved as a whole: all of it in `means`, none in `spread`.
    shift = np.array([0.5, -1.0, 0.0, 2.0, 0.0, 0.25])
    moved = style_fd.fd_terms(monets + shift, monets)
    assert moved["means"] == pytest.approx(np.sum(shift**2), rel=1e-9)
    assert moved["spread"] == pytest.approx(0.0, abs=1e-6)
    assert moved["variance_ratio"] == pytest.approx(1.0, rel=1e-9)
    # Shrunk around their own mean: none in `means`, the sameness in `spread`.
    centre = monets.mean(axis=0)
    shrunk = style_fd.fd_terms(centre + 0.5 * (monets - centre), monets)
    assert shrunk["means"] == pytest.approx(0.0, abs=1e-12)
    assert shrunk["variance_ratio"] == pytest.approx(0.25, rel=1e-9)
    # Tr(C + C/4 - 2 sqrt(C^2/4)) = Tr(C) / 4 for covariances that are multiples of each other.
    assert shrunk["spread"] == pytest.approx(np.trace(np.cov(monets, rowvar=False)) / 4, rel=1e-6)


def test_side_by_side_labels_tell_apart_recipes_that_share_a_long_prefix(tmp_path):
    names = [
        "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-noid",
        "hour-d2b-c2.5-glr4-r1s1000-cut-ema2-lazy16-fast",
    ]
    wrapped = [bench_quality.label_lines(name, 26) for name in names]
    for name, lines in zip(names, wrapped, strict=True):
        assert all(len(line) <= 26 for line in lines)
        assert "".join(lines) == name  # broken at hyphens, nothing dropped
    assert wrapped[0][-1] != wrapped[1][-1]
    # The label band grows with the lines; the tiles follow it.
    from PIL import Image

    photos = np.zeros((2, 8, 8, 3), np.uint8)
    path = tmp_path / "side.png"
    bench_quality.side_by_side(path, photos, [(n, photos + 200) for n in names], tile=160)
    with Image.open(path) as image:
        assert image.size[0] == 3 * 160
        band = image.size[1] - 2 * 160
        assert band >= 12 * len(wrapped[0])
        assert np.asarray(image)[band + 5, 160 + 5].tolist() == [200, 200, 200]
    assert not list(tmp_path.glob(".*.tmp"))


def test_evaluate_paints_with_the_last_checkpoints_live_generator_beside_the_ema(tmp_path):
    import keras

    from painter.config import preset
    from painter.cyclegan.model import build_cyclegan
    from painter.training.callbacks import export_generator
    from painter.training.checkpoint import GENERATOR_FILE, save_checkpoint

    config = preset("smoke").replace(ema_decay=0.9)
    model = build_cyclegan(config, steps_per_epoch=1)
    # The live weights move away from their average, as training moves them.
    state = model.get_state()
    model.set_state(
        {k: v + 0.5 if k.startswith("monet_generator/") else v for k, v in state.items()}
    )
    config.save(tmp_path / "config.json")
    export_generator(model.painting_generator(), tmp_path / GENERATOR_FILE)
    save_checkpoint(tmp_path, 3, model.get_state(), {"config": config.to_dict()})

    loaded_config, ema = bench_quality.load_workdir_generator(tmp_path)
    epoch, live = bench_quality.live_generator_of(tmp_path, loaded_config, ema)
    assert epoch == 3
    assert [w.path for w in live.weights] == [w.path for w in model.monet_generator.weights]
    for live_weight, weight, averaged in zip(
        live.weights, model.monet_generator.weights, ema.weights, strict=True
    ):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(live_weight), weight.numpy())
        assert not np.allclose(keras.ops.convert_to_numpy(averaged), weight.numpy())
    # Without an EMA the saved generator is the live one: nothing else to paint with.
    assert (
        bench_quality.live_generator_of(tmp_path, loaded_config.replace(ema_decay=0.0), ema) is None
    )
