"""End-to-end training on tiny generated TFRecords: the workdir a run leaves, exact resume after an
interruption, the NaN guard, and the refusal of an incompatible workdir."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from painter.config import preset
from painter.errors import ConfigError
from painter.training.checkpoint import latest_checkpoint, list_checkpoints

# Weights after a resume vs an unbroken run. Both runs see the same batches, learning rates and
# pool draws; what may differ is the order of floating-point reductions in multithreaded CPU
# kernels. Measured difference here: 0 on TensorFlow and JAX CPU (bit-identical); the bound
# leaves room for other machines.
RESUME_ATOL = 1e-5


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from painter.training.synthetic import make_dataset

    return make_dataset(
        tmp_path_factory.mktemp("data"), photos=16, monets=8, size=48, records_per_file=8
    )


@pytest.fixture(scope="module")
def runtime():
    import keras

    from painter.runtime import select_runtime

    return select_runtime(keras.backend.backend(), "single")


def smoke(**changes):
    return preset("smoke").replace(**changes)


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory, tiny_data, runtime):
    """A 2-epoch smoke run, never interrupted."""
    from painter.training.train import train

    workdir = tmp_path_factory.mktemp("unbroken")
    result = train(smoke(), workdir, data=tiny_data, runtime=runtime, verbose=0)
    return workdir, result


class InterruptAfterEpoch:
    """A Keras callback (made lazily: Keras loads after the runtime) that raises
    KeyboardInterrupt at the end of one epoch, like a user pressing Ctrl-C."""

    def __new__(cls, epoch: int):
        import keras

        class Interrupt(keras.callbacks.Callback):
            def on_epoch_end(self, index, logs=None):
                if index + 1 == epoch:
                    raise KeyboardInterrupt

        return Interrupt()


@pytest.mark.backend
def test_smoke_run_leaves_a_complete_workdir(unbroken, keras_backend):
    import keras

    workdir, result = unbroken
    assert (result.start_epoch, result.epochs_done, result.stop_reason) == (0, 2, None)
    assert [c.epoch for c in list_checkpoints(workdir)] == [1, 2]
    meta = latest_checkpoint(workdir).meta
    assert meta["config"] == smoke().to_dict() and meta["keras_backend"] == keras_backend
    assert meta["painter_version"]

    history = json.loads((workdir / "history.json").read_text())
    assert history["epoch"] == [1, 2] and len(history["epoch_seconds"]) == 2
    for name in (
        "monet_gen_loss",
        "photo_gen_loss",
        "monet_disc_loss",
        "photo_disc_loss",
        "cycle_loss",
        "identity_loss",
    ):
        assert len(history[name]) == 2 and all(np.isfinite(history[name]))
    assert meta["history"] == history
    assert sorted(p.name for p in (workdir / "samples").iterdir()) == [
        "epoch-0001.png",
        "epoch-0002.png",
    ]
    assert (workdir / "loss_curves.png").stat().st_size > 0
    assert json.loads((workdir / "config.json").read_text())["preset"] == "smoke"

    generator = keras.saving.load_model(workdir / "monet_generator.keras")
    photo = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(result.model.monet_generator(photo))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(generator(photo)), expected, atol=1e-6)
    assert not list((workdir / "checkpoints").glob("*.tmp-*"))


@pytest.mark.backend
def test_an_interrupted_run_resumes_to_the_same_weights(unbroken, tmp_path, tiny_data, runtime):
    from painter.training.train import train

    with pytest.raises(KeyboardInterrupt):
        train(
            smoke(),
            tmp_path,
            data=tiny_data,
            runtime=runtime,
            verbose=0,
            callbacks=[InterruptAfterEpoch(1)],
        )
    assert [c.epoch for c in list_checkpoints(tmp_path)] == [1]

    lines = []
    resumed = train(
        smoke(), tmp_path, data=tiny_data, runtime=runtime, verbose=0, printer=lines.append
    )
    assert resumed.start_epoch == 1 and resumed.epochs_done == 2
    assert any(line.startswith("resuming from") for line in lines)

    reference = unbroken[1].model.get_state()
    state = resumed.model.get_state()
    assert state.keys() == reference.keys()
    worst = max(
        float(np.max(np.abs(state[k].astype("float64") - reference[k])))
        for k in reference
        if reference[k].size
    )
    assert worst <= RESUME_ATOL, f"resumed weights differ from the unbroken run's by {worst}"
    # The learning-rate schedule resumed at the same step (the optimizers' iterations).
    iterations = [k for k in reference if k.endswith("iteration") or k.endswith("iterations")]
    assert iterations and all(int(state[k]) == int(reference[k]) == 8 for k in iterations)
    unbroken_history = json.loads((unbroken[0] / "history.json").read_text())
    for name in ("cycle_loss", "monet_disc_loss"):
        np.testing.assert_allclose(resumed.history[name], unbroken_history[name], rtol=1e-4)


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(
    unbroken, tmp_path, tiny_data, runtime
):
    from painter.training.callbacks import TrainingDivergedError
    from painter.training.train import train

    # A workdir after epoch 1 of the unbroken run.
    shutil.copytree(unbroken[0], tmp_path, dirs_exist_ok=True)
    shutil.rmtree(tmp_path / "checkpoints" / "epoch-0002")
    (tmp_path / "samples" / "epoch-0002.png").unlink()
    good_state = (tmp_path / "checkpoints" / "epoch-0001" / "state.npz").read_bytes()

    # An absurd learning rate blows the weights up within a step or two.
    config = smoke(generator_lr=1e30, discriminator_lr=1e30)
    with pytest.raises(TrainingDivergedError) as error:
        train(config, tmp_path, data=tiny_data, runtime=runtime, verbose=0)
    message = str(error.value)
    assert "training diverged" in message and "in epoch 2" in message
    assert "_loss` became" in message or "hold NaN/Inf" in message  # the loss (or weight) named
    assert "batch" in message and "epoch-0001" in message and "is kept" in message
    assert [c.epoch for c in list_checkpoints(tmp_path)] == [1]
    assert (tmp_path / "checkpoints" / "epoch-0001" / "state.npz").read_bytes() == good_state
    assert json.loads((tmp_path / "history.json").read_text())["epoch"] == [1]
    assert not (tmp_path / "samples" / "epoch-0002.png").exists()


def test_a_workdir_of_another_architecture_is_refused(unbroken, tmp_path, tiny_data):
    from painter.training.train import train

    shutil.copytree(unbroken[0], tmp_path, dirs_exist_ok=True)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError) as error:
        train(smoke(generator_filters=16, resnet_blocks=1), tmp_path, data=tiny_data)
    message = str(error.value)
    assert "generator_filters: 8 there, 16 now" in message
    assert "resnet_blocks: 2 there, 1 now" in message
    assert "new --workdir" in message
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing touched


def test_a_finished_workdir_trains_nothing_and_reports_other_changes(unbroken, tmp_path, tiny_data):
    from painter.training.train import train

    shutil.copytree(unbroken[0], tmp_path, dirs_exist_ok=True)
    lines = []
    result = train(smoke(cycle_weight=5.0), tmp_path, data=tiny_data, printer=lines.append)
    assert result.epochs_done == 2 and result.model is None
    assert any("cycle_weight 10.0 -> 5.0" in line for line in lines)
    assert any("nothing to train" in line for line in lines)


def test_cli_refuses_an_incompatible_workdir_with_a_clear_message(
    unbroken, tmp_path, tiny_data, capsys
):
    from painter.cli import main

    shutil.copytree(unbroken[0], tmp_path, dirs_exist_ok=True)
    code = main(
        [
            "train",
            "--config",
            "smoke",
            "--data",
            str(tiny_data),
            "--workdir",
            str(tmp_path),
            "--set",
            "image_size=16",
            "resize_size=18",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: workdir") and "image_size: 32 there, 16 now" in err


def test_cli_reports_bad_set_values(capsys, tmp_path):
    from painter.cli import main

    assert (
        main(["train", "--config", "smoke", "--workdir", str(tmp_path), "--set", "epochs=many"])
        == 1
    )
    assert "`epochs` must be a int. Received: 'many'" in capsys.readouterr().err


def test_out_of_time_mid_epoch_stops_at_a_batch_end_and_exports_the_generator(
    tmp_path, tiny_data, runtime
):
    """A budget already spent once compilation is done: training stops after the first batch;
    the epoch is incomplete, so no checkpoint (a resume redoes it), but the generator is saved
    for the submission."""
    from painter.training.budget import TimeBudget
    from painter.training.train import train

    result = train(
        smoke(),
        tmp_path,
        data=tiny_data,
        runtime=runtime,
        verbose=0,
        budget=TimeBudget(limit_seconds=1.0),
    )
    assert result.epochs_done == 0
    assert "middle of the epoch after batch 0" in result.stop_reason
    assert list_checkpoints(tmp_path) == []
    assert result.generator_path is not None and result.generator_path.is_file()
