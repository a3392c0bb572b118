"""TensorBoard logging writes event files holding the epoch scalars and sample images."""

from __future__ import annotations

import numpy as np
import pytest

from painter.tensorboard_logging import tensorboard_callback


def read_events(log_dir) -> dict[str, list[tuple[int, object]]]:
    import tensorflow as tf

    found: dict[str, list[tuple[int, object]]] = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    return found


@pytest.mark.backend
def test_fit_writes_the_scalars_and_sample_images_per_epoch(tmp_path):
    import keras

    inputs = keras.Input(shape=(8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="tanh")(inputs))
    model.compile(optimizer="sgd", loss="mse")
    photos = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), np.uint8)
    scaled = photos.astype("float32") / 127.5 - 1
    callback = tensorboard_callback(tmp_path, sample_photos=photos, image_every=2, max_images=2)
    model.fit(scaled, scaled, epochs=3, batch_size=3, verbose=0, callbacks=[callback])

    events = read_events(tmp_path)
    assert [step for step, _ in events["loss"]] == [1, 2, 3]
    assert [step for step, _ in events["real_photo"]] == [1]
    assert [step for step, _ in events["fake_monet"]] == [1, 2]  # epoch 1, then every 2nd
    # an image summary holds width, height and one encoded PNG per image
    assert len(events["fake_monet"][0][1]) == 2 + 2
    losses = [float(value) for _, value in events["loss"]]
    assert all(np.isfinite(losses))


def test_cyclegan_scalars_are_logged_with_their_names(tmp_path):
    callback = tensorboard_callback(tmp_path)
    logs = {"monet_gen_loss": 2.5, "cycle_loss": np.float32(1.25), "note": "not a number"}
    callback.on_epoch_end(0, logs)
    callback.on_epoch_end(1, {"monet_gen_loss": 2.0, "cycle_loss": 1.0})
    callback.on_train_end()
    events = read_events(tmp_path)
    assert set(events) == {"monet_gen_loss", "cycle_loss"}
    assert [(step, float(v)) for step, v in events["cycle_loss"]] == [(1, 1.25), (2, 1.0)]
    with pytest.raises(ValueError, match="image_every"):
        tensorboard_callback(tmp_path, image_every=0)
