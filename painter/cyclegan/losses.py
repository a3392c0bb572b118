"""The CycleGAN objective (Zhu et al. 2017, eq. 1-3 and section 4), one definition for every
backend.

Every function takes images/logits and returns a per-example loss (shape [batch]): the mean over
pixels (and patches) of one image. `global_mean` then divides the sum over the examples by the
GLOBAL batch size, so the gradients that tf.distribute sums over replicas (and the single global
computation JAX does under DataParallel) are those of the mean over the whole batch.

    adversarial (LSGAN, paper):  generator  E[(D(G(x)) - 1)^2]
                                 discriminator 0.5 * (E[(D(y) - 1)^2] + E[D(G(x))^2])
    adversarial (BCE, starter):  generator  BCE(1, D(G(x)));  discriminator 0.5 * (BCE(1 - s, D(y))
                                 + BCE(0, D(G(x)))), s = label smoothing of the real label
    adversarial (RpGAN, relativistic pairing; Jolicoeur-Martineau 2019, Huang et al. 2024):
                                 generator  E[softplus(D(y) - D(G(x)))];  discriminator
                                 0.5 * E[softplus(D(G(x)) - D(y))], each generated image paired
                                 with one real image of the batch, patch by patch; D(y) is a
                                 constant for the generator
    cycle (eq. 2):               E[|F(G(x)) - x|_1] + E[|G(F(y)) - y|_1]; with cycle_downsample
                                 N > 1 both sides are first average-pooled N x N (a low-pass:
                                 the painting need not carry the photo's finest detail)
    identity (section 5.2):      E[|G(y) - y|_1] + E[|F(x) - x|_1]
    generators (eq. 3):
        adv_G + adv_F + lambda * cycle + identity_weight * lambda * identity
    LeCam (Tseng et al. 2021):   E[relu(D(y) - a_F)^2] + E[relu(a_R - D(G(x)))^2], a_R / a_F the
                                 moving averages of D's mean output on real / generated images;
                                 added to each discriminator's loss times lecam_weight
    R1 (Mescheder et al. 2018):  (gamma / 2) E[|grad_y s(y)|^2] over the real images y that D
                                 judged, s(y) = D's mean logit over the patches of y (the score
                                 the loss averages); added to each discriminator's loss
"""

from __future__ import annotations

from dataclasses import dataclass

from keras import ops

from painter.config_checks import ADVERSARIAL_LOSSES

# Where D's output turns from "generated" to "real": halfway between LSGAN's targets 0 and 1; a
# BCE logit of 0. Adaptive DiffAugment counts the real patches D puts on the real side. RpGAN has
# none: its losses see only differences of D's outputs, so D(y) + c is the same discriminator.
DECISION_BOUNDARY = {"lsgan": 0.5, "bce": 0.0}


