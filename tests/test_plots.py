"""Pictures: each writes a real PNG of a plausible size; bad input gives a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from painter import plots
from painter.errors import DataError

HISTORY = {
    "epoch": [1, 2, 3, 4],
    "monet_gen_loss": [3.0, 2.5, 2.1, 2.0],
    "photo_gen_loss": [3.1, 2.4, 2.2, 1.9],
    "monet_disc_loss": [0.7, 0.6, 0.55, 0.5],
    "photo_disc_loss": [0.7, 0.62, 0.5, 0.52],
    "cycle_loss": [1.5, 1.1, 0.9, 0.8],
    "identity_loss": [0.8, 0.6, 0.5, 0.45],
    "lr": [2e-4, 2e-4, 1e-4, 5e-5],
    "epoch_seconds": [60.0, 50.0, 50.0, 51.0],
}


def read_png(path) -> Image.Image:
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return image


def images(count: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)


def test_loss_curves_from_history_json(tmp_path):
    history_path = tmp_path / "history.json"
    history_path.write_text(json.dumps(HISTORY))
    out = plots.plot_loss_curves(history_path, tmp_path / "out" / "loss_curves.png")
    image = read_png(out)
    # generator, discriminator, cycle+identity, lr, epoch_seconds: 3 columns x 2 rows of panels
    assert image.width > 900 and image.height > 450
    assert not list((tmp_path / "out").glob(".*.tmp"))  # the atomic write left nothing behind


def test_loss_curves_from_a_list_of_epoch_dicts_match_the_dict_form(tmp_path):
    per_epoch = [
        {name: values[i] for name, values in HISTORY.items()} for i in range(len(HISTORY["epoch"]))
    ]
    assert plots.load_history(per_epoch) == {k: [float(v) for v in vs] for k, vs in HISTORY.items()}
    read_png(plots.plot_loss_curves(per_epoch, tmp_path / "curves.png"))


def test_loss_curves_with_one_metric_and_no_epoch_column(tmp_path):
    image = read_png(plots.plot_loss_curves({"cycle_loss": [1.0]}, tmp_path / "one.png"))
    assert 150 < image.width < 900


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ({}, "no metric values"),
        ({"epoch": [], "cycle_loss": []}, "no metric values"),
        ([], "no metric values"),
        ({"cycle_loss": 3.0}, "not a list"),
        ({"cycle_loss": ["a"]}, "non-number"),
        ("[1, 2]", "one {metric: value} dict per epoch"),
        ("42", "expected {metric"),
    ],
)
def test_bad_histories_give_a_clear_error(tmp_path, history, message):
    if isinstance(history, str):
        path = tmp_path / "history.json"
        path.write_text(history)
        history = path
    with pytest.raises(DataError, match=message):
        plots.plot_loss_curves(history, tmp_path / "never.png")
    assert not (tmp_path / "never.png").exists()


def test_missing_and_corrupt_history_files_are_named(tmp_path):
    with pytest.raises(DataError, match="missing.json does not exist"):
        plots.load_history(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="bad.json is not readable JSON"):
        plots.load_history(tmp_path / "bad.json")


def test_sample_grid_has_three_columns_and_a_row_per_example(tmp_path):
    real_photo = images(3, 16, seed=0)
    fake_monet = np.random.default_rng(1).uniform(-1, 1, size=(3, 16, 16, 3)).astype(np.float32)
    out = plots.save_sample_grid(real_photo, fake_monet, images(3, 16, 2), tmp_path / "s.png")
    image = read_png(out)
    assert image.height > image.width  # 3 rows of 2-inch cells, 3 columns: about square + titles
    two_rows = read_png(
        plots.save_sample_grid(real_photo[:2], fake_monet[:2], real_photo[:2], tmp_path / "t.png")
    )
    assert two_rows.height < image.height and two_rows.width == pytest.approx(image.width, abs=10)


def test_rgb_histograms_side_by_side(tmp_path):
    varied = [images(1, 12, 5)[0], images(1, 20, 6)[0]]  # a list of images of different sizes
    out = plots.plot_rgb_histograms(
        {"Monet paintings": images(4, 16, 3), "photos": varied, "generated": images(2, 16, 4)},
        tmp_path / "hist.png",
    )
    image = read_png(out)
    assert image.width > 2.5 * image.height  # three panels in a row
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_rgb_histograms({}, tmp_path / "none.png")
    with pytest.raises(ValueError, match="'photos' is empty"):
        plots.plot_rgb_histograms({"photos": []}, tmp_path / "none.png")


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures the plots module renders, captured as they are saved."""
    figures = []
    save_figure = plots.save_figure

    def capture(figure, path, **options):
        figures.append(figure)
        return save_figure(figure, path, **options)

    monkeypatch.setattr(plots, "save_figure", capture)
    return figures


