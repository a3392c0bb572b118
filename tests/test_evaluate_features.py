"""Feature extraction plumbing, the offline error path and `painter evaluate` (image sources:
test_evaluate_images.py).

No download is ever attempted: the plumbing runs on a tiny Keras model whose features (the mean
colour of each image) can be computed independently, and the offline test points the weights URL
at a closed local port."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from painter import cli
from painter.errors import DataError
from painter.evaluate import features, mifid


def write_png_folder(folder, pictures):
    folder.mkdir(parents=True, exist_ok=True)
    for index, picture in enumerate(pictures):
        Image.fromarray(picture).save(folder / f"real_{index:02d}.png")
    return folder


def write_png_zip(path, pictures):
    with zipfile.ZipFile(path, "w") as archive:
        for index, picture in enumerate(pictures):
            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, format="PNG")
            archive.writestr(f"gen_{index:02d}.png", buffer.getvalue())
        archive.writestr("__MACOSX/._gen_00.png", b"not an image")
    return path


def pictures(count, size, seed):
    return list(np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), np.uint8))


@pytest.fixture
def mean_colour_model(tmp_path):
    """A saved Keras model whose features are each image's mean R, G, B (0-255)."""
    import keras

    inputs = keras.Input(shape=(None, None, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs), name="mean_colour")
    path = tmp_path / "mean_colour.keras"
    model.save(path)
    return path


@pytest.mark.backend
def test_evaluate_with_a_custom_model_matches_the_math_on_independent_features(
    tmp_path, mean_colour_model
):
    generated = pictures(6, 16, seed=0)
    # mixed sizes on the real side: a size change starts a new batch
    real = pictures(5, 16, seed=1) + pictures(3, 24, seed=2)
    zip_path = write_png_zip(tmp_path / "images.zip", generated)
    real_dir = write_png_folder(tmp_path / "real", real)

    scores = mifid.evaluate(zip_path, real_dir, model=mean_colour_model, batch_size=4)

    expected = mifid.mifid_from_features(
        [g.reshape(-1, 3).mean(axis=0) for g in generated],
        [r.reshape(-1, 3).mean(axis=0) for r in real],
    )
    assert scores["generated_count"] == 6 and scores["real_count"] == 8
    assert scores["feature_dim"] == 3
    for key in ("fid", "memorization_distance", "mifid"):
        assert scores[key] == pytest.approx(expected[key], rel=1e-4), key
    assert scores["feature_model"] == str(mean_colour_model)


@pytest.mark.backend
def test_a_model_with_a_fixed_input_size_gets_resized_images():
    import keras

    inputs = keras.Input(shape=(8, 8, 3))
    model = keras.Model(inputs, keras.layers.Flatten()(inputs))
    extractor = features.load_feature_extractor(model=model)
    flat = np.full((20, 12, 3), 200, np.uint8)  # a constant image stays constant when resized
    out = extractor.extract([("a", flat), ("b", flat[:10, :10])], batch_size=8)
    assert out.shape == (2, 8 * 8 * 3)
    np.testing.assert_allclose(out, 200.0, rtol=1e-5)


def test_feature_model_must_return_one_vector_per_image():
    import keras

    inputs = keras.Input(shape=(None, None, 3))
    extractor = features.load_feature_extractor(model=keras.Model(inputs, inputs))
    with pytest.raises(DataError, match="must return \\[images, features\\]"):
        extractor.extract([("a", np.zeros((4, 4, 3), np.uint8))])


