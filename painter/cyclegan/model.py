"""CycleGAN (Zhu et al. 2017) as a `keras.Model`: `fit()` trains all four networks.

One training step, on either backend:
  1. Translate both ways and back: fake_monet = G(real_photo), cycled_photo = F(fake_monet),
     fake_photo = F(real_monet), cycled_monet = G(fake_photo); identity: same_monet = G(real_monet),
     same_photo = F(real_photo). Calls that share a network and an input size run as one call of
     twice the batch (G on [real_photo; real_monet]): instance norm is per image, so this is exact,
     and larger calls fill a TPU's matrix units and halve the per-call overhead.
  2. Judge: D_monet(fake_monet) for the generator's loss, and D_monet on [real_monet; the image
     pool's answer] for the discriminator's loss (and the photo mirror images); with DiffAugment
     every one of these inputs is augmented first.
  3. Losses (`painter.cyclegan.losses`, shared by both backends), averaged over the GLOBAL batch;
     with LeCam, the discriminators' regulariser against their running averages.
  4. Gradients: generators from the generator total, discriminators from the discriminator total,
     both from the same forward pass; each set applied by its own Adam.
  5. With an EMA, the Monet generator's weight average folds in the new weights.
The TensorFlow step uses a GradientTape; the JAX step is stateless (state in, state out) so Keras
can jit it and shard it with keras.distribution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np
from keras import ops

from painter.cyclegan.averages import LeCamAverages, WeightAverage
from painter.cyclegan.diffaugment import DiffAugment
from painter.cyclegan.losses import LOGGED_LOSSES, LossSettings, cyclegan_losses
from painter.cyclegan.optimizer import CycleGANOptimizers
from painter.cyclegan.pool import ImagePool
from painter.cyclegan.schedule import LinearDecaySchedule

if TYPE_CHECKING:
    from painter.config import Config

NETWORKS = ("monet_generator", "photo_generator", "monet_discriminator", "photo_discriminator")
POOLS = ("monet_pool", "photo_pool")
# Layers whose non-trainable variables the step updates besides the pools (always built, so a
# checkpoint's keys do not depend on whether DiffAugment or LeCam is switched on).
STATE_LAYERS = ("diffaugment", "monet_lecam", "photo_lecam")


def default_optimizer(learning_rate: Any = 2e-4, beta_1: float = 0.5, name: str = "adam"):
    """The paper's Adam(2e-4, beta_1=0.5)."""
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, name=name)