def texts(figure) -> dict[str, list[str]]:
    axes = [axis for axis in figure.axes if axis.get_visible()]
    return {
        "suptitle": [figure._suptitle.get_text()] if figure._suptitle is not None else [],
        "titles": [axis.get_title() for axis in axes if axis.get_title()],
        "ylabels": [axis.get_ylabel() for axis in axes if axis.get_ylabel()],
        "legend": [
            text.get_text()
            for axis in axes
            if axis.get_legend()
            for text in axis.get_legend().texts
        ],
    }


def test_image_grid_draws_its_title_column_names_and_row_labels(tmp_path, drawn):
    columns = {"original": images(2, 16, seed=0), "augmented 1": images(2, 16, seed=1)}
    titled = read_png(
        plots.save_image_grid(
            columns, tmp_path / "titled.png", title="preview title", row_labels=["a.jpg", "b.jpg"]
        )
    )
    untitled = read_png(plots.save_image_grid(columns, tmp_path / "untitled.png"))
    assert texts(drawn[0]) == {
        "suptitle": ["preview title"],
        "titles": ["original", "augmented 1"],
        "ylabels": ["a.jpg", "b.jpg"],
        "legend": [],
    }
    assert texts(drawn[1])["suptitle"] == [] and texts(drawn[1])["ylabels"] == []
    assert titled.height > untitled.height  # and the title reaches the PNG: room made for it


def test_image_grid_shows_the_images_themselves(tmp_path, drawn):
    red = np.zeros((1, 8, 8, 3), np.float32)
    red[..., 0] = 1.0  # [-1, 1] floats: (1, -1, -1) is pure red
    red[..., 1:] = -1.0
    plots.save_image_grid({"red": red}, tmp_path / "red.png")
    (shown,) = [axis.get_images()[0].get_array() for axis in drawn[0].axes]
    np.testing.assert_array_equal(np.asarray(shown)[0, 0], [255, 0, 0])


def test_loss_curves_draw_every_metric_in_its_panel(tmp_path, drawn):
    plots.plot_loss_curves(HISTORY, tmp_path / "curves.png", title="run 7")
    drawn_texts = texts(drawn[0])
    assert drawn_texts["suptitle"] == ["run 7"]
    assert drawn_texts["titles"] == [
        "generator losses",
        "discriminator losses",
        "cycle and identity losses",
        "lr",
        "epoch_seconds",
    ]
    assert drawn_texts["legend"] == [
        "monet_gen_loss",
        "photo_gen_loss",
        "monet_disc_loss",
        "photo_disc_loss",
        "cycle_loss",
        "identity_loss",
    ]
    cycle = next(axis for axis in drawn[0].axes if axis.get_title() == "cycle and identity losses")
    x, y = cycle.get_lines()[0].get_data()
    assert list(x) == HISTORY["epoch"] and list(y) == HISTORY["cycle_loss"]


def test_rgb_histograms_put_each_channel_where_its_pixels_are(tmp_path, drawn):
    orange = np.zeros((1, 4, 4, 3), np.uint8)
    orange[..., 0], orange[..., 1] = 255, 128  # red at the top bin, green in the middle, blue 0
    plots.plot_rgb_histograms({"orange": orange}, tmp_path / "hist.png", bins=4)
    (axis,) = drawn[0].axes
    assert axis.get_title() == "orange"
    peaks = {line.get_color(): int(np.argmax(line.get_ydata())) for line in axis.get_lines()}
    assert peaks == {"red": 3, "green": 2, "blue": 0}


def test_cuts_patchnce_loss_gets_its_own_panel(tmp_path, drawn):
    history = {
        "epoch": [1, 2],
        "monet_gen_loss": [0.7, 0.8],
        "monet_disc_loss": [0.6, 0.5],
        "nce_loss": [5.1, 3.2],
    }
    plots.plot_loss_curves(history, tmp_path / "cut.png")
    titles = texts(drawn[0])["titles"]
    assert titles == ["generator losses", "discriminator losses", "PatchNCE loss"]
    nce = next(axis for axis in drawn[0].axes if axis.get_title() == "PatchNCE loss")
    assert list(nce.get_lines()[0].get_data()[1]) == history["nce_loss"]
