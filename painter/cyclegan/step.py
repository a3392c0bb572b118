"""One CycleGAN training step: its plan, and the forward pass both backends share.

One training step, on either backend:
  1. Translate both ways and back: fake_monet = G(real_photo), cycled_photo = F(fake_monet),
     fake_photo = F(real_monet), cycled_monet = G(fake_photo); identity: same_monet = G(real_monet),
     same_photo = F(real_photo). Calls of one network run as one call of a larger batch where
     their inputs allow: F on [real_monet; real_photo], then G on [real_photo; real_monet;
     fake_photo], then F on fake_monet: three calls, not six (`merged_generator_calls`; else
     four: G on [real_photo; real_monet] beside F on [real_monet; real_photo], then each on the
     other's fakes). Instance norm is per image, so this is exact; larger calls fill a TPU's
     matrix units, and each call fewer is one less pass over the network's weights (forward,
     both gradients).
  2. Judge: D_monet(fake_monet) for the generator's loss, and D_monet on [real_monet; the image
     pool's answer] for the discriminator's loss (and the photo mirror images); with DiffAugment
     every one of these inputs is augmented first; adaptive DiffAugment then moves each D's
     augmentation probability by D's outputs on the real images (for the next step).
  3. Losses (`painter.cyclegan.losses`, shared by both backends), averaged over the GLOBAL batch;
     with LeCam, the discriminators' regulariser against their running averages; with R1, the
     squared gradient of each D's score on the real images it judged, taken with respect to
     those images by the backend (`nets["value_and_input_gradient"]`) and differentiated again;
     adaptive R1 scales it by each D's strength, moved by D's outputs on those real images; with
     `r1_start` it counts from that step on (the discriminator optimizer's iteration count), and
     with `r1_interval` N only every N-th step computes it, x N (lazy R1; `r1_active`).
  4. Gradients: generators from the generator total, discriminators from the discriminator total,
     both from the same forward pass; each set applied by its own Adam.
  5. With an EMA, the Monet generator's weight average folds in the new weights.
With CUT's objective (a model with PatchNCE heads: one generator G, one D) step 1 is G on
[real_photo; real_monet] (fake_monet, same_monet) returning its encoder's features of both (the
keys), and G's encoder on those paintings (the queries); PatchNCE compares them
(`patchnce.patch_nce`, per example) in place of the cycle and identity terms; step 2 judges the
Monets only; step 4 trains G and the heads with the generator optimizer, D with the other.
Steps 1-2 are `forward()` here; steps 3-5 are the backend's: `step_tensorflow` (a GradientTape)
and `step_jax` (stateless, state in and state out, so Keras can jit it and shard it with
keras.distribution). `CycleGAN.train_step` calls the one of the running backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keras import ops

from painter.cyclegan.losses import (
    CUT_LOGGED_LOSSES,
    LOGGED_LOSSES,
    LossSettings,
    cut_losses,
    cyclegan_losses,
    decision_margin,
    r1_penalty,
)
from painter.cyclegan.patchnce import patch_nce

if TYPE_CHECKING:
    from painter.cyclegan.model import CycleGAN

NETWORKS = ("monet_generator", "photo_generator", "monet_discriminator", "photo_discriminator")
# CUT's networks, in the order the model holds them: one generator, one D, PatchNCE's heads.
CUT_NETWORKS = ("monet_generator", "monet_discriminator", "patch_heads")
# The derived views of the Monet generator CUT's step calls (its own layers and weights).
CUT_VIEWS = ("monet_generator_features", "monet_generator_encoder")
# Seed offsets of the model's random draws: the pools take seed and seed + 1, DiffAugment + 2.
PATCH_SEED_OFFSET = 3
POOLS = ("monet_pool", "photo_pool")
# Layers whose non-trainable variables the step updates besides the pools (always built, so a
# checkpoint's keys do not depend on whether DiffAugment or LeCam is switched on).
STATE_LAYERS = ("diffaugment", "monet_lecam", "photo_lecam", "r1_strength")
MONET, PHOTO = 0, 1  # DiffAugment's domains: whose discriminator an input is for
AUGMENT_PROBABILITY = "augment_probability"  # logged with adaptive DiffAugment: the Monet D's p
R1_STRENGTH = "r1_strength"  # logged with adaptive R1: the Monet D's share of gamma
# Logged as they are (not losses: every replica holds the same value, nothing to sum).
STATE_SCALARS = (AUGMENT_PROBABILITY, R1_STRENGTH)


def forward(
    model: CycleGAN, real_photo, real_monet, nets: dict[str, Callable[..., Any]], step=None
) -> dict:
    """Steps 1-2 of the plan. `nets[name](x)` runs a network (or a state layer); the
    `*_for_generator` discriminators are the same network, separated so JAX can differentiate
    them apart. With R1 on, `nets["value_and_input_gradient"](name, images, count)` runs the
    discriminator `name` and returns its logits and the gradient of `losses.r1_score` (its
    first `count` images) with respect to `images`, in a form the backend can differentiate;
    its fourth argument, `r1_active(step, ...)`, is None (always) or a boolean scalar: when
    false, the backend runs D alone and returns zeros for the gradient.
    `step`: this step's number (the discriminator optimizer's iterations, from 0); needed with
    `r1_start` > 0 or `r1_interval` > 1."""
    real_photo = ops.cast(real_photo, "float32")
    real_monet = ops.cast(real_monet, "float32")
    batch = ops.shape(real_photo)[0]

    def halves(images):
        return images[:batch], images[batch:]

    outputs = {"real_photo": real_photo, "real_monet": real_monet}
    cut = model.objective == "cut"
    if cut:
        fake_monet = _cut_translate(model, real_photo, real_monet, nets, step, outputs)
    else:
        identity = model.loss_settings.identity_weight > 0
        if identity:
            fake_photo, outputs["same_photo"] = halves(
                nets["photo_generator"](ops.concatenate([real_monet, real_photo], axis=0))
            )
        else:
            fake_photo = nets["photo_generator"](real_monet)
        monet_inputs = [real_photo, real_monet] if identity else [real_photo]
        if model.merged_generator_calls:
            # Three generator calls, not four: G on all it translates at once, F's fakes (for
            # their cycle) with the rest; then F on G's fakes.
            monet_inputs.append(fake_photo)
        painted = nets["monet_generator"](
            ops.concatenate(monet_inputs, axis=0) if len(monet_inputs) > 1 else real_photo
        )
        fake_monet = painted[:batch]
        if identity:
            outputs["same_monet"] = painted[batch : 2 * batch]
        if model.merged_generator_calls:
            outputs["cycled_monet"] = painted[(len(monet_inputs) - 1) * batch :]
        else:  # G beside F's first call, then on F's fakes
            outputs["cycled_monet"] = nets["monet_generator"](fake_photo)
        outputs["cycled_photo"] = nets["photo_generator"](fake_monet)
    augment = nets["diffaugment"]
    outputs["disc_fake_monet"] = nets["monet_discriminator_for_generator"](
        augment(fake_monet, domain=MONET)
    )
    if not cut:
        outputs["disc_fake_photo"] = nets["photo_discriminator_for_generator"](
            augment(fake_photo, domain=PHOTO)
        )

    def judge(name, real, fake, domain, penalty_key):
        """D on the augmented [real; pooled fake]: its logits; with R1 also each real image's
        penalty in outputs[penalty_key] (the gradient of the real half's score: instance norm is
        per image, so the fakes in the same call do not touch it)."""
        images = augment(ops.concatenate([real, fake], axis=0), domain=domain)
        settings = model.loss_settings
        if settings.r1_weight <= 0:
            return nets[name](images)
        active = r1_active(step, settings)
        logits, gradient = nets["value_and_input_gradient"](name, images, batch, active)
        # On a step without R1 the gradient is zeros, so the penalty is exactly 0.
        penalty = r1_penalty(gradient[:batch])
        if settings.r1_interval > 1:  # lazy R1: every N-th step carries N steps' penalty
            penalty = penalty * float(settings.r1_interval)
        if model.r1_strength.adaptive:  # gamma x s, s moved by this step's real logits
            kind = model.loss_settings.adversarial_loss
            strength = nets["r1_strength"](decision_margin(logits[:batch], kind), domain=domain)
            penalty = penalty * strength
            if domain == MONET:
                outputs[R1_STRENGTH] = strength
        outputs[penalty_key] = penalty
        return logits

    judged_monet = judge(
        "monet_discriminator", real_monet, nets["monet_pool"](fake_monet), MONET, "r1_monet"
    )
    outputs["disc_real_monet"], outputs["disc_pooled_monet"] = halves(judged_monet)
    if not cut:
        judged_photo = judge(
            "photo_discriminator", real_photo, nets["photo_pool"](fake_photo), PHOTO, "r1_photo"
        )
        outputs["disc_real_photo"], outputs["disc_pooled_photo"] = halves(judged_photo)
    if model.diffaugment.adaptive:
        kind = model.loss_settings.adversarial_loss
        outputs[AUGMENT_PROBABILITY] = augment(
            decision_margin(outputs["disc_real_monet"], kind), domain=MONET, adapt=True
        )
        if not cut:
            augment(decision_margin(outputs["disc_real_photo"], kind), domain=PHOTO, adapt=True)
    if model.loss_settings.lecam_weight > 0:
        outputs["lecam_monet"] = nets["monet_lecam"](
            outputs["disc_real_monet"], outputs["disc_pooled_monet"]
        )
        if not cut:
            outputs["lecam_photo"] = nets["photo_lecam"](
                outputs["disc_real_photo"], outputs["disc_pooled_photo"]
            )
    return outputs


def r1_active(step, settings: LossSettings):
    """Whether this step computes R1: None when every step does (r1_start 0, r1_interval 1),
    else a boolean scalar: from `r1_start` on, every `r1_interval`-th step. The backends branch
    on it (`tf.cond`, `jax.lax.cond`: one compiled program for every step, and the steps
    without R1 skip its second backward pass through D instead of zeroing its result)."""
    if settings.r1_start == 0 and settings.r1_interval == 1:
        return None
    since = step - settings.r1_start
    active = ops.greater_equal(since, 0)
    if settings.r1_interval > 1:
        active = ops.logical_and(active, ops.equal(since % settings.r1_interval, 0))
    return active


def _cut_translate(model: CycleGAN, real_photo, real_monet, nets, step, outputs: dict):
    """CUT's step 1: fake_monet = G(real_photo) (and same_monet = G(real_monet) with the
    identity PatchNCE, as one call of twice the batch), the encoder's features of those inputs
    (the keys) from the same call, the encoder's features of the paintings (the queries), and
    the per-example PatchNCE of each pair in outputs["nce_photo"] / ["nce_monet"]. With
    `nce_identity_stride` N the identity term takes every N-th Monet only (the 0th, N-th, ...:
    a replica's share of a global batch on JAX is the same set as its own batch on TF, when N
    divides the replica's batch). Returns fake_monet."""
    settings = model.loss_settings
    batch = ops.shape(real_photo)[0]
    inputs = real_photo
    if settings.nce_identity:
        stride = settings.nce_identity_stride
        identity_monet = real_monet[::stride] if stride > 1 else real_monet
        inputs = ops.concatenate([real_photo, identity_monet], axis=0)
    painting, *keys = nets["monet_generator_features"](inputs)
    queries = nets["monet_generator_encoder"](painting)  # a list: every view has >= 2 layers
    nce = patch_nce(
        nets["patch_heads"],
        queries,
        keys,
        seed=model.seed + PATCH_SEED_OFFSET,
        step=0 if step is None else step,
        temperature=settings.nce_temperature,
        count=settings.nce_patches,
    )
    outputs["nce_photo"] = nce[:batch]
    if settings.nce_identity:
        outputs["same_monet"] = painting[batch:]
        outputs["nce_monet"] = nce[batch:]
    return painting[:batch]


def logged_losses(model: CycleGAN) -> tuple[str, ...]:
    """The loss terms `fit()` logs for `model`'s objective."""
    return CUT_LOGGED_LOSSES if model.objective == "cut" else LOGGED_LOSSES


def network_names(model: CycleGAN) -> tuple[str, ...]:
    """The networks `model` holds, in its order: NETWORKS, or CUT_NETWORKS for CUT."""
    return CUT_NETWORKS if model.objective == "cut" else NETWORKS


def step_losses(outputs: dict, settings: LossSettings, global_batch) -> dict:
    """Step 3's losses (`cyclegan_losses`), plus, with adaptive DiffAugment or R1, the Monet
    discriminator's augmentation probability or R1 strength after this step (logged beside the
    losses)."""
    if "nce_photo" in outputs:
        losses = cut_losses(outputs, settings, global_batch)
    else:
        losses = cyclegan_losses(outputs, settings, global_batch)
    for name in STATE_SCALARS:
        if name in outputs:
            losses[name] = outputs[name]
    return losses
