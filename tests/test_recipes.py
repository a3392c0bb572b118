"""The recipes beyond the paper, each a config field: DiffAugment, LeCam, R1, spectral norm, the EMA
(and the U-Net's bilinear x2, full-size head and painting over the photo, the cycle loss on 2x2
averages and the two-scale discriminators, whose golden tests are in test_cyclegan.py and
test_models.py, on in the resume test).

Golden tests of each one's math on tiny tensors (NumPy written from the papers' formulas), their
state, and a resume-equals-unbroken run with all of them on. The TF-vs-JAX same-update test with
every recipe on lives in test_cyclegan_equivalence.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from painter.config import Config, preset
from painter.errors import ConfigError

pytestmark = pytest.mark.backend

RECIPES = dict(
    diffaugment="color,translation,cutout",
    # Adaptive, quick to move (speed = batch / 16), and BCE (an untrained D's logits straddle its
    # boundary, where LSGAN's outputs start below 0.5): p leaves 0 within the run's few steps.
    adversarial_loss="bce",
    diffaugment_target=0.01,
    diffaugment_adjust_images=16,
    lecam_weight=0.5,
    r1_weight=2.0,
    r1_target=0.01,  # adaptive R1, moving as fast as DiffAugment's p
    r1_start=6,  # from the second epoch's third step: after the resume test's restart (step 4)
    r1_interval=2,  # lazy R1: step 6 computes it (x 2), step 7 runs D without its gradient
    spectral_norm=True,
    ema_decay=0.9,
    ema_warmup=3.0,
    cycle_downsample=2,
    # Two-scale discriminators (2 strided layers: the half-size copy of 32 px still has 16).
    discriminator_scales=2,
    discriminator_layers=2,
    # The U-Net with bilinear x2, the full-size head and its full-size skip (the smoke preset's own
    # is the ResNet).
    generator="unet",
    upsampling="bilinear",
    unet_head=True,
    unet_full_skip=True,
    unet_bottleneck_norm=False,  # pix2pix's unnormalised innermost level (1x1 at 32 px)
    generator_residual=True,  # the U-Net paints over the photo (PaintOver)
    nce_pixels=False,  # CUT's PatchNCE on the encoder levels only (the cycle ignores it)
    beta_2=0.99,  # StyleGAN's Adam: the velocities must resume as they were
)


def _np(x):
    import keras

    return keras.ops.convert_to_numpy(x)


# --- DiffAugment ---------------------------------------------------------------------------------
def test_color_is_the_papers_brightness_saturation_contrast():
    from painter.cyclegan.diffaugment import color

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 4, 5, 3)).astype("float32")
    b, s, c = (rng.uniform(0, 1, 2).astype("float32") for _ in range(3))
    expected = x + (b - 0.5)[:, None, None, None]
    mean = expected.mean(axis=3, keepdims=True)
    expected = (expected - mean) * (2 * s)[:, None, None, None] + mean
    mean = expected.mean(axis=(1, 2, 3), keepdims=True)
    expected = (expected - mean) * (c + 0.5)[:, None, None, None] + mean
    np.testing.assert_allclose(_np(color(x, b, s, c)), expected, atol=1e-6)


def _shifted(image, dy, dx):
    """NumPy: out[i, j] = image[i + dy, j + dx], zeros from outside."""
    height, width = image.shape[:2]
    out = np.zeros_like(image)
    for i in range(height):
        for j in range(width):
            if 0 <= i + dy < height and 0 <= j + dx < width:
                out[i, j] = image[i + dy, j + dx]
    return out


def test_translation_shifts_by_whole_pixels_with_zeros_entering():
    from painter.cyclegan.diffaugment import translate

    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (3, 16, 12, 3)).astype("float32")
    # Uniforms that map to the extreme and middle shifts: 16 * 1/8 = 2 rows, 12 / 8 -> 2 columns.
    u_y = np.array([0.0, 0.5, 0.999], "float32")  # -> -2, 0, +2
    u_x = np.array([0.999, 0.0, 0.45], "float32")  # -> +2, -2, 0
    out = _np(translate(x, u_y, u_x))
    for index, (dy, dx) in enumerate([(-2, 2), (0, -2), (2, 0)]):
        np.testing.assert_allclose(out[index], _shifted(x[index], dy, dx), atol=1e-6)


def test_cutout_zeroes_one_half_side_square_clipped_at_the_border():
    from painter.cyclegan.diffaugment import cutout

    x = np.ones((2, 16, 16, 3), "float32")
    # Offsets in [0, 16]: u=0 puts the centre at 0 (a 4x4 corner survives the clip), u=0.5 -> 8.
    out = _np(cutout(x, np.array([0.0, 0.5], "float32"), np.array([0.0, 0.5], "float32")))
    expected = np.ones_like(x)
    expected[0, 0:4, 0:4] = 0  # rows/cols -4..3 clipped to 0..3
    expected[1, 4:12, 4:12] = 0  # centre 8, side 8
    np.testing.assert_array_equal(out, expected)


def test_diffaugment_draws_fresh_deterministic_numbers_and_passes_gradients():
    import keras

    from painter.cyclegan.diffaugment import DRAWS_PER_IMAGE, DiffAugment

    x = np.random.default_rng(2).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    first, second = DiffAugment(seed=3), DiffAugment(seed=3)
    a, b = _np(first(x)), _np(first(x))
    assert not np.allclose(a, b), "two calls must draw new augmentations"
    np.testing.assert_array_equal(_np(second(x)), a)  # same seed, same first draw
    assert int(_np(first.draws.value)) == 2 * 2 * DRAWS_PER_IMAGE
    off = DiffAugment(policy=())
    np.testing.assert_array_equal(_np(off(x)), x)
    assert DiffAugment.from_config(first.get_config()).policy == first.policy
    with pytest.raises(ValueError, match="rotate"):
        DiffAugment(policy=("rotate",))
    # Differentiable: the generator learns through it (a zero gradient would stop it).
    grad = _gradient(lambda images: keras.ops.sum(DiffAugment(("translation",), seed=0)(images)), x)
    assert np.abs(grad).sum() > 0


def test_adaptive_diffaugment_applies_each_policy_with_its_discriminators_probability():
    from painter.cyclegan.diffaugment import (
        ADAPTIVE_DRAWS_PER_IMAGE,
        DiffAugment,
        color,
        cutout,
        translate,
    )
    from painter.cyclegan.pool import hash_uniform

    x = np.random.default_rng(8).uniform(-1, 1, (6, 16, 16, 3)).astype("float32")
    layer = DiffAugment(seed=5, target=0.6, speed=0.25)
    assert layer.adaptive and _np(layer.probability.value).tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(_np(layer(x, domain=0)), x)  # p starts at 0: nothing applies
    layer.probability.assign(np.array([0.5, 0.0], "float32"))
    draws = int(_np(layer.draws.value))
    assert draws == 6 * ADAPTIVE_DRAWS_PER_IMAGE  # the first call drew 10 numbers per image
    out = _np(layer(x, domain=0))
    counter = draws + ADAPTIVE_DRAWS_PER_IMAGE * np.arange(6, dtype="int32")
    u = [_np(hash_uniform(np.int32(5), counter + slot)) for slot in range(10)]
    expected, applied = x.copy(), np.zeros((6, 3), bool)
    for index, augment in enumerate(
        (
            lambda im: color(im, u[0], u[1], u[2]),
            lambda im: translate(im, u[3], u[4]),
            lambda im: cutout(im, u[5], u[6]),
        )
    ):
        applied[:, index] = u[7 + index] < 0.5
        expected = np.where(applied[:, index, None, None, None], _np(augment(expected)), expected)
    assert 0 < applied.sum() < applied.size, "p = 0.5 applies some policies to some images"
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_array_equal(_np(layer(x, domain=1)), x)  # the photo D's p is still 0
    with pytest.raises(ValueError, match="domain"):
        layer(x, domain=2)


def test_adaptive_probability_steps_by_the_share_of_real_patches_called_real():
    from painter.cyclegan.diffaugment import DiffAugment
    from painter.cyclegan.losses import decision_margin

    layer = DiffAugment(seed=0, target=0.6, speed=0.25)
    # LSGAN outputs, boundary 0.5: 7 of 8 patches called real -> r = (7 - 1) / 8 = 0.75 > 0.6.
    lsgan = np.array([0.9, 0.7, 0.6, 0.8, 1.2, 0.51, 0.55, 0.1], "float32").reshape(2, 2, 2, 1)
    assert float(_np(layer(decision_margin(lsgan, "lsgan"), domain=0, adapt=True))) == 0.25
    assert float(_np(layer(decision_margin(lsgan, "lsgan"), domain=0, adapt=True))) == 0.5
    # BCE logits, boundary 0: 6 of 8 -> r = 0.5 < 0.6: down, for the photo D only, clipped at 0.
    bce = np.array([2.0, 0.1, 0.3, 1.0, -0.2, 0.4, -3.0, 0.9], "float32").reshape(2, 2, 2, 1)
    assert float(_np(layer(decision_margin(bce, "bce"), domain=1, adapt=True))) == 0.0
    assert float(_np(layer(decision_margin(bce, "bce"), domain=0, adapt=True))) == 0.25
    for _ in range(6):  # four steps up reach 1; it stays there
        layer(decision_margin(lsgan, "lsgan"), domain=0, adapt=True)
    assert _np(layer.probability.value).tolist() == [1.0, 0.0]
    restored = DiffAugment.from_config(layer.get_config())
    assert (restored.target, restored.speed, restored.adaptive) == (0.6, 0.25, True)
    # A ceiling: p climbs 0.25, 0.5 and then stops at 0.6, however long D keeps memorising.
    capped = DiffAugment(seed=0, target=0.6, speed=0.25, max_probability=0.6)
    margins = decision_margin(lsgan, "lsgan")
    climb = [float(_np(capped(margins, domain=0, adapt=True))) for _ in range(4)]
    np.testing.assert_allclose(climb, [0.25, 0.5, 0.6, 0.6])
    assert DiffAugment.from_config(capped.get_config()).max_probability == 0.6
    with pytest.raises(ValueError, match="max_probability"):
        DiffAugment(target=0.6, speed=0.1, max_probability=0.0)
    with pytest.raises(ValueError, match="adaptive"):
        DiffAugment(seed=0)(lsgan, domain=0, adapt=True)
    with pytest.raises(ValueError, match="target"):
        DiffAugment(target=1.0, speed=0.1)


def _gradient(fn, x):
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(fn)(x))
    import tensorflow as tf

    value = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(value)
        out = fn(value)
    return tape.gradient(out, value).numpy()


# --- LeCam ---------------------------------------------------------------------------------------
def test_lecam_regularization_is_the_papers_one_sided_squares():
    from painter.cyclegan.losses import lecam_regularization

    real = np.array([[[[0.9]], [[0.1]]], [[[-0.2]], [[0.5]]]], "float32")  # [2, 2, 1, 1]
    fake = np.array([[[[-0.4]], [[0.3]]], [[[0.2]], [[-1.0]]]], "float32")
    average_real, average_fake = 0.4, -0.1
    expected = (np.maximum(real - average_fake, 0) ** 2).reshape(2, -1).mean(1) + (
        np.maximum(average_real - fake, 0) ** 2
    ).reshape(2, -1).mean(1)
    out = _np(lecam_regularization(real, fake, average_real, average_fake))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_lecam_averages_start_at_the_first_means_then_decay():
    from painter.cyclegan.averages import LeCamAverages

    layer = LeCamAverages(decay=0.99)
    real1, fake1 = np.full((2, 3, 3, 1), 0.8, "float32"), np.full((2, 3, 3, 1), -0.6, "float32")
    layer(real1, fake1)
    assert float(_np(layer.real.value)) == pytest.approx(0.8)
    assert float(_np(layer.fake.value)) == pytest.approx(-0.6)
    layer(np.zeros_like(real1), np.ones_like(fake1))
    assert float(_np(layer.real.value)) == pytest.approx(0.99 * 0.8)
    assert float(_np(layer.fake.value)) == pytest.approx(0.99 * -0.6 + 0.01)
    assert int(_np(layer.count.value)) == 2


# --- the EMA -------------------------------------------------------------------------------------
@pytest.mark.parametrize("warmup", [None, 2.0])
def test_weight_average_follows_the_warmed_up_recurrence(warmup):
    from painter.cyclegan.averages import EMA_WARMUP, WeightAverage

    if warmup is None:  # the layer's default
        layer, warmup = WeightAverage([(2,), (1, 3)], decay=0.6), EMA_WARMUP
    else:
        layer = WeightAverage([(2,), (1, 3)], decay=0.6, warmup=warmup)
    rng = np.random.default_rng(4)
    expected = [np.zeros(2), np.zeros((1, 3))]
    for t in range(6):
        weights = [
            rng.normal(size=(2,)).astype("float32"),
            rng.normal(size=(1, 3)).astype("float32"),
        ]
        layer(weights)
        decay = min(0.6, t / (warmup + t))  # 0 at the first update: a copy; 0.6 from t = 3 at 2
        expected = [decay * e + (1 - decay) * w for e, w in zip(expected, weights, strict=True)]
    for average, value in zip(layer.averages, expected, strict=True):
        np.testing.assert_allclose(_np(average.value), value, rtol=1e-5, atol=1e-7)
    assert int(_np(layer.updates.value)) == 6
    assert WeightAverage.from_config(layer.get_config()).warmup == warmup


def test_the_configs_ema_warmup_default_is_the_layers():
    from painter.cyclegan.averages import EMA_WARMUP

    assert Config().ema_warmup == EMA_WARMUP


# --- spectral norm -------------------------------------------------------------------------------
def test_spectral_conv_divides_the_kernel_by_its_largest_singular_value():
    import keras

    from painter.models.layers import SpectralConv2D

    keras.utils.set_random_seed(0)  # a fixed kernel: the power iteration's speed depends on it
    layer = SpectralConv2D(5, 3, name="sn")
    x = np.random.default_rng(5).normal(size=(1, 8, 8, 4)).astype("float32")
    layer(x, training=False)
    u_before = _np(layer.vector_u.value).copy()
    layer(x, training=False)
    np.testing.assert_array_equal(_np(layer.vector_u.value), u_before)  # inference leaves u alone
    for _ in range(100):  # power iterations converge on the top singular vector
        layer(x, training=True)
    kernel, _ = layer.normalized_kernel()
    top = np.linalg.svd(_np(kernel).reshape(-1, 5), compute_uv=False)[0]
    assert top == pytest.approx(1.0, abs=1e-3)
    raw_top = np.linalg.svd(_np(layer.kernel.value).reshape(-1, 5), compute_uv=False)[0]
    assert raw_top != pytest.approx(1.0, abs=0.05)  # the raw kernel was not normalised by hand


def test_a_spectral_norm_discriminator_has_no_norms_and_survives_a_keras_file(tmp_path):
    import keras

    from painter.models import build_discriminator
    from painter.models.layers import SpectralConv2D

    config = preset("smoke").replace(spectral_norm=True)
    model = build_discriminator(config, "monet_discriminator")
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "GroupNormalization" not in kinds
    assert sum(isinstance(layer, SpectralConv2D) for layer in model.layers) == 5
    x = np.random.default_rng(6).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    model(x, training=True)
    model.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), atol=1e-5)


# --- config --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("diffaugment", "color,zoom", "diffaugment"),
        ("diffaugment_target", 1.0, "diffaugment_target"),
        ("diffaugment_adjust_images", 0, "diffaugment_adjust_images"),
        ("diffaugment_max_probability", 1.5, "diffaugment_max_probability"),
        ("diffaugment_max_probability", 0.0, "diffaugment_max_probability"),
        ("lecam_weight", -0.1, "lecam_weight"),
        ("r1_weight", -1.0, "r1_weight"),
        ("r1_target", 1.0, "r1_target"),
        ("r1_start", -1, "r1_start"),
        ("r1_start", 2.5, "r1_start"),
        ("r1_interval", 0, "r1_interval"),
        ("r1_interval", 1.5, "r1_interval"),
        ("ema_decay", 1.0, "ema_decay"),
        ("ema_warmup", 0.0, "ema_warmup"),
        ("cycle_downsample", 0, "cycle_downsample"),
        ("cycle_downsample", 3, "cycle_downsample.*must divide `image_size`"),
        ("discriminator_scales", 0, "discriminator_scales"),
    ],
)
def test_bad_recipe_values_are_refused_by_name(field, value, message):
    with pytest.raises(ConfigError, match=message):
        preset("smoke").replace(**{field: value})


def test_an_adaptive_target_without_diffaugment_says_to_switch_it_on():
    with pytest.raises(ConfigError, match='diffaugment="color,translation,cutout"'):
        preset("smoke").replace(diffaugment="", diffaugment_target=0.6)


def test_an_adaptive_r1_without_r1_says_to_set_its_gamma():
    with pytest.raises(ConfigError, match="set r1_weight"):
        preset("smoke").replace(r1_weight=0.0, r1_target=0.6)


@pytest.mark.parametrize("field", ["diffaugment_target", "r1_target"])
def test_rpgan_with_an_adaptive_rule_is_refused_by_name(field):
    with pytest.raises(ConfigError, match=f"rpgan.*{field}=0.6"):
        preset("smoke").replace(
            adversarial_loss="rpgan", diffaugment="color", r1_weight=1.0, **{field: 0.6}
        )


def test_label_smoothing_without_bce_is_refused():
    with pytest.raises(ConfigError, match="label_smoothing.*set adversarial_loss='bce'"):
        preset("smoke").replace(adversarial_loss="lsgan", label_smoothing=0.1)


def test_a_delayed_r1_without_r1_says_to_set_its_gamma():
    with pytest.raises(ConfigError, match="r1_start.*set r1_weight"):
        preset("smoke").replace(r1_weight=0.0, r1_start=800)


def test_a_lazy_r1_without_r1_says_to_set_its_gamma():
    with pytest.raises(ConfigError, match="r1_interval.*set r1_weight"):
        preset("smoke").replace(r1_weight=0.0, r1_interval=16)


def test_adaptive_r1_scales_each_penalty_by_its_discriminators_strength():
    """`AdaptiveStrength` follows the rule of `adaptive.py` (ADA's, as DiffAugment's p), and the
    step's R1 term is gamma/2 x mean(s x |grad|^2): no penalty at s = 0."""
    from painter.cyclegan.adaptive import AdaptiveStrength
    from painter.cyclegan.losses import decision_margin

    layer = AdaptiveStrength(target=0.6, speed=0.25)
    # BCE logits: 7 of 8 real patches called real -> r = 0.75 > 0.6: up, for the Monet D only.
    memorising = np.array([2.0, 0.1, 0.3, 1.0, 0.2, 0.4, -3.0, 0.9], "float32").reshape(2, 2, 2, 1)
    unsure = -memorising  # r = -0.75: down
    assert float(_np(layer(decision_margin(memorising, "bce"), domain=0))) == 0.25
    assert float(_np(layer(decision_margin(memorising, "bce"), domain=0))) == 0.5
    assert float(_np(layer(decision_margin(unsure, "bce"), domain=1))) == 0.0  # clipped at 0
    for _ in range(3):
        layer(decision_margin(memorising, "bce"), domain=0)
    assert _np(layer.strength.value).tolist() == [1.0, 0.0]  # clipped at 1
    assert float(_np(layer(decision_margin(unsure, "bce"), domain=0))) == 0.75
    restored = AdaptiveStrength.from_config(layer.get_config())
    assert (restored.target, restored.speed, restored.adaptive) == (0.6, 0.25, True)
    assert not AdaptiveStrength().adaptive
    with pytest.raises(ValueError, match="target"):
        AdaptiveStrength(target=1.0)


