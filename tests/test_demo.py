"""`python -m painter demo`: generated data in the competition's format, a short training run,
a valid images.zip, everything in the workdir."""

from __future__ import annotations

import json

import numpy as np

from painter.submission.validate import validate_submission
from painter.training.synthetic import make_images


def test_generated_domains_differ_the_way_the_demo_says():
    photos = make_images("photo", 8, size=64, seed=1)
    paintings = make_images("monet", 8, size=64, seed=1)
    assert photos.shape == paintings.shape == (8, 64, 64, 3) and photos.dtype == np.uint8
    np.testing.assert_array_equal(photos, make_images("photo", 8, size=64, seed=1))  # seeded

    def roughness(images):  # mean absolute difference between neighbouring pixels
        return np.abs(np.diff(images.astype(float), axis=2)).mean()

    assert roughness(paintings) > 1.5 * roughness(photos)  # brush strokes over smooth scenes
    # The palette: violet shadows lift blue relative to green in the paintings.
    blue_minus_green = lambda images: (images[..., 2].astype(float) - images[..., 1]).mean()  # noqa: E731
    assert blue_minus_green(paintings) > blue_minus_green(photos)


def test_demo_command_trains_and_writes_a_valid_zip(tmp_path, capsys):
    from painter.cli import main

    workdir = tmp_path / "demo"
    code = main(
        [
            "demo",
            "--workdir",
            str(workdir),
            "--set",
            "epochs=1",
            "decay_epochs=0",
            "steps_per_epoch=3",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "lowers the minimum to 240" in out and "valid" in out
    assert sorted(p.name for p in (workdir / "data").iterdir()) == [
        "monet_jpg",
        "monet_tfrec",
        "photo_jpg",
        "photo_tfrec",
    ]
    assert list((workdir / "data" / "photo_tfrec").glob("photo*.tfrec"))
    run = workdir / "run"
    for name in (
        "config.json",
        "history.json",
        "loss_curves.png",
        "monet_generator.keras",
        "samples/epoch-0001.png",
        "checkpoints/epoch-0001/state.npz",
    ):
        assert (run / name).is_file(), name
    assert json.loads((run / "history.json").read_text())["epoch"] == [1]
    report = validate_submission(workdir / "images.zip", min_count=240)
    assert report.ok and report.count == 240
    for name in ("rgb_histograms.png", "augmentation_preview.png"):
        from PIL import Image

        with Image.open(workdir / name) as picture:  # a real PNG, not an empty file
            assert picture.format == "PNG" and min(picture.size) > 100, name
    for path in (
        "images.zip",
        "loss_curves.png",
        "samples",
        "rgb_histograms.png",
        "augmentation_preview.png",
    ):
        assert path in out  # says where everything is
