"""The configs the speed benchmarks build (`bench_train_step.py`, `profile_step.py`): each is a
valid painter Config with the networks it names. A preset change once made the ResNet setup an
invalid config (lazy R1 without R1), and both scripts stopped at their start."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_train_step  # noqa: E402
import profile_step  # noqa: E402

from painter.config import preset  # noqa: E402


def test_the_resnet_setup_is_cpu_smalls_sizes_with_the_papers_resnet_and_no_r1():
    config = bench_train_step.resnet_config()
    small = preset("cpu-small")
    assert (config.generator, config.objective) == ("resnet", "cyclegan")
    assert config.r1_weight == 0.0
    for field in ("image_size", "generator_filters", "discriminator_filters", "global_batch_size"):
        assert getattr(config, field) == getattr(small, field), field


@pytest.mark.parametrize("setup", ["starter", "cpu-small", "resnet"])
@pytest.mark.parametrize("bf16", [False, True])
def test_every_profile_setup_is_a_valid_config_at_the_asked_batch(setup, bf16):
    config = profile_step.setup_config(setup, batch=3, bf16=bf16)
    assert config.global_batch_size == 3
    assert config.mixed_precision is bf16
    expected = {"starter": "unet", "cpu-small": "unet", "resnet": "resnet"}[setup]
    assert config.generator == expected


def test_the_per_layer_flops_add_up_to_the_steps_flops_on_the_starters_unet():
    """`profile_step.py --by-layer`'s FLOPs: every convolution (a transposed one counted at its
    input's pixels) of a step of the starter's U-Net (transposed convolutions), summed, is the
    step's FLOPs as bench_train_step counts them from TensorFlow's profiler (which also counts
    the norms and activations: a few % more)."""
    from painter.cyclegan.model import build_cyclegan

    config = profile_step.setup_config("starter", batch=2, bf16=False).replace(
        image_size=32, resize_size=32, generator_filters=8, discriminator_filters=8
    )
    model = build_cyclegan(config, steps_per_epoch=1)
    layers = profile_step.conv_layer_flops(model, config)
    assert ("generator", "up1_conv") in layers and ("discriminator", "c1_conv") in layers
    ratio = sum(layers.values()) / bench_train_step.step_flops(model, config, batch=2)
    assert 0.9 < ratio <= 1.0, ratio


def test_keras_convolutions_gives_the_starter_keras_own_layers_and_then_restores_painters():
    """The starter's rows are built inside `keras_convolutions()`: painter's U-Net layers run
    keras' own convolution there (the innermost 2x2 -> 1x1 level a Conv2D, not a matmul), the
    same output, and painter's way again after it."""
    import tensorflow as tf

    from painter.models import PhaseConv2D

    layer = PhaseConv2D(4, 4, strides=2, padding="same")
    layer.build((1, 2, 2, 3))
    images = np.random.default_rng(0).normal(size=(1, 2, 2, 3)).astype("float32")

    def traced() -> tuple[set[str], np.ndarray]:
        function = tf.function(lambda x: layer(x))
        graph = function.get_concrete_function(tf.TensorSpec(images.shape)).graph
        return {op.type for op in graph.get_operations()}, function(images).numpy()

    with bench_train_step.keras_convolutions():
        keras_ops, keras_output = traced()
    painter_ops, painter_output = traced()
    assert "Conv2D" in keras_ops and "MatMul" not in keras_ops
    assert "MatMul" in painter_ops and "Conv2D" not in painter_ops
    np.testing.assert_allclose(keras_output, painter_output, rtol=1e-5, atol=1e-5)