def _r1_setup(**fields):
    """A tiny BCE CycleGAN config with R1 (gamma 2, no pool) and a fixed batch of 2 photos and
    2 Monets, for the R1 tests below."""
    config = preset("smoke").replace(
        image_size=16,
        resize_size=16,
        resnet_blocks=1,
        discriminator_layers=2,
        adversarial_loss="bce",
        pool_size=0,
        r1_weight=2.0,
        **fields,
    )
    rng = np.random.default_rng(0)
    real_photo = rng.uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    real_monet = rng.uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    return config, real_photo, real_monet


def _discriminator_total(model, real_photo, real_monet, step=None) -> float:
    """D's total loss of one forward pass of the shared step (`step.forward`), eagerly."""
    from painter.cyclegan.step import NETWORKS, POOLS, STATE_LAYERS, forward, step_losses

    nets = {name: getattr(model, name) for name in (*NETWORKS, *POOLS, *STATE_LAYERS)}
    nets["monet_discriminator_for_generator"] = model.monet_discriminator
    nets["photo_discriminator_for_generator"] = model.photo_discriminator
    nets["value_and_input_gradient"] = _value_and_input_gradient(nets)
    outputs = forward(model, real_photo, real_monet, nets, step=step)
    return float(_np(step_losses(outputs, model.loss_settings, 2)["discriminator_total"]))


