"""CycleGAN (Zhu et al. 2017) as a `keras.Model`: `fit()` trains all four networks.

This module holds the model: its networks and state layers, `compile()` (optimizers, objective),
`painting_generator()`, serialization, and `build_cyclegan(config, ...)`. Its methods delegate:
the training step (its plan and the shared forward pass) is `painter.cyclegan.step`, run by
`step_tensorflow` or `step_jax`; the checkpoint state is `painter.cyclegan.state`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from painter.cyclegan import state as model_state
from painter.cyclegan.adaptive import AdaptiveStrength
from painter.cyclegan.averages import EMA_WARMUP, LeCamAverages, WeightAverage
from painter.cyclegan.diffaugment import DiffAugment
from painter.cyclegan.losses import LossSettings
from painter.cyclegan.optimizer import Adam, CycleGANOptimizers
from painter.cyclegan.patchnce import PatchHeads, feature_model
from painter.cyclegan.pool import ImagePool
from painter.cyclegan.schedule import LinearDecaySchedule
from painter.cyclegan.step import (
    AUGMENT_PROBABILITY,
    NETWORKS,
    R1_STRENGTH,
    logged_losses,
)
from painter.cyclegan.step_jax import train_step_jax
from painter.cyclegan.step_tensorflow import train_step_tensorflow

if TYPE_CHECKING:
    from painter.config import Config


def default_optimizer(
    learning_rate: Any = 2e-4, beta_1: float = 0.5, beta_2: float = 0.999, name: str = "adam"
):
    """The paper's Adam(2e-4, beta_1=0.5, beta_2=0.999) (`optimizer.Adam`: keras', fused on
    TensorFlow)."""
    return Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, name=name)


@keras.saving.register_keras_serializable(package="painter")
class CycleGAN(keras.Model):
    """Two generators and two PatchGAN discriminators trained with the CycleGAN objective, or,
    with `patch_heads`, one generator and one discriminator trained with CUT's (Park et al. 2020:
    the GAN loss and PatchNCE between each photo and its painting, `painter.cyclegan.patchnce`).

    Args:
        monet_generator: photo -> Monet (G). `model(real_photo)` returns its output.
        photo_generator: Monet -> photo (F); None for CUT.
        monet_discriminator / photo_discriminator: judge Monets / photos (logits); the photo
            one None for CUT.
        patch_heads: PatchNCE's heads (`patchnce.PatchHeads`, one per `feature_layers` of G):
            given, the model trains with CUT's objective (`objective` == "cut").
        nce_pixels: CUT: whether PatchNCE's layers include the input image itself (CUT's layer
            0); the heads must have one entry per layer compared.
        pool_size: generated images remembered per domain for the discriminators (0 = off).
        seed: seed of the pools' and DiffAugment's random choices.
        diffaugment: DiffAugment policies applied to every discriminator input (empty = off).
        diffaugment_target: > 0 makes DiffAugment adaptive (ADA): each policy applies with a
            probability p per discriminator, steered so E[sign D(real)] stays near the target.
        diffaugment_speed: how far p moves per step when adaptive.
        diffaugment_max_probability: the ceiling of p when adaptive (1 = none).
        ema_decay: > 0 keeps an exponential moving average of the Monet generator's weights;
            `painting_generator()` paints with it.
        ema_warmup: the average's ramp, decay min(ema_decay, t / (ema_warmup + t)) at update t:
            until ema_decay is reached it spans about the last t / ema_warmup steps.
        r1_target: > 0 makes R1 adaptive: each D's penalty is scaled by a strength in [0, 1]
            that rises while E[sign D(real)] is above the target (`adaptive.AdaptiveStrength`).
        r1_speed: how far that strength moves per step.
        merged_generator_calls: CycleGAN: G translates all its inputs in one call, after F's
            first (three generator calls a step); False: G and F side by side, each called twice
            (`step.forward`). The same losses and gradients either way.

    Logged scalars (History, progress bar), each averaged over the global batch and the epoch:
        monet_gen_loss / photo_gen_loss: the adversarial term of G / F (unweighted);
        monet_disc_loss / photo_disc_loss: the halved discriminator losses;
        cycle_loss: L1(cycled_photo, real_photo) + L1(cycled_monet, real_monet) (before lambda);
        identity_loss: L1(same_monet, real_monet) + L1(same_photo, real_photo) (before weights);
        augment_probability (adaptive DiffAugment only): the Monet D's augmentation probability;
        r1_strength (adaptive R1 only): the Monet D's share of the R1 gamma.
        With CUT: monet_gen_loss, monet_disc_loss and nce_loss (PatchNCE: the mean of the photo's
        and, with nce_identity, the Monets' identity term; G minimises monet_gen + nce_weight x
        nce_loss).
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
        diffaugment_target: float = 0.0,
        diffaugment_speed: float = 0.0,
        diffaugment_max_probability: float = 1.0,
        ema_decay: float = 0.0,
        ema_warmup: float = EMA_WARMUP,
        r1_target: float = 0.0,
        r1_speed: float = 0.0,
        patch_heads: PatchHeads | None = None,
        nce_pixels: bool = True,
        merged_generator_calls: bool = True,
        **kwargs,
    ):
        kwargs.setdefault("name", "cyclegan")
        super().__init__(**kwargs)
        self.objective = "cyclegan" if patch_heads is None else "cut"
        missing = [
            name
            for name, network in (
                ("monet_generator", monet_generator),
                ("monet_discriminator", monet_discriminator),
                ("photo_generator", photo_generator),
                ("photo_discriminator", photo_discriminator),
            )
            if network is None and (self.objective == "cyclegan" or name.startswith("monet"))
        ]
        if missing:
            raise ValueError(f"{self.objective} needs {missing}; got None.")
        if self.objective == "cut" and not (
            photo_generator is None and photo_discriminator is None
        ):
            raise ValueError(
                "CUT (patch_heads given) has no photo generator or photo D: pass None."
            )
        # Assigned in network_names' order: Keras lists the weights in this order.
        self.monet_generator = monet_generator
        self.photo_generator = photo_generator
        self.monet_discriminator = monet_discriminator
        self.photo_discriminator = photo_discriminator
        self.patch_heads = patch_heads
        self.nce_pixels = bool(nce_pixels)
        self.merged_generator_calls = bool(merged_generator_calls)
        if patch_heads is not None:
            views = {
                "monet_generator_features": feature_model(
                    monet_generator, with_output=True, pixels=self.nce_pixels
                ),
                "monet_generator_encoder": feature_model(
                    monet_generator, with_output=False, pixels=self.nce_pixels
                ),
            }
            compared = views["monet_generator_encoder"].outputs
            if len(compared) != len(patch_heads.channels):
                raise ValueError(
                    f"PatchNCE compares {len(compared)} layers of {monet_generator.name!r} "
                    f"(nce_pixels={self.nce_pixels}) but `patch_heads` has "
                    f"{len(patch_heads.channels)} heads ({patch_heads.channels}): build the "
                    "heads from the same layers."
                )
            # Views on G's own layers: not tracked (their weights are G's).
            object.__setattr__(self, "generator_views", views)
        self.pool_size = int(pool_size)
        self.seed = int(seed)
        self.monet_pool = ImagePool(pool_size, seed=seed, name="monet_pool")
        self.photo_pool = ImagePool(pool_size, seed=seed + 1, name="photo_pool")
        self.diffaugment = DiffAugment(
            tuple(diffaugment),
            seed=seed + 2,
            target=diffaugment_target,
            speed=diffaugment_speed,
            max_probability=diffaugment_max_probability,
            name="diffaugment",
        )
        self.monet_lecam = LeCamAverages(name="monet_lecam")
        self.photo_lecam = LeCamAverages(name="photo_lecam")
        self.r1_strength = AdaptiveStrength(r1_target, r1_speed, name="r1_strength")
        self.ema_decay = float(ema_decay)
        self.ema_warmup = float(ema_warmup)
        self.monet_generator_average = None
        if self.ema_decay > 0:
            weights = monet_generator.trainable_weights
            self.monet_generator_average = WeightAverage(
                [w.shape for w in weights],
                self.ema_decay,
                warmup=ema_warmup,
                name="monet_generator_average",
            )
            for average, weight in zip(self.monet_generator_average.averages, weights, strict=True):
                # A host copy: on JAX, assigning the array itself would share its buffer.
                average.assign(np.array(weight.numpy()))  # start as a copy of the weights
        self._painting_copy: keras.Model | None = None
        # Made here and listed in `metrics` so fit() resets them every epoch.
        logged = (
            *logged_losses(self),
            *((AUGMENT_PROBABILITY,) if self.diffaugment.adaptive else ()),
            *((R1_STRENGTH,) if self.r1_strength.adaptive else ()),
        )
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in logged]
        self.loss_settings = LossSettings()

    # -- Keras plumbing -------------------------------------------------------------------------
    def build(self, input_shape):
        """Build the image pools for images of `input_shape` = (batch, H, W, 3)."""
        image_shape = tuple(input_shape)
        self.monet_pool.build(image_shape)
        if self.objective == "cyclegan":  # CUT judges no photos: its photo pool stays empty
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
        r1_weight: float = 0.0,
        r1_start: int = 0,
        r1_interval: int = 1,
        cycle_downsample: int = 1,
        nce_weight: float = 1.0,
        nce_identity: bool = True,
        nce_identity_stride: int = 1,
        nce_patches: int = 256,
        nce_temperature: float = 0.07,
        steps_per_execution: int = 1,
        jit_compile: Any = "auto",
        run_eagerly: bool = False,
    ):
        """Set the optimizers and the objective.

        Args:
            generator_optimizer / discriminator_optimizer: default Adam(2e-4, beta_1=0.5) each
                (learning rates may differ); they must be two distinct objects.
            adversarial_loss: "lsgan" (least squares, the paper), "bce" (the starter's) or
                "rpgan" (relativistic pairing: each generated image against a real one).
            label_smoothing: for "bce": the real label is 1 - label_smoothing.
            cycle_weight: lambda of the cycle-consistency loss (paper: 10).
            identity_weight: weight of the identity loss, times cycle_weight (paper: 0.5; 0 = off).
            lecam_weight: weight of the LeCam regulariser of the discriminators (0 = off).
            r1_weight: gamma of the R1 penalty of the discriminators (0 = off).
            r1_start: the first step with R1 on (the discriminator optimizer's iteration count,
                which checkpoints carry, so a resumed run starts it at the same step).
            r1_interval: R1 on every N-th step from r1_start on only, its penalty x N (lazy R1,
                StyleGAN2: 16); the other steps skip its second backward pass (1 = every step).
            cycle_downsample: the cycle loss compares N x N averages of the images (1 = the
                pixels, the paper); the image size must be a multiple of it.
            nce_weight, nce_identity, nce_patches, nce_temperature: CUT's PatchNCE (its
                lambda, the Monets' identity term, patches per layer, temperature); unused by
                the CycleGAN objective, as cycle_weight and identity_weight are by CUT's.
            nce_identity_stride: the identity PatchNCE on every N-th Monet of a replica's batch
                only, x N (1 = every Monet); N must divide the replica's batch.
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
            float(r1_weight),
            int(r1_start),
            int(cycle_downsample),
            float(nce_weight),
            bool(nce_identity),
            int(nce_patches),
            float(nce_temperature),
            r1_interval=int(r1_interval),
            nce_identity_stride=int(nce_identity_stride),
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
        """What the generator optimizer trains: G and F, or G and CUT's PatchNCE heads."""
        second: Any = self.photo_generator if self.objective == "cyclegan" else self.patch_heads
        return self.monet_generator.trainable_variables + second.trainable_variables

    def discriminator_variables(self) -> list:
        if self.objective == "cut":
            return list(self.monet_discriminator.trainable_variables)
        return (
            self.monet_discriminator.trainable_variables
            + self.photo_discriminator.trainable_variables
        )

    # -- the step (painter.cyclegan.step) ----------------------------------------------------
    def train_step(self, *args):
        """One CycleGAN update: `train_step(data)` on TensorFlow, `train_step(state, data)` on
        JAX (the plan: `painter.cyclegan.step`)."""
        if keras.backend.backend() == "jax":
            return train_step_jax(self, *args)
        if keras.backend.backend() == "tensorflow":
            return train_step_tensorflow(self, *args)
        raise NotImplementedError(
            f"CycleGAN trains on the tensorflow and jax backends, not {keras.backend.backend()!r}."
        )

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

    # -- checkpoint state (painter.cyclegan.state) -------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Every network weight, optimizer variable (iterations included) and image pool, as numpy
        arrays keyed by stable names. Use for checkpoints on either backend."""
        return model_state.get_state(self)

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what `get_state()` returned; missing/unexpected keys or shapes are a
        ValueError."""
        model_state.set_state(self, state)

    # -- serialization --------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        for name in (*NETWORKS, "patch_heads"):
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        config.update(
            pool_size=self.pool_size,
            seed=self.seed,
            diffaugment=list(self.diffaugment.policy),
            diffaugment_target=self.diffaugment.target,
            diffaugment_speed=self.diffaugment.speed,
            diffaugment_max_probability=self.diffaugment.max_probability,
            ema_decay=self.ema_decay,
            ema_warmup=self.ema_warmup,
            r1_target=self.r1_strength.target,
            r1_speed=self.r1_strength.speed,
            nce_pixels=self.nce_pixels,
            merged_generator_calls=self.merged_generator_calls,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for name in (*NETWORKS, "patch_heads"):
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(
                    config[name], custom_objects=custom_objects
                )
        return cls(**config)


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
    cut = config.objective == "cut"
    monet_generator = build_generator(config, "monet_generator")
    photo_generator = None if cut else build_generator(config, "photo_generator")
    monet_discriminator = build_discriminator(config, "monet_discriminator")
    photo_discriminator = None if cut else build_discriminator(config, "photo_discriminator")
    patch_heads = None
    if cut:
        channels = [
            int(f.shape[-1])
            for f in feature_model(
                monet_generator, with_output=False, pixels=config.nce_pixels
            ).outputs
        ]
        patch_heads = PatchHeads(channels, name="patch_heads")
    model = CycleGAN(
        monet_generator,
        photo_generator,
        monet_discriminator,
        photo_discriminator,
        patch_heads=patch_heads,
        nce_pixels=config.nce_pixels,
        # One pass over the weights fewer suits the U-Net, whose deep layers' large kernels on
        # tiny maps bound its step (the starter's U-Net on TF, 2 CPUs: 233 -> 207 ms); the
        # ResNet's step is compute-bound, and G and F side by side ran 10% faster (829 -> 749 ms).
        merged_generator_calls=config.generator == "unet",
        pool_size=config.pool_size,
        seed=config.seed,
        diffaugment=config.diffaugment_policy(),
        diffaugment_target=config.diffaugment_target,
        # p may move 0 -> 1 over diffaugment_adjust_images real images, one move per step.
        diffaugment_speed=min(1.0, config.global_batch_size / config.diffaugment_adjust_images),
        diffaugment_max_probability=config.diffaugment_max_probability,
        ema_decay=config.ema_decay,
        ema_warmup=config.ema_warmup,
        # R1's strength may move 0 -> 1 over the same real images as DiffAugment's p.
        r1_target=config.r1_target,
        r1_speed=min(1.0, config.global_batch_size / config.diffaugment_adjust_images),
    )
    model.build((None, config.image_size, config.image_size, 3))

    def adam(rate: float, name: str):
        schedule = LinearDecaySchedule(rate, steps_per_epoch, config.epochs, config.decay_epochs)
        return default_optimizer(schedule, config.beta_1, config.beta_2, name=name)

    model.compile(
        adam(config.generator_lr, "generator_adam"),
        adam(config.discriminator_lr, "discriminator_adam"),
        adversarial_loss=config.adversarial_loss,
        label_smoothing=config.label_smoothing,
        cycle_weight=config.cycle_weight,
        identity_weight=config.identity_weight,
        lecam_weight=config.lecam_weight,
        r1_weight=config.r1_weight,
        r1_start=config.r1_start,
        r1_interval=config.r1_interval,
        cycle_downsample=config.cycle_downsample,
        nce_weight=config.nce_weight,
        nce_identity=config.nce_identity,
        nce_identity_stride=config.nce_identity_stride,
        nce_patches=config.nce_patches,
        nce_temperature=config.nce_temperature,
        steps_per_execution=config.steps_per_execution,
        jit_compile={"auto": "auto", "on": True, "off": False}[config.jit_compile],
    )
    return model