def test_offline_without_weights_is_a_clear_error_never_a_random_score(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(features, "KAGGLE_INPUT", tmp_path / "no_kaggle_input")
    # a closed local port: the download fails at once, as it does with no internet
    monkeypatch.setattr(features, "WEIGHTS_URL", "http://127.0.0.1:9/" + features.WEIGHTS_FILENAME)
    with pytest.raises(features.WeightsUnavailableError) as caught:
        features.load_feature_extractor()
    message = str(caught.value)
    assert features.WEIGHTS_FILENAME in message
    assert str(tmp_path / "keras_home" / "models") in message
    assert "--weights" in message and "random weights" in message
    assert not list((tmp_path / "keras_home").rglob("*.h5"))  # no partial download left


def test_weights_are_found_in_the_keras_cache_a_kaggle_input_or_a_given_folder(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(features, "KAGGLE_INPUT", tmp_path / "kaggle")
    in_kaggle = tmp_path / "kaggle" / "inception-v3" / "keras" / features.WEIGHTS_FILENAME
    in_kaggle.parent.mkdir(parents=True)
    in_kaggle.write_bytes(b"h5")
    assert features.resolve_inception_weights() == in_kaggle
    cached = tmp_path / "home" / "models" / features.WEIGHTS_FILENAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"h5")
    assert features.resolve_inception_weights() == cached
    assert features.resolve_inception_weights(in_kaggle.parent.parent) == in_kaggle
    with pytest.raises(features.WeightsUnavailableError, match="does not exist"):
        features.resolve_inception_weights(tmp_path / "missing.h5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(features.WeightsUnavailableError, match="holds neither"):
        features.resolve_inception_weights(tmp_path / "empty")


def test_a_wrong_weights_file_is_refused(tmp_path):
    bogus = tmp_path / features.WEIGHTS_FILENAME
    bogus.write_bytes(b"this is not an HDF5 file")
    with pytest.raises(features.WeightsUnavailableError, match="not an HDF5 weights file"):
        features.load_feature_extractor(weights=bogus)
    import h5py  # a real HDF5 file without Inception's layers

    with h5py.File(tmp_path / "other.h5", "w") as other:
        other.create_dataset("x", data=np.zeros(3))
    with pytest.raises(features.WeightsUnavailableError, match="cannot load"):
        features.load_feature_extractor(weights=tmp_path / "other.h5")


def test_cli_evaluate_prints_json_and_chooses_the_runtime_first(
    tmp_path, mean_colour_model, capsys, monkeypatch
):
    from painter.evaluate import commands

    calls = []
    monkeypatch.setattr(commands, "_select_runtime", lambda: calls.append("runtime"))
    zip_path = write_png_zip(tmp_path / "images.zip", pictures(4, 16, seed=4))
    real_dir = write_png_folder(tmp_path / "real", pictures(5, 16, seed=5))
    argv = ["evaluate", "--generated", str(zip_path), "--real", str(real_dir), "--quiet"]
    assert cli.main([*argv, "--model", str(mean_colour_model), "--limit", "3"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert calls == ["runtime"]
    assert (scores["generated_count"], scores["real_count"]) == (3, 3)
    assert scores["mifid"] == pytest.approx(
        scores["fid"] / (scores["memorization_distance_thresholded"] + 1e-15)
    )

    assert cli.main([*argv, "--weights", str(tmp_path / "w.h5"), "--model", "m.keras"]) == 1
    assert "not both" in capsys.readouterr().err
    assert cli.main([*argv, "--model", str(tmp_path / "missing.keras")]) == 1
    assert "missing.keras does not exist" in capsys.readouterr().err


@pytest.mark.slow  # builds InceptionV3 twice (stand-in and loaded): ~5 s on 2 idle cores
def test_inception_path_with_an_explicit_weights_file_gives_2048_pool_features(tmp_path):
    # Plumbing only: random weights saved to a file stand in for ImageNet's (no download here).
    import keras

    keras.utils.set_random_seed(0)
    stand_in = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None)
    weights = tmp_path / "stand_in.weights.h5"
    stand_in.save_weights(weights)
    extractor = features.load_feature_extractor(weights=weights)
    assert str(weights) in extractor.description
    photo = np.random.default_rng(0).integers(0, 256, (256, 256, 3), np.uint8)
    out = extractor.extract([("a", photo)])
    assert out.shape == (1, 2048)
    # the wrapper resizes to 299 and scales to [-1, 1] exactly as Keras' Inception expects
    resized = keras.ops.image.resize(photo[None].astype("float32"), (299, 299))
    direct = keras.ops.convert_to_numpy(
        stand_in(keras.applications.inception_v3.preprocess_input(resized), training=False)
    )
    np.testing.assert_allclose(out[0], direct[0], rtol=1e-4, atol=1e-5)