@keras.saving.register_keras_serializable(package="painter")
class CycleGAN(keras.Model):
    """Two generators and two PatchGAN discriminators trained with the CycleGAN objective.

    Args:
        monet_generator: photo -> Monet (G). `model(real_photo)` returns its output.
        photo_generator: Monet -> photo (F).
        monet_discriminator / photo_discriminator: judge Monets / photos (logits).
        pool_size: generated images remembered per domain for the discriminators (0 = off).
        seed: seed of the pools' and DiffAugment's random choices.
        diffaugment: DiffAugment policies applied to every discriminator input (empty = off).
        ema_decay: > 0 keeps an exponential moving average of the Monet generator's weights;
            `painting_generator()` paints with it.

    Logged scalars (History, progress bar), each averaged over the global batch and the epoch:
        monet_gen_loss / photo_gen_loss: the adversarial term of G / F (unweighted);
        monet_disc_loss / photo_disc_loss: the halved discriminator losses;
        cycle_loss: L1(cycled_photo, real_photo) + L1(cycled_monet, real_monet) (before lambda);
        identity_loss: L1(same_monet, real_monet) + L1(same_photo, real_photo) (before weights).
    The generators minimise monet_gen + photo_gen + lambda * cycle + identity_weight * lambda *
    identity; the discriminators minimise monet_disc + photo_disc.

    Example:
        >>> model = CycleGAN(g, f, d_monet, d_photo)
        >>> model.build((None, 256, 256, 3)); model.compile()
        >>> model.fit(dataset_of_real_photo_real_monet_tuples, epochs=30)
    """

    def __init__(
        self,
        monet_generator,
        photo_generator,
        monet_discriminator,
        photo_discriminator,
        pool_size: int = 50,
        seed: int = 0,
        diffaugment=(),
        ema_decay: float = 0.0,
        **kwargs,
    ):
        kwargs.setdefault("name", "cyclegan")
        super().__init__(**kwargs)
        self.monet_generator = monet_generator
        self.photo_generator = photo_generator
        self.monet_discriminator = monet_discriminator
        self.photo_discriminator = photo_discriminator
        self.pool_size = int(pool_size)
        self.seed = int(seed)
        self.monet_pool = ImagePool(pool_size, seed=seed, name="monet_pool")
        self.photo_pool = ImagePool(pool_size, seed=seed + 1, name="photo_pool")
        self.diffaugment = DiffAugment(tuple(diffaugment), seed=seed + 2, name="diffaugment")
        self.monet_lecam = LeCamAverages(name="monet_lecam")
        self.photo_lecam = LeCamAverages(name="photo_lecam")
        self.ema_decay = float(ema_decay)
        self.monet_generator_average = None
        if self.ema_decay > 0:
            weights = monet_generator.trainable_weights
            self.monet_generator_average = WeightAverage(
                [w.shape for w in weights], self.ema_decay, name="monet_generator_average"
            )
            for average, weight in zip(self.monet_generator_average.averages, weights, strict=True):
                # A host copy: on JAX, assigning the array itself would share its buffer.
                average.assign(np.array(weight.numpy()))  # start as a copy of the weights
        self._painting_copy: keras.Model | None = None
        # Made here and listed in `metrics` so fit() resets them every epoch.
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in LOGGED_LOSSES]
        self.loss_settings = LossSettings()

    # -- Keras plumbing -------------------------------------------------------------------------
    def build(self, input_shape):
        """Build the image pools for images of `input_shape` = (batch, H, W, 3)."""
        image_shape = tuple(input_shape)
        self.monet_pool.build(image_shape)
        self.photo_pool.build(image_shape)
        self.built = True

    def call(self, real_photo, training=False):
        """photo -> Monet: `fake_monet`."""
        return self.monet_generator(real_photo, training=training)

    @property
    def metrics(self):
        return list(self.loss_trackers)

    def compile(
        self,
        generator_optimizer=None,
        discriminator_optimizer=None,
        *,
        adversarial_loss: str = "lsgan",
        label_smoothing: float = 0.0,
        cycle_weight: float = 10.0,
        identity_weight: float = 0.5,
        lecam_weight: float = 0.0,
        steps_per_execution: int = 1,
        jit_compile: Any = "auto",
        run_eagerly: bool = False,
    ):
        """Set the optimizers and the objective.

        Args:
            generator_optimizer / discriminator_optimizer: default Adam(2e-4, beta_1=0.5) each
                (learning rates may differ); they must be two distinct objects.
            adversarial_loss: "lsgan" (least squares, the paper) or "bce" (the starter's).
            label_smoothing: for "bce": the real label is 1 - label_smoothing.
            cycle_weight: lambda of the cycle-consistency loss (paper: 10).
            identity_weight: weight of the identity loss, times cycle_weight (paper: 0.5; 0 = off).
            lecam_weight: weight of the LeCam regulariser of the discriminators (0 = off).
            steps_per_execution, jit_compile, run_eagerly: as `keras.Model.compile`.
        """
        super().compile(
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            run_eagerly=run_eagerly,
        )
        self.loss_settings = LossSettings(
            adversarial_loss,
            float(label_smoothing),
            float(cycle_weight),
            float(identity_weight),
            float(lecam_weight),
        )
        generator_optimizer = generator_optimizer or default_optimizer(name="generator_adam")
        discriminator_optimizer = discriminator_optimizer or default_optimizer(
            name="discriminator_adam"
        )
        self.optimizer = CycleGANOptimizers(
            generator_optimizer,
            discriminator_optimizer,
            self.generator_variables,
            self.discriminator_variables,
        )
        self.optimizer.build()

    @property
    def generator_optimizer(self):
        return self.optimizer.generator

    @property
    def discriminator_optimizer(self):
        return self.optimizer.discriminator

    def generator_variables(self) -> list:
        return self.monet_generator.trainable_variables + self.photo_generator.trainable_variables

    def discriminator_variables(self) -> list:
        return (
            self.monet_discriminator.trainable_variables
            + self.photo_discriminator.trainable_variables
        )

    # -- the step, shared part ------------------------------------------------------------------
    def _forward(self, real_photo, real_monet, nets) -> dict:
        """Steps 1-2 of the plan. `nets[name](x)` runs a network (or a state layer); the
        `*_for_generator` discriminators are the same network, separated so JAX can differentiate
        them apart."""
        real_photo = ops.cast(real_photo, "float32")
        real_monet = ops.cast(real_monet, "float32")
        batch = ops.shape(real_photo)[0]

        def halves(images):
            return images[:batch], images[batch:]

        outputs = {"real_photo": real_photo, "real_monet": real_monet}
        if self.loss_settings.identity_weight > 0:
            fake_monet, outputs["same_monet"] = halves(
                nets["monet_generator"](ops.concatenate([real_photo, real_monet], axis=0))
            )
            fake_photo, outputs["same_photo"] = halves(
                nets["photo_generator"](ops.concatenate([real_monet, real_photo], axis=0))
            )
        else:
            fake_monet = nets["monet_generator"](real_photo)
            fake_photo = nets["photo_generator"](real_monet)
        outputs["cycled_photo"] = nets["photo_generator"](fake_monet)
        outputs["cycled_monet"] = nets["monet_generator"](fake_photo)
        augment = nets["diffaugment"]
        outputs["disc_fake_monet"] = nets["monet_discriminator_for_generator"](augment(fake_monet))
        outputs["disc_fake_photo"] = nets["photo_discriminator_for_generator"](augment(fake_photo))
        judged_monet = nets["monet_discriminator"](
            augment(ops.concatenate([real_monet, nets["monet_pool"](fake_monet)], axis=0))
        )
        judged_photo = nets["photo_discriminator"](
            augment(ops.concatenate([real_photo, nets["photo_pool"](fake_photo)], axis=0))
        )
        outputs["disc_real_monet"], outputs["disc_pooled_monet"] = halves(judged_monet)
        outputs["disc_real_photo"], outputs["disc_pooled_photo"] = halves(judged_photo)
        if self.loss_settings.lecam_weight > 0:
            outputs["lecam_monet"] = nets["monet_lecam"](
                outputs["disc_real_monet"], outputs["disc_pooled_monet"]
            )
            outputs["lecam_photo"] = nets["photo_lecam"](
                outputs["disc_real_photo"], outputs["disc_pooled_photo"]
            )
        return outputs

    def train_step(self, *args):
        """One CycleGAN update: `train_step(data)` on TensorFlow, `train_step(state, data)` on
        JAX."""
        if keras.backend.backend() == "jax":
            return self._train_step_jax(*args)
        if keras.backend.backend() == "tensorflow":
            return self._train_step_tensorflow(*args)
        raise NotImplementedError(
            f"CycleGAN trains on the tensorflow and jax backends, not {keras.backend.backend()!r}."
        )

    # -- TensorFlow ----------------------------------------------------------------------------
    def _train_step_tensorflow(self, data):
        import tensorflow as tf

        real_photo, real_monet = data
        # Keras' optimizer SUMS gradients over replicas: each replica's loss is its sum over its
        # examples divided by the GLOBAL batch, so the sum is the gradient of the global mean.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        global_batch = tf.shape(real_photo)[0] * replicas
        nets = {name: getattr(self, name) for name in (*NETWORKS, *POOLS, *STATE_LAYERS)}
        nets["monet_discriminator_for_generator"] = self.monet_discriminator
        nets["photo_discriminator_for_generator"] = self.photo_discriminator
        with tf.GradientTape(persistent=True) as tape:
            outputs = self._forward(
                real_photo, real_monet, {k: _training_call(v) for k, v in nets.items()}
            )
            losses = cyclegan_losses(outputs, self.loss_settings, global_batch)
        generator_variables = self.generator_variables()
        discriminator_variables = self.discriminator_variables()
        generator_grads = tape.gradient(losses["generator_total"], generator_variables)
        discriminator_grads = tape.gradient(losses["discriminator_total"], discriminator_variables)
        del tape
        self.generator_optimizer.apply_gradients(
            zip(generator_grads, generator_variables, strict=True)
        )
        self.discriminator_optimizer.apply_gradients(
            zip(discriminator_grads, discriminator_variables, strict=True)
        )
        if self.monet_generator_average is not None:
            self.monet_generator_average(
                [ops.convert_to_tensor(w) for w in self.monet_generator.trainable_variables]
            )
        context = tf.distribute.get_replica_context()
        logged = {name: losses[name] for name in LOGGED_LOSSES}
        if replicas > 1 and context is not None:
            # Each replica holds its share of the global mean; the sum is the global mean.
            logged = context.all_reduce(tf.distribute.ReduceOp.SUM, logged)
        for tracker in self.loss_trackers:
            tracker.update_state(logged[tracker.name])
        return {tracker.name: tracker.result() for tracker in self.loss_trackers}

    # -- JAX -----------------------------------------------------------------------------------
    def _layout(self) -> dict[str, dict[str, slice]]:
        """Where each sub-layer's variables sit in the flat value lists Keras' JAX trainer passes
        to `train_step` (the model's `trainable_variables` / `non_trainable_variables`): for
        "trainable" and "non_trainable", layer name -> slice. Checked against the model's own lists,
        so a change in Keras' ordering fails loudly instead of mixing weights up."""
        if getattr(self, "_layout_cache", None) is None:
            names = [*NETWORKS, *POOLS, *STATE_LAYERS]
            if self.monet_generator_average is not None:
                names.append("monet_generator_average")
            layout = {}
            for kind in ("trainable", "non_trainable"):
                model_variables = getattr(self, f"{kind}_variables")
                slices, flat, start = {}, [], 0
                for name in names:
                    variables = getattr(getattr(self, name), f"{kind}_variables")
                    slices[name] = slice(start, start + len(variables))
                    flat += variables
                    start += len(variables)
                if len(flat) != len(model_variables) or any(
                    a is not b for a, b in zip(flat, model_variables, strict=False)
                ):
                    raise RuntimeError(
                        f"CycleGAN's {kind} variables are not its sub-layers' in the order "
                        f"{names}; the JAX step cannot split them."
                    )
                layout[kind] = slices
            object.__setattr__(self, "_layout_cache", layout)  # not state Keras should track
        return self._layout_cache

    def _train_step_jax(self, state, data):
        """The stateless step Keras' JAX trainer jits: (state, batch) -> (logs, new state)."""
        import jax

        trainable_values, non_trainable_values, optimizer_values, metrics_values = state
        real_photo, real_monet = data
        # Under keras.distribution the arrays are global: the plain mean is the global mean.
        global_batch = ops.shape(real_photo)[0]
        layout = self._layout()

        def by_layer(values, kind):
            return {name: list(values[where]) for name, where in layout[kind].items()}

        def flat(values_by_layer, kind):
            return [value for name in layout[kind] for value in values_by_layer[name]]

        generators = ("monet_generator", "photo_generator")
        discriminators = ("monet_discriminator", "photo_discriminator")
        weights = by_layer(trainable_values, "trainable")

        def compute_loss_and_updates(
            generator_weights, discriminator_weights, discriminator_weights_for_generator, state
        ):
            """The generators' and discriminators' totals from one forward pass, and the updated
            non-trainable state (pools, counters, averages). The generators' loss sees D through
            its own, undifferentiated copy of D's weights, and the pooled fakes are
            stop_gradient'ed, so the gradient of the sum with respect to G's weights is that of
            generator_total, and with respect to D's that of discriminator_total."""
            state = dict(state)
            layer_weights = {**weights, **generator_weights, **discriminator_weights}

            def stateless(name, these_weights=layer_weights):
                layer = getattr(self, name)

                def run(*args):
                    outputs, state[name] = layer.stateless_call(
                        these_weights[name], state[name], *args, training=True
                    )
                    return outputs

                return run

            nets = {name: stateless(name) for name in (*NETWORKS, *POOLS, *STATE_LAYERS)}
            for name in discriminators:
                nets[f"{name}_for_generator"] = stateless(
                    name, {**layer_weights, **discriminator_weights_for_generator}
                )
            outputs = self._forward(real_photo, real_monet, nets)
            losses = cyclegan_losses(outputs, self.loss_settings, global_batch)
            total = losses["generator_total"] + losses["discriminator_total"]
            return total, (losses, state)

        generator_weights = {name: weights[name] for name in generators}
        discriminator_weights = {name: weights[name] for name in discriminators}
        grad_fn = jax.value_and_grad(compute_loss_and_updates, argnums=(0, 1), has_aux=True)
        (_, (losses, layer_state)), (generator_grads, discriminator_grads) = grad_fn(
            generator_weights,
            discriminator_weights,
            discriminator_weights,
            by_layer(non_trainable_values, "non_trainable"),
        )

        # Each optimizer updates its networks' weights, in the order it was built with.
        split = self.optimizer.generator_variable_count
        new_generator_weights, generator_optimizer_values = (
            self.generator_optimizer.stateless_apply(
                optimizer_values[:split],
                [g for name in generators for g in generator_grads[name]],
                [w for name in generators for w in generator_weights[name]],
            )
        )
        new_discriminator_weights, discriminator_optimizer_values = (
            self.discriminator_optimizer.stateless_apply(
                optimizer_values[split:],
                [g for name in discriminators for g in discriminator_grads[name]],
                [w for name in discriminators for w in discriminator_weights[name]],
            )
        )
        for names, new_values in (
            (generators, new_generator_weights),
            (discriminators, new_discriminator_weights),
        ):
            new_values = list(new_values)
            for name in names:
                count = len(weights[name])
                weights[name], new_values = new_values[:count], new_values[count:]
        optimizer_values = list(generator_optimizer_values) + list(discriminator_optimizer_values)
        if self.monet_generator_average is not None:
            _, layer_state["monet_generator_average"] = self.monet_generator_average.stateless_call(
                [],
                layer_state["monet_generator_average"],
                weights["monet_generator"],
                training=True,
            )

        mapping = list(zip(self.metrics_variables, metrics_values, strict=True))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            for tracker in self.loss_trackers:
                tracker.update_state(losses[tracker.name])
            logs = {tracker.name: tracker.result() for tracker in self.loss_trackers}
        metrics_values = [
            value if scope.get_current_value(v) is None else scope.get_current_value(v)
            for v, value in zip(self.metrics_variables, metrics_values, strict=True)
        ]
        new_state = (
            flat(weights, "trainable"),
            flat(layer_state, "non_trainable"),
            optimizer_values,
            metrics_values,
        )
        return logs, new_state

    # -- painting -------------------------------------------------------------------------------
    def painting_generator(self) -> keras.Model:
        """The photo -> Monet generator to paint with: the Monet generator itself, or with
        `ema_decay` > 0 a copy of it holding the weights' moving average (refreshed on every
        call; samples, `monet_generator.keras` and the submission use it)."""
        if self.monet_generator_average is None:
            return self.monet_generator
        if hasattr(self, "jax_state_sync"):
            self.jax_state_sync()  # inside fit() on JAX the live values sit outside the variables
        copy = self._painting_copy
        if copy is None:
            copy = keras.models.clone_model(self.monet_generator)
            copy.build(self.monet_generator.input_shape)
            # Not an attribute Keras tracks: the copy's weights are not part of this model's state.
            object.__setattr__(self, "_painting_copy", copy)
        # Host copies: on JAX the copy must not share the averages' buffers, which the next
        # training step donates (deletes).
        for target, average in zip(
            copy.trainable_weights, self.monet_generator_average.averages, strict=True
        ):
            target.assign(np.array(keras.ops.convert_to_numpy(average.value)))
        for target, source in zip(
            copy.non_trainable_weights, self.monet_generator.non_trainable_weights, strict=True
        ):
            target.assign(np.array(keras.ops.convert_to_numpy(source.value)))
        return copy

    # -- checkpoint state -----------------------------------------------------------------------
    def _state_variables(self) -> dict:
        """Stable name -> variable for everything a resumed run needs."""
        named = {}
        for name in NETWORKS:
            for variable in getattr(self, name).weights:
                named[f"{name}/{variable.path}"] = variable
        for label, optimizer in (
            ("generator_optimizer", self.generator_optimizer),
            ("discriminator_optimizer", self.discriminator_optimizer),
        ):
            # Index first: both generators have the same layer names, so optimizer slot names
            # repeat.
            for index, variable in enumerate(optimizer.variables):
                named[f"{label}/{index:04d}_{variable.name}"] = variable
        state_layers = [*POOLS, *STATE_LAYERS]
        if self.monet_generator_average is not None:
            state_layers.append("monet_generator_average")
        for name in state_layers:
            for variable in getattr(self, name).weights:
                named[f"{name}/{variable.name}"] = variable
        if len(named) != (
            sum(len(getattr(self, n).weights) for n in (*NETWORKS, *state_layers))
            + len(self.optimizer.variables)
        ):
            raise RuntimeError("CycleGAN state names collide; give every layer a unique name.")
        return named

    def get_state(self) -> dict[str, np.ndarray]:
        """Every network weight, optimizer variable (iterations included) and image pool, as numpy
        arrays keyed by stable names. Use for checkpoints on either backend."""
        if not hasattr(self, "optimizer") or not isinstance(self.optimizer, CycleGANOptimizers):
            raise RuntimeError(
                "Call `compile()` before `get_state()`: the optimizer state is part of it."
            )
        if hasattr(self, "jax_state_sync"):
            self.jax_state_sync()  # inside fit() on JAX the live values sit outside the variables
        return {key: np.array(v.numpy()) for key, v in self._state_variables().items()}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what `get_state()` returned; missing/unexpected keys or shapes are a
        ValueError."""
        named = self._state_variables()
        missing = sorted(set(named) - set(state))
        unexpected = sorted(set(state) - set(named))
        if missing or unexpected:
            raise ValueError(
                f"CycleGAN state does not match this model: {len(missing)} missing "
                f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}). "
                "Was it saved with another architecture or pool_size?"
            )
        for key, variable in named.items():
            value = np.asarray(state[key])
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"CycleGAN state {key!r} has shape {value.shape}; the model's "
                    f"variable has {tuple(variable.shape)}."
                )
        for key, variable in named.items():
            variable.assign(np.asarray(state[key]).astype(variable.dtype))

    # -- serialization --------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        for name in NETWORKS:
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        config.update(
            pool_size=self.pool_size,
            seed=self.seed,
            diffaugment=list(self.diffaugment.policy),
            ema_decay=self.ema_decay,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for name in NETWORKS:
            config[name] = keras.saving.deserialize_keras_object(
                config[name], custom_objects=custom_objects
            )
        return cls(**config)


def _training_call(layer):
    if isinstance(layer, (ImagePool, DiffAugment, LeCamAverages)):
        return layer
    return lambda x: layer(x, training=True)


def build_cyclegan(config: Config, steps_per_epoch: int) -> CycleGAN:
    """Build the four networks from `config`, the CycleGAN, its optimizers with the paper's
    schedule (constant, then linear to 0 over `config.decay_epochs`), and compile it.

    Call it inside `runtime.scope()`. Weight initialisation is seeded by `config.seed`
    (keras.utils.set_random_seed, which also seeds Python's and NumPy's global generators).
    """
    from painter.models import build_discriminator, build_generator

    if steps_per_epoch <= 0:
        raise ValueError(f"`steps_per_epoch` must be > 0. Received: {steps_per_epoch}")
    keras.utils.set_random_seed(config.seed)
    model = CycleGAN(
        build_generator(config, "monet_generator"),
        build_generator(config, "photo_generator"),
        build_discriminator(config, "monet_discriminator"),
        build_discriminator(config, "photo_discriminator"),
        pool_size=config.pool_size,
        seed=config.seed,
        diffaugment=config.diffaugment_policy(),
        ema_decay=config.ema_decay,
    )
    model.build((None, config.image_size, config.image_size, 3))

    def adam(rate: float, name: str):
        schedule = LinearDecaySchedule(rate, steps_per_epoch, config.epochs, config.decay_epochs)
        return default_optimizer(schedule, config.beta_1, name=name)

    model.compile(
        adam(config.generator_lr, "generator_adam"),
        adam(config.discriminator_lr, "discriminator_adam"),
        adversarial_loss=config.adversarial_loss,
        label_smoothing=config.label_smoothing,
        cycle_weight=config.cycle_weight,
        identity_weight=config.identity_weight,
        lecam_weight=config.lecam_weight,
        steps_per_execution=config.steps_per_execution,
        jit_compile={"auto": "auto", "on": True, "off": False}[config.jit_compile],
    )
    return model