def test_the_step_weighs_r1_by_the_strength_it_moved(tmp_path):
    """From a strength of 0 with a target D cannot pass (it stays 0) D's loss has no R1 term; from
    a strength of 1 the step moves it one notch (an untrained D is unsure: down to 1 - speed)
    and D's loss holds that share of the fixed-gamma run's R1 term, exactly."""
    import keras

    from painter.cyclegan.model import build_cyclegan

    config, real_photo, real_monet = _r1_setup(identity_weight=0.0)

    def r1_term(target: float, start: float) -> tuple[float, list[float]]:
        model = build_cyclegan(config.replace(r1_target=target), steps_per_epoch=1)
        model.r1_strength.strength.assign(np.full(2, start, "float32"))
        total = _discriminator_total(model, real_photo, real_monet)
        return total, _np(model.r1_strength.strength.value)

    fixed, _ = r1_term(0.0, 0.0)
    off, strength_off = r1_term(0.99, 0.0)
    on, strength_on = r1_term(0.99, 1.0)
    speed = config.global_batch_size / config.diffaugment_adjust_images
    assert strength_off.tolist() == [0.0, 0.0]
    np.testing.assert_allclose(strength_on, [1.0 - speed] * 2, rtol=1e-6)
    assert fixed - off > 1e-4  # the penalty was there to leave out
    np.testing.assert_allclose(on - off, (1.0 - speed) * (fixed - off), rtol=1e-4)
    keras.backend.clear_session()


