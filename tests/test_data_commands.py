"""`python -m painter data inspect | convert | preview` through painter.cli.main."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf
from data_helpers import random_image
from PIL import Image

from painter.cli import main


def make_folder(path, count=3, size=20):
    path.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(random_image((size, size), seed=i)).save(path / f"img{i}.jpg", quality=95)
    return path


def test_convert_then_inspect(tmp_path, capsys):
    src = make_folder(tmp_path / "src")
    out = tmp_path / "out"
    code = main(
        [
            "data",
            "convert",
            str(src),
            str(out),
            "--target",
            "photo",
            "--records-per-file",
            "2",
            "--image-size",
            "16",
        ]
    )
    assert code == 0
    assert "3 records in 2 file(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["photo00-2.tfrec", "photo01-1.tfrec"]
    assert main(["data", "inspect", str(out), str(src)]) == 0
    summary = json.loads(capsys.readouterr().out)  # exactly one JSON object
    assert summary["ok"] is True and summary["problems"] == []
    assert summary["images_per_target"] == {"none": 3, "photo": 3}
    assert summary["shapes"] == {"16x16x3": 3, "20x20x3": 3}
    assert summary["sources"][0]["files"] == [
        {"file": "photo00-2.tfrec", "records": 2},
        {"file": "photo01-1.tfrec", "records": 1},
    ]


def test_inspect_reports_problems_and_exits_1(tmp_path, capsys):
    src = make_folder(tmp_path / "src")
    whole = (src / "img1.jpg").read_bytes()
    (src / "img1.jpg").write_bytes(whole[: len(whole) - 200])  # pixels cut off
    (src / "img2.jpg").write_text("junk")
    assert main(["data", "inspect", str(src)]) == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["ok"] is False and summary["images"] == 1
    problems = {p["where"].rsplit("/", 1)[-1]: p["problem"] for p in summary["problems"]}
    assert set(problems) == {"img1.jpg", "img2.jpg"}
    assert "cannot be decoded" in problems["img1.jpg"] and "not an image" in problems["img2.jpg"]
    assert "error: 2 problem(s) found" in captured.err


def test_bad_paths_give_a_clear_error(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "missing")]) == 1
    assert "error:" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert (
        main(["data", "convert", str(tmp_path / "empty"), str(tmp_path / "o"), "--target", "x"])
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("error:") and "empty" in err and "Traceback" not in err


def test_inspect_real_kaggle_folder(real_data_dir, capsys):
    assert main(["data", "inspect", "--quick", str(real_data_dir / "monet_tfrec")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images_per_target"] == {"monet": 300}
    assert summary["shapes"] == {"256x256x3": 300}
    assert [f["records"] for f in summary["sources"][0]["files"]] == [60] * 5


def test_preview_draws_a_grid(tmp_path, capsys):
    src = make_folder(tmp_path / "src", count=4, size=40)
    png = tmp_path / "grid.png"
    code = main(
        [
            "data",
            "preview",
            str(src),
            "--out",
            str(png),
            "--count",
            "3",
            "--config",
            "smoke",
            "--seed",
            "1",
        ]
    )
    assert code == 0 and png.is_file()
    picture = tf.io.decode_png(png.read_bytes()).numpy()
    assert picture.shape[0] > 100 and picture.shape[1] > 100 and np.std(picture) > 10


def test_preview_takes_images_of_exactly_the_training_size(tmp_path, capsys):
    """The competition's 256-px JPEGs under kaggle-tpu's 286-px jitter, in small: smoke's 32-px
    images and 36-px jitter. Training enlarges them to the jitter's size; so must the preview,
    not refuse them as smaller than 36."""
    src = make_folder(tmp_path / "src", count=3, size=32)
    png = tmp_path / "grid.png"
    argv = ["data", "preview", str(src), "--out", str(png), "--config", "smoke", "--count", "2"]
    assert main(argv) == 0 and png.is_file()
