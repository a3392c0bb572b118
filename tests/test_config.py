"""Config: presets are valid, files round-trip (JSON, YAML), --set parses or fails clearly."""

from __future__ import annotations

import json
import sys

import pytest

from painter.config import PRESETS, Config, preset
from painter.errors import ConfigError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_a_valid_config(name):
    config = preset(name)
    assert config.preset == name
    for key, value in PRESETS[name].items():
        assert getattr(config, key) == value


def test_presets_differ_where_their_hardware_needs_it():
    assert preset("kaggle-tpu").mixed_precision is True
    assert preset("smoke").image_size < preset("cpu-small").image_size < preset("gpu").image_size
    assert 64 <= preset("cpu-small").image_size <= 128


def test_r1_gamma_follows_the_rule_in_every_256_px_preset():
    """The rule (Karras et al.'s size^2 / batch) gives the gamma measured best at cpu-small's
    sizes (0.4 at 64 px of 4), and each 256-px preset takes its value at its own size and batch."""
    from painter.config_presets import r1_gamma

    small = preset("cpu-small")
    assert r1_gamma(small.image_size, small.global_batch_size) == small.r1_weight == 0.4
    for name in ("kaggle-tpu", "gpu"):
        config = preset(name)
        assert config.r1_weight == r1_gamma(config.image_size, config.global_batch_size)
    assert preset("gpu").r1_weight == 2 * preset("kaggle-tpu").r1_weight  # half the batch


def test_no_preset_trains_on_enlarged_images():
    """The jitter crops image_size out of images decoded at resize_size. From the competition's
    256-px JPEGs that decode enlarges (and blurs) every image for a 256-px model, so the 256-px
    presets train on flips alone; cpu-small's 72-px decode shrinks them, and keeps its jitter."""
    jpeg_size = 256
    for name in ("kaggle-tpu", "gpu", "cpu-small"):
        config = preset(name)
        assert config.load_size <= jpeg_size, name
    assert preset("cpu-small").jitter and preset("cpu-small").load_size == 72


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigError, match="unknown preset 'tpu'.*cpu-small"):
        preset("tpu")


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_save_and_load_round_trip(tmp_path, suffix):
    config = preset("cpu-small").with_overrides(["epochs=7", "generator_lr=1.5e-4", "cache=disk"])
    path = config.save(tmp_path / f"config{suffix}")
    loaded = Config.load(path)
    assert loaded == config
    assert loaded.generator_lr == 1.5e-4 and isinstance(loaded.epochs, int)
    if suffix == ".json":
        assert json.loads(path.read_text())["epochs"] == 7
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_preset_accepts_a_config_file(tmp_path):
    path = preset("smoke").with_overrides(["seed=7"]).save(tmp_path / "mine.yaml")
    assert preset(str(path)).seed == 7


def test_a_file_missing_fields_takes_the_defaults(tmp_path):
    path = tmp_path / "partial.yaml"
    path.write_text("epochs: 3\ndecay_epochs: 1\nadversarial_loss: bce\nlabel_smoothing: 0.1\n")
    config = Config.load(path)
    assert (config.epochs, config.decay_epochs, config.label_smoothing) == (3, 1, 0.1)
    assert config.image_size == Config().image_size


@pytest.mark.parametrize(
    "text, message",
    [
        ("epochs: [3\n", "cannot parse"),
        ("- 1\n- 2\n", "mapping"),
        ("epocs: 3\n", r"unknown config key\(s\) \['epocs'\]"),
        ("epochs: three\n", "`epochs` must be a int"),
    ],
)
def test_bad_config_files_are_refused_with_the_file_named(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        Config.load(path)
    assert "bad.yaml" in str(error.value)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load("/nonexistent/config.json")


def test_set_overrides_parse_to_the_field_types():
    config = preset("smoke").with_overrides(
        ["epochs=5", "mixed_precision=yes", "generator_lr=3e-4", "generator= unet ", "flip_prob=0"]
    )
    assert config.epochs == 5 and config.mixed_precision is True
    assert config.generator_lr == 3e-4 and config.generator == "unet" and config.flip_prob == 0.0


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("epochs", "key=value"),
        ("=3", "non-empty key"),
        ("epocs=3", r"--set: unknown config key\(s\) \['epocs'\]"),
        ("epochs=2.5", "`epochs` must be a int. Received: '2.5'"),
        ("mixed_precision=maybe", "`mixed_precision` must be a bool"),
        ("generator_lr=fast", "`generator_lr` must be a float"),
        ("generator=vit", "`generator` must be one of"),
        ("flip_prob=1.5", r"`flip_prob` must be in \[0, 1\]"),
        ("image_size=0", "`image_size` must be positive"),
        ("decay_epochs=99", "`decay_epochs` must be in"),
        ("resize_size=16", "`resize_size` .* must be >= `image_size`"),
        ("pool_size=-1", "`pool_size` must be >= 0"),
        ("beta_1=1", "`beta_1` must be in"),
        ("beta_2=1", "`beta_2` must be in"),
        ("beta_2=-0.1", "`beta_2` must be in"),
        ("safety_margin_minutes=20", "no time would be left"),
        ("objective=cycle", r"`objective` must be one of \['cyclegan', 'cut'\]"),
        ("nce_patches=0", "`nce_patches` must be positive"),
        ("nce_temperature=0", "`nce_temperature` must be positive"),
    ],
)
def test_bad_overrides_fail_naming_the_field(assignment, message):
    with pytest.raises(ConfigError, match=message):
        preset("smoke").with_overrides([assignment])


def test_describe_marks_non_defaults_and_overrides():
    text = preset("smoke").with_overrides(["seed=3"]).describe()
    lines = {line.split()[-3]: line for line in text.splitlines()[1:]}
    assert lines["seed"].startswith(" *+")  # differs from the default and from the preset
    assert lines["image_size"].startswith(" * ")  # the preset's value, not the default
    assert lines["beta_1"].startswith("   ")  # the default


def test_architecture_fields_cover_the_network_shapes():
    config = preset("smoke")
    assert set(config.architecture()) == set(Config.ARCHITECTURE_FIELDS)
    changed = config.replace(generator_filters=16, epochs=9)
    differing = {
        k for k in config.architecture() if config.architecture()[k] != changed.architecture()[k]
    }
    assert differing == {"generator_filters"}


def test_importing_config_loads_no_keras():
    import subprocess

    code = "import painter.config, sys; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