def test_r1_counts_from_r1_start_on(tmp_path):
    """Golden: before `r1_start` D's loss is exactly the R1-free one, from it on exactly the
    fixed-gamma one (the same model, the same forward pass, only the step number moves)."""
    import keras

    from painter.cyclegan.model import build_cyclegan

    config, real_photo, real_monet = _r1_setup(identity_weight=0.0)

    def discriminator_total(r1_weight: float, r1_start: int, step: int) -> float:
        model = build_cyclegan(
            config.replace(r1_weight=r1_weight, r1_start=r1_start), steps_per_epoch=1
        )
        return _discriminator_total(model, real_photo, real_monet, step=np.int64(step))

    without = discriminator_total(0.0, 0, 0)
    fixed = discriminator_total(2.0, 0, 0)
    assert fixed - without > 1e-4  # the penalty was there to leave out
    assert discriminator_total(2.0, 5, 4) == pytest.approx(without, abs=1e-7)
    assert discriminator_total(2.0, 5, 5) == pytest.approx(fixed, abs=1e-7)
    assert discriminator_total(2.0, 5, 900) == pytest.approx(fixed, abs=1e-7)
    keras.backend.clear_session()


def test_lazy_r1_is_every_nth_step_from_r1_start_with_n_times_the_penalty(tmp_path):
    """Golden: with r1_interval=3 and r1_start=5, D's loss is the R1-free one at steps 4, 6 and
    7, and at steps 5 and 8 the R1-free one plus exactly 3x the every-step run's R1 term."""
    import keras

    from painter.cyclegan.model import build_cyclegan

    config, real_photo, real_monet = _r1_setup(identity_weight=0.0)

    def discriminator_total(step: int, **fields) -> float:
        model = build_cyclegan(config.replace(**fields), steps_per_epoch=1)
        return _discriminator_total(model, real_photo, real_monet, step=np.int64(step))

    without = discriminator_total(0, r1_weight=0.0)
    term = discriminator_total(0) - without  # R1 on every step, gamma 2
    assert term > 1e-4
    lazy = {"r1_interval": 3, "r1_start": 5}
    for step in (4, 6, 7):
        assert discriminator_total(step, **lazy) == pytest.approx(without, abs=1e-7), step
    for step in (5, 8):
        assert discriminator_total(step, **lazy) == pytest.approx(without + 3 * term, rel=1e-5)
    keras.backend.clear_session()