@dataclass(frozen=True)
class LossSettings:
    """The weights and choices of the objective (what `CycleGAN.compile` takes)."""

    adversarial_loss: str = "lsgan"
    label_smoothing: float = 0.0
    cycle_weight: float = 10.0
    identity_weight: float = 0.5  # times cycle_weight; 0 disables the identity term
    lecam_weight: float = 0.0  # LeCam regulariser of the discriminators; 0 disables it
    r1_weight: float = 0.0  # gamma of the R1 penalty on the discriminators; 0 disables it
    r1_start: int = 0  # the first training step (optimizer iteration, from 0) with R1 on
    cycle_downsample: int = 1  # the cycle term compares N x N averages; 1 = pixels (paper)
    # CUT (a model with PatchNCE heads): the PatchNCE term's weight, whether the Monets' identity
    # PatchNCE is added, the patches drawn per layer and image, and the InfoNCE temperature.
    nce_weight: float = 1.0
    nce_identity: bool = True
    nce_patches: int = 256
    nce_temperature: float = 0.07
    # R1 on every N-th step from r1_start on, its penalty x N (lazy R1); 1 = every step.
    r1_interval: int = 1
    # The identity PatchNCE on every N-th Monet of a replica's batch only, x N; 1 = every Monet.
    nce_identity_stride: int = 1

    def __post_init__(self):
        if self.adversarial_loss not in ADVERSARIAL_LOSSES:
            raise ValueError(
                f"`adversarial_loss` must be one of {list(ADVERSARIAL_LOSSES)}. "
                f"Received: {self.adversarial_loss!r}"
            )
        if self.label_smoothing and self.adversarial_loss != "bce":
            raise ValueError(
                f"`label_smoothing` smooths BCE's real label; {self.adversarial_loss!r} has none. "
                f"Received: {self.label_smoothing}"
            )
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(
                f"`label_smoothing` must be in [0, 1). Received: {self.label_smoothing}"
            )
        weights = (self.cycle_weight, self.identity_weight, self.lecam_weight, self.r1_weight)
        if self.r1_start < 0:
            raise ValueError(f"`r1_start` must be >= 0. Received: {self.r1_start}")
        if self.r1_interval < 1:
            raise ValueError(f"`r1_interval` must be >= 1. Received: {self.r1_interval}")
        if self.nce_identity_stride < 1:
            raise ValueError(
                f"`nce_identity_stride` must be >= 1. Received: {self.nce_identity_stride}"
            )
        if self.cycle_downsample < 1:
            raise ValueError(
                f"`cycle_downsample` must be >= 1 (1 = compare pixels). "
                f"Received: {self.cycle_downsample}"
            )
        if min(weights) < 0:
            raise ValueError(
                "`cycle_weight`, `identity_weight`, `lecam_weight` and `r1_weight` must be >= 0. "
                f"Received: {weights}"
            )
        if not (self.nce_weight > 0 and self.nce_patches > 0 and self.nce_temperature > 0):
            raise ValueError(
                "`nce_weight`, `nce_patches` and `nce_temperature` must be positive. Received: "
                f"{self.nce_weight}, {self.nce_patches}, {self.nce_temperature}"
            )


def _per_example_mean(values):
    """Mean over every axis but the batch axis: [B, ...] -> [B]."""
    values = ops.cast(values, "float32")
    return ops.mean(ops.reshape(values, (ops.shape(values)[0], -1)), axis=1)


def _bce_with_logits(target: float, logits):
    # Numerically stable: max(z, 0) - z * t + log(1 + exp(-|z|)).
    logits = ops.cast(logits, "float32")
    return ops.relu(logits) - logits * target + ops.log1p(ops.exp(-ops.abs(logits)))


def _softplus(values):
    # Numerically stable log(1 + exp(z)) = max(z, 0) + log(1 + exp(-|z|)).
    return ops.relu(values) + ops.log1p(ops.exp(-ops.abs(values)))


def generator_adversarial_loss(fake_logits, kind: str = "lsgan", real_logits=None):
    """The generator wants the discriminator to call its images real (target 1); with RpGAN,
    more real than the real image each is paired with (`real_logits`, same shape: D's outputs
    on a real batch, held constant)."""
    if kind == "lsgan":
        return _per_example_mean(ops.square(ops.cast(fake_logits, "float32") - 1.0))
    if kind == "rpgan":
        if real_logits is None:
            raise ValueError("RpGAN's generator loss compares with D(real): pass `real_logits`.")
        real = ops.stop_gradient(ops.cast(real_logits, "float32"))
        return _per_example_mean(_softplus(real - ops.cast(fake_logits, "float32")))
    return _per_example_mean(_bce_with_logits(1.0, fake_logits))


def discriminator_loss(real_logits, fake_logits, kind: str = "lsgan", label_smoothing: float = 0.0):
    """Real -> 1 (1 - label_smoothing for BCE), fake -> 0; halved (the paper slows D down so).
    RpGAN: each real image scored above the generated image it is paired with, halved as well,
    so that at D's indifference (all outputs equal) its gradients equal BCE's."""
    if kind == "rpgan":
        difference = ops.cast(fake_logits, "float32") - ops.cast(real_logits, "float32")
        return 0.5 * _per_example_mean(_softplus(difference))
    if kind == "lsgan":
        real = ops.square(ops.cast(real_logits, "float32") - 1.0)
        fake = ops.square(ops.cast(fake_logits, "float32"))
    else:
        real = _bce_with_logits(1.0 - label_smoothing, real_logits)
        fake = _bce_with_logits(0.0, fake_logits)
    return 0.5 * (_per_example_mean(real) + _per_example_mean(fake))


