"""The TensorFlow training step: the shared forward pass (`step.forward`) under a GradientTape,
then each optimizer applies its networks' gradients (steps 3-5 of the plan in `step.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keras import ops

from painter.cyclegan.adaptive import AdaptiveStrength
from painter.cyclegan.averages import LeCamAverages
from painter.cyclegan.diffaugment import DiffAugment
from painter.cyclegan.losses import r1_score
from painter.cyclegan.patchnce import PatchHeads
from painter.cyclegan.pool import ImagePool
from painter.cyclegan.step import (
    POOLS,
    STATE_LAYERS,
    STATE_SCALARS,
    forward,
    logged_losses,
    network_names,
    step_losses,
)

if TYPE_CHECKING:
    from painter.cyclegan.model import CycleGAN


def train_step_tensorflow(model: CycleGAN, data) -> dict:
    """One update of `model` on the batch `data` = (real_photo, real_monet); returns the logs."""
    import tensorflow as tf

    real_photo, real_monet = data
    # Keras' optimizer SUMS gradients over replicas: each replica's loss is its sum over its
    # examples divided by the GLOBAL batch, so the sum is the gradient of the global mean.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    global_batch = tf.shape(real_photo)[0] * replicas
    nets = {name: getattr(model, name) for name in (*network_names(model), *POOLS, *STATE_LAYERS)}
    nets["monet_discriminator_for_generator"] = model.monet_discriminator
    if model.objective == "cut":
        nets.update(model.generator_views)  # G's features: views on G's own layers
    else:
        nets["photo_discriminator_for_generator"] = model.photo_discriminator
    called = {k: _training_call(v) for k, v in nets.items()}
    called["value_and_input_gradient"] = lambda name, images, count, active=None: (
        value_and_input_gradient(nets[name], images, count, active)
    )
    with tf.GradientTape(persistent=True) as tape:
        # Read before this step's update: the first step is step 0 (as on JAX).
        step = ops.convert_to_tensor(model.discriminator_optimizer.iterations)
        outputs = forward(model, real_photo, real_monet, called, step=step)
        losses = step_losses(outputs, model.loss_settings, global_batch)
    generator_variables = model.generator_variables()
    discriminator_variables = model.discriminator_variables()
    generator_grads = tape.gradient(losses["generator_total"], generator_variables)
    discriminator_grads = tape.gradient(losses["discriminator_total"], discriminator_variables)
    del tape
    model.generator_optimizer.apply_gradients(
        zip(generator_grads, generator_variables, strict=True)
    )
    model.discriminator_optimizer.apply_gradients(
        zip(discriminator_grads, discriminator_variables, strict=True)
    )
    if model.monet_generator_average is not None:
        model.monet_generator_average(
            [ops.convert_to_tensor(w) for w in model.monet_generator.trainable_variables]
        )
    context = tf.distribute.get_replica_context()
    logged = {name: losses[name] for name in logged_losses(model)}
    if replicas > 1 and context is not None:
        # Each replica holds its share of the global mean; the sum is the global mean.
        logged = context.all_reduce(tf.distribute.ReduceOp.SUM, logged)
    for name in STATE_SCALARS:  # not summed: every replica reads the same value
        if name in losses:
            logged[name] = losses[name]
    for tracker in model.loss_trackers:
        tracker.update_state(logged[tracker.name])
    return {tracker.name: tracker.result() for tracker in model.loss_trackers}


def value_and_input_gradient(discriminator, images, count, active=None):
    """The `discriminator` network's logits on `images` (a training call) and d r1_score /
    d images (its first `count` images). Under the step's own tape, which records the
    gradient's computation too, R1's penalty so has gradients for D's weights; alone
    (benchmarks/d_slope.py) it measures D's slope. `active` (a boolean scalar; None = always):
    where false, `tf.cond` skips R1's gradient (zeros)."""
    import tensorflow as tf

    def input_gradient(call, real):
        with tf.GradientTape() as tape:
            tape.watch(real)
            logits = call(real)
            score = r1_score(logits, count)
        return logits, tape.gradient(score, real)

    if active is None:
        return input_gradient(lambda x: discriminator(x, training=True), images)

    def with_gradient():
        # The real images only: their slope is all R1 reads, and with no trainable input (the
        # stop) the cond's gradient is D's weights' alone. Under a tape, tf.cond builds its
        # branches' gradients when traced; D's own forward pass outside the cond keeps those to
        # R1's: ~20% less Python work to trace a step with every recipe, the same update to
        # float rounding (test_cyclegan_equivalence). training=False: spectral norm's u moves
        # once a step, in the call below (this read runs first: TF orders operations on one
        # variable as written), so both calls use the same u, as on JAX.
        real = tf.stop_gradient(images[:count])
        _, gradient = input_gradient(lambda x: discriminator(x, training=False), real)
        return tf.concat([gradient, tf.zeros_like(images[count:])], axis=0)

    gradient = tf.cond(active, with_gradient, lambda: tf.zeros_like(images))
    return discriminator(images, training=True), gradient


def _training_call(layer) -> Callable[..., Any]:
    """How the step calls a layer: state layers as they are, networks with training=True."""
    if isinstance(layer, (ImagePool, DiffAugment, LeCamAverages, AdaptiveStrength, PatchHeads)):
        return layer
    return lambda x: layer(x, training=True)