def _monet_discriminator_after_each_step(
    steps: int, eager: bool = False, **fields
) -> list[np.ndarray]:
    """Monet D's weights after each of `steps` steps of `_r1_setup`'s model with `fields`
    through model.fit (one fit per step, the same batch), on the running backend; compiled, or
    step by step when `eager` (TensorFlow then runs only the branch tf.cond takes)."""
    import keras

    from painter.cyclegan.model import build_cyclegan

    config, real_photo, real_monet = _r1_setup()
    model = build_cyclegan(config.replace(**fields), steps_per_epoch=1)
    model.run_eagerly = eager
    weights = []
    for _ in range(steps):
        model.fit(real_photo, real_monet, batch_size=2, epochs=1, verbose=0)
        weights.append(np.concatenate([_np(w).ravel() for w in model.monet_discriminator.weights]))
    keras.backend.clear_session()
    return weights


def test_the_training_step_starts_r1_at_its_step_and_runs_lazy_r1_on_its_steps_only(
    keras_backend,
):
    """Through model.fit on each backend (each reads the step its own way; tf.cond / lax.cond in
    the compiled step): with r1_start=1 and r1_interval=2, step 0 is the R1-free run's update,
    step 1 the update of R1 on every step from step 1 with twice the gamma (R1 starts at its
    step), and step 2, which skips R1, is not. R1 from step 0 is test_cyclegan's closed form."""

    def updates(eager: bool = False, **fields) -> list[np.ndarray]:
        # A constant lr over 5 epochs of 1 step: the smoke preset's would be 0 at step 2.
        return _monet_discriminator_after_each_step(3, eager, epochs=5, decay_epochs=0, **fields)

    # The compiled lazy step is under test; on TensorFlow its references run eagerly: tracing
    # tf.cond under the tape builds R1's second-order gradient graph (~20 s a model here).
    eager = keras_backend == "tensorflow"
    without = updates(eager, r1_weight=0.0)
    lazy = updates(r1_start=1, r1_interval=2)
    doubled = updates(eager, r1_start=1, r1_weight=4.0)
    np.testing.assert_allclose(lazy[0], without[0], rtol=0, atol=1e-6)  # step 0: before r1_start
    np.testing.assert_allclose(doubled[0], without[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(lazy[1], doubled[1], rtol=0, atol=1e-6)  # step 1: R1 x 2
    assert np.abs(lazy[1] - without[1]).max() > 1e-5  # R1 moved it
    assert np.abs(lazy[2] - doubled[2]).max() > 1e-5  # step 2: lazy skips R1, doubled does not


def test_the_training_step_averages_the_generator_with_its_warmup():
    """Through model.fit on each backend: after each of three steps the painting generator's
    weights are the warmed-up EMA of the live ones, decay min(ema_decay, t / (ema_warmup + t))."""
    import keras

    from painter.cyclegan.model import build_cyclegan

    config, real_photo, real_monet = _r1_setup(ema_decay=0.6, ema_warmup=0.5)
    model = build_cyclegan(config.replace(r1_weight=0.0), steps_per_epoch=1)
    assert model.monet_generator_average.warmup == 0.5
    expected = None
    for t in range(3):
        model.fit(real_photo, real_monet, batch_size=2, epochs=1, verbose=0)
        live = [_np(w.value).astype("float64") for w in model.monet_generator.trainable_weights]
        decay = min(0.6, t / (0.5 + t))  # 0, 0.6 (capped), 0.6; the default ramp: 0, 0.09, 0.17
        expected = (
            live
            if expected is None
            else [decay * e + (1 - decay) * w for e, w in zip(expected, live, strict=True)]
        )
        painting = model.painting_generator().trainable_weights
        for average, value in zip(painting, expected, strict=True):
            np.testing.assert_allclose(_np(average.value), value, rtol=1e-5, atol=1e-6)
    keras.backend.clear_session()


def _value_and_input_gradient(nets):
    import keras

    from painter.cyclegan.losses import r1_score

    def run(name, images, count, active=None):
        if active is not None and not bool(_np(active)):  # eager: the branch the step takes
            return nets[name](images), keras.ops.zeros_like(images)
        if keras.backend.backend() == "jax":
            import jax

            def score(x):
                return r1_score(nets[name](x), count)

            return nets[name](images), jax.grad(score)(images)
        import tensorflow as tf

        images = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = nets[name](images)
            score = r1_score(logits, count)
        return logits, tape.gradient(score, images)

    return run


def test_a_ceiling_without_an_adaptive_target_says_to_set_one():
    with pytest.raises(ConfigError, match="also set diffaugment_target"):
        preset("smoke").replace(
            diffaugment="color,translation,cutout", diffaugment_max_probability=0.6
        )


# --- a run with every recipe on -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from painter.training.synthetic import make_dataset

    return make_dataset(
        tmp_path_factory.mktemp("data"), photos=16, monets=8, size=48, records_per_file=8
    )


@pytest.mark.parametrize("objective", ["cyclegan", "cut"])
def test_a_run_with_every_recipe_resumes_to_the_same_state(tmp_path, tiny_data, objective):
    import shutil

    import keras

    from painter.runtime import select_runtime
    from painter.training.train import train

    runtime = select_runtime(keras.backend.backend(), "single")
    config = preset("smoke").replace(**RECIPES, objective=objective)
    if objective == "cut":  # the identity PatchNCE on every 2nd Monet (x 2)
        config = config.replace(nce_identity_stride=2)
    unbroken = train(config, tmp_path / "unbroken", data=tiny_data, runtime=runtime, verbose=0)
    # A run stopped after its first epoch: the unbroken run's workdir without its last checkpoint
    # (keep_checkpoints=2 kept the first). How a stop itself is survived is test_training's part.
    shutil.copytree(tmp_path / "unbroken", tmp_path / "resumed")
    shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "epoch-0002")
    resumed = train(config, tmp_path / "resumed", data=tiny_data, runtime=runtime, verbose=0)
    assert resumed.start_epoch == 1

    reference, state = unbroken.model.get_state(), resumed.model.get_state()
    assert state.keys() == reference.keys()
    for key in ("diffaugment/draws", "monet_lecam/count", "monet_generator_average/updates"):
        assert int(state[key]) == int(reference[key]) > 0, key
    probability = state["diffaugment/probability"]
    assert np.any(probability > 0), probability  # p moved, so its resume is tested
    np.testing.assert_array_equal(probability, reference["diffaugment/probability"])
    # history.json logs the Monet D's p, the epoch's mean: in [0, 1], the same after a resume.
    logged = unbroken.history["augment_probability"]
    assert len(logged) == unbroken.epochs_done and all(0.0 <= p <= 1.0 for p in logged)
    assert resumed.history["augment_probability"] == pytest.approx(logged, abs=1e-6)
    worst = max(
        float(np.max(np.abs(state[k].astype("float64") - reference[k])))
        for k in reference
        if reference[k].size
    )
    assert worst <= 1e-5, f"resumed state differs from the unbroken run's by {worst}"
    if objective == "cut":  # PatchNCE's heads trained and resumed with the rest
        heads = [k for k in reference if k.startswith("patch_heads/")]
        assert heads and "nce_loss" in resumed.history
        # nce_pixels=False: a head per U-Net encoder level (4), none for the input's RGB.
        assert len(resumed.model.patch_heads.channels) == 4 and not resumed.model.nce_pixels
        assert not any(k.startswith("photo_generator/") for k in reference)
    # The EMA is what paints, and it is not the live generator.
    painting = resumed.model.painting_generator()
    averages = resumed.model.monet_generator_average.averages
    for weight, average in zip(painting.trainable_weights, averages, strict=True):
        np.testing.assert_array_equal(_np(weight.value), _np(average.value))
    live = resumed.model.monet_generator.trainable_weights
    assert any(
        not np.allclose(_np(a.value), _np(b.value))
        for a, b in zip(painting.trainable_weights, live, strict=True)
    )


def test_a_resize_upsampling_unet_has_no_transposed_convolutions(tmp_path):
    import keras

    from painter.models import build_generator

    config = preset("smoke").replace(generator="unet", upsampling="resize")
    model = build_generator(config, "monet_generator")
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in model.layers)
    transposed = build_generator(config.replace(upsampling="transpose"), "monet_generator")
    assert any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in transposed.layers)
    x = np.random.default_rng(7).uniform(-1, 1, (1, 32, 64, 3)).astype("float32")
    assert _np(model(x)).shape == (1, 32, 64, 3)
    model.save(tmp_path / "g.keras")
    np.testing.assert_allclose(
        _np(keras.saving.load_model(tmp_path / "g.keras")(x)), _np(model(x)), atol=1e-6
    )