def decision_margin(logits, kind: str = "lsgan"):
    """D's outputs measured from its decision boundary: > 0 where D says "real"."""
    if kind not in DECISION_BOUNDARY:
        raise ValueError(
            f"{kind!r} has no decision boundary (only differences of D's outputs count), so "
            "adaptive DiffAugment and adaptive R1 cannot read D's outputs: use lsgan or bce."
        )
    return ops.cast(logits, "float32") - DECISION_BOUNDARY[kind]


def l1_loss(real, reconstructed):
    """Mean absolute difference per image (cycle-consistency and identity terms)."""
    return _per_example_mean(
        ops.abs(ops.cast(real, "float32") - ops.cast(reconstructed, "float32"))
    )


def downsample(images, factor: int):
    """N x N average pooling (stride N) of [B, H, W, C] images, in float32; the images themselves
    when `factor` is 1. H and W must be multiples of N (the config checks the image size)."""
    if factor == 1:
        return images  # l1_loss casts
    return ops.average_pool(
        ops.cast(images, "float32"), pool_size=factor, strides=factor, padding="valid"
    )


def cycle_l1_loss(real, cycled, factor: int = 1):
    """The cycle term of one direction per image: L1 between `real` and `cycled` compared at
    1/`factor` of their size (`downsample`). With `factor` > 1 the generators need not pass the
    photo's finest detail through the painting and back: CycleGAN hides such detail in a
    low-amplitude high-frequency signal in its outputs (Chu et al. 2017)."""
    return l1_loss(downsample(real, factor), downsample(cycled, factor))


def lecam_regularization(real_logits, fake_logits, average_real, average_fake):
    """Per-example LeCam regulariser (Tseng et al. 2021, as their code: one-sided squares): real
    outputs above the generated images' average and generated outputs below the real images'
    average are pulled back. The averages are constants (no gradient)."""
    average_real = ops.stop_gradient(average_real)
    average_fake = ops.stop_gradient(average_fake)
    real = _per_example_mean(ops.square(ops.relu(ops.cast(real_logits, "float32") - average_fake)))
    fake = _per_example_mean(ops.square(ops.relu(average_real - ops.cast(fake_logits, "float32"))))
    return real + fake


def r1_score(logits, count):
    """What R1 differentiates: the sum over the first `count` images (the real ones) of each
    one's mean logit. Per-image terms, so d/d(image) of the sum is each image's own slope."""
    return ops.sum(_per_example_mean(logits[:count]))


def r1_penalty(input_gradient):
    """Per-example |grad|^2 of `r1_score` with respect to each real image (shape [batch])."""
    values = ops.cast(input_gradient, "float32")
    return ops.sum(ops.reshape(ops.square(values), (ops.shape(values)[0], -1)), axis=1)


def global_mean(per_example, global_batch_size):
    """Sum over this replica's examples divided by the global batch: replicas' sums add up to the
    mean."""
    return ops.sum(per_example) / ops.cast(global_batch_size, "float32")


def cyclegan_losses(outputs: dict, settings: LossSettings, global_batch_size) -> dict:
    """All loss terms from one forward pass, each a scalar averaged over the global batch.

    `outputs` holds the images real_photo, real_monet, cycled_photo, cycled_monet, same_monet,
    same_photo and the logits disc_real_monet, disc_fake_monet (D_monet on the generated Monets,
    for the generator), disc_pooled_monet (on the pooled generated Monets, for the discriminator)
    and
    the photo mirror images; with `lecam_weight` > 0 also lecam_monet / lecam_photo (per-example
    LeCam regularisers of the two discriminators), with `r1_weight` > 0 r1_monet / r1_photo
    (per-example `r1_penalty` of each). Returns the six logged terms plus
    `generator_total` and
    `discriminator_total`, the quantities whose gradients train the generators / discriminators.
    """
    kind = settings.adversarial_loss

    def mean(per_example):
        return global_mean(per_example, global_batch_size)

    monet_gen_loss = mean(
        generator_adversarial_loss(outputs["disc_fake_monet"], kind, outputs["disc_real_monet"])
    )
    photo_gen_loss = mean(
        generator_adversarial_loss(outputs["disc_fake_photo"], kind, outputs["disc_real_photo"])
    )
    factor = settings.cycle_downsample
    cycle_loss = mean(
        cycle_l1_loss(outputs["real_photo"], outputs["cycled_photo"], factor)
        + cycle_l1_loss(outputs["real_monet"], outputs["cycled_monet"], factor)
    )
    if settings.identity_weight > 0:
        identity_loss = mean(
            l1_loss(outputs["real_monet"], outputs["same_monet"])
            + l1_loss(outputs["real_photo"], outputs["same_photo"])
        )
    else:
        identity_loss = ops.zeros((), "float32")
    monet_disc_loss = mean(
        discriminator_loss(
            outputs["disc_real_monet"], outputs["disc_pooled_monet"], kind, settings.label_smoothing
        )
    )
    photo_disc_loss = mean(
        discriminator_loss(
            outputs["disc_real_photo"], outputs["disc_pooled_photo"], kind, settings.label_smoothing
        )
    )
    discriminator_total = monet_disc_loss + photo_disc_loss
    if settings.lecam_weight > 0:
        # Not in the logged disc losses: those stay comparable with and without the regulariser.
        discriminator_total += settings.lecam_weight * mean(
            outputs["lecam_monet"] + outputs["lecam_photo"]
        )
    if settings.r1_weight > 0:
        discriminator_total += (
            0.5 * settings.r1_weight * mean(outputs["r1_monet"] + outputs["r1_photo"])
        )
    generator_total = (
        monet_gen_loss
        + photo_gen_loss
        + settings.cycle_weight * cycle_loss
        + settings.identity_weight * settings.cycle_weight * identity_loss
    )
    return {
        "monet_gen_loss": monet_gen_loss,
        "photo_gen_loss": photo_gen_loss,
        "monet_disc_loss": monet_disc_loss,
        "photo_disc_loss": photo_disc_loss,
        "cycle_loss": cycle_loss,
        "identity_loss": identity_loss,
        "generator_total": generator_total,
        "discriminator_total": discriminator_total,
    }


def cut_losses(outputs: dict, settings: LossSettings, global_batch_size) -> dict:
    """CUT's loss terms from one forward pass, each a scalar averaged over the global batch.

    `outputs` holds disc_fake_monet, disc_real_monet, disc_pooled_monet (as `cyclegan_losses`),
    nce_photo (per-example PatchNCE between each photo and its painting) and, with
    `nce_identity`, nce_monet (between each Monet and the generator's repainting of it; with
    `nce_identity_stride` N only every N-th Monet's, which counts N times); with
    LeCam / R1 also lecam_monet / r1_monet. Returns the logged terms (`CUT_LOGGED_LOSSES`:
    nce_loss is the mean of the photo's and the identity's PatchNCE, as CUT's) plus
    `generator_total` and `discriminator_total`."""
    kind = settings.adversarial_loss

    def mean(per_example):
        return global_mean(per_example, global_batch_size)

    monet_gen_loss = mean(
        generator_adversarial_loss(outputs["disc_fake_monet"], kind, outputs["disc_real_monet"])
    )
    nce, stride = outputs["nce_photo"], settings.nce_identity_stride
    if not settings.nce_identity:
        nce_loss = mean(nce)
    elif stride == 1:
        nce_loss = mean(0.5 * (nce + outputs["nce_monet"]))
    else:  # every N-th Monet's identity term, x N: the same expected mean over the batch
        nce_loss = 0.5 * (mean(nce) + mean(float(stride) * outputs["nce_monet"]))
    monet_disc_loss = mean(
        discriminator_loss(
            outputs["disc_real_monet"], outputs["disc_pooled_monet"], kind, settings.label_smoothing
        )
    )
    discriminator_total = monet_disc_loss
    if settings.lecam_weight > 0:
        discriminator_total += settings.lecam_weight * mean(outputs["lecam_monet"])
    if settings.r1_weight > 0:
        discriminator_total += 0.5 * settings.r1_weight * mean(outputs["r1_monet"])
    return {
        "monet_gen_loss": monet_gen_loss,
        "monet_disc_loss": monet_disc_loss,
        "nce_loss": nce_loss,
        "generator_total": monet_gen_loss + settings.nce_weight * nce_loss,
        "discriminator_total": discriminator_total,
    }


LOGGED_LOSSES = (
    "monet_gen_loss",
    "photo_gen_loss",
    "monet_disc_loss",
    "photo_disc_loss",
    "cycle_loss",
    "identity_loss",
)
# CUT logs its one generator's and one discriminator's losses and the PatchNCE term.
CUT_LOGGED_LOSSES = ("monet_gen_loss", "monet_disc_loss", "nce_loss")
