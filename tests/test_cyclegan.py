"""CycleGAN's objective, step, pool, schedule and state, on the backend pytest runs with.

Golden values: tiny fixed networks (1x1 convolutions) on a fixed batch; the losses and the first
update are recomputed here in NumPy from the paper's equations (and finite differences)."""

from __future__ import annotations

import numpy as np
import pytest

from painter.config import preset

pytestmark = pytest.mark.backend

SIZE = 8


def _tiny_networks(seed=0, discriminator_activation="linear"):
    """G, F: tanh(x W + b) per pixel; D_monet, D_photo: x w + c per pixel (one logit per pixel),
    or tanh(x w + c) with discriminator_activation="tanh" (a slope that depends on the image)."""
    import keras

    rng = np.random.default_rng(seed)
    params = {}

    def net(name, channels, activation):
        model = keras.Sequential(
            [
                keras.Input((None, None, 3)),
                keras.layers.Conv2D(channels, 1, name="conv"),
                keras.layers.Activation(activation, name="act"),
            ],
            name=name,
        )
        kernel = rng.normal(0, 0.5, (3, channels)).astype("float32")
        bias = rng.normal(0, 0.1, (channels,)).astype("float32")
        model.get_layer("conv").set_weights([kernel[None, None], bias])
        params[name] = (kernel.astype("float64"), bias.astype("float64"))
        return model

    nets = (
        net("monet_generator", 3, "tanh"),
        net("photo_generator", 3, "tanh"),
        net("monet_discriminator", 1, discriminator_activation),
        net("photo_discriminator", 1, discriminator_activation),
    )
    return nets, params


def _batch(seed=1):
    rng = np.random.default_rng(seed)
    real_photo = rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    real_monet = rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    return real_photo, real_monet


def _np(x):
    import keras

    return keras.ops.convert_to_numpy(x)


def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def _block_means(images, factor):
    """[B, H, W, C] -> the means of its factor x factor blocks, [B, H/factor, W/factor, C]."""
    b, h, w, c = images.shape
    return images.reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def _paper_losses(
    params,
    real_photo,
    real_monet,
    kind="lsgan",
    smoothing=0.0,
    discriminators=None,
    cycle_downsample=1,
):
    """Zhu et al. 2017 eq. 1-3 (+ identity, section 5.2) written out in NumPy, float64.
    `discriminators(name)` gives D's function when it is not the linear x w + c; with
    `cycle_downsample` N the cycle term compares the means of N x N blocks."""
    x, y = real_photo.astype("float64"), real_monet.astype("float64")

    def G(a):
        return np.tanh(a @ params["monet_generator"][0] + params["monet_generator"][1])

    def F(a):
        return np.tanh(a @ params["photo_generator"][0] + params["photo_generator"][1])

    def D_monet(a):
        return a @ params["monet_discriminator"][0] + params["monet_discriminator"][1]

    def D_photo(a):
        return a @ params["photo_discriminator"][0] + params["photo_discriminator"][1]

    if discriminators is not None:
        D_monet, D_photo = (
            discriminators("monet_discriminator"),
            discriminators("photo_discriminator"),
        )

    if kind == "lsgan":

        def gen(fake, real):
            return np.mean((fake - 1) ** 2)

        def disc(real, fake):
            return 0.5 * (np.mean((real - 1) ** 2) + np.mean(fake**2))
    elif kind == "rpgan":  # Jolicoeur-Martineau 2019's pairing: -log sigmoid(D(a) - D(b))

        def gen(fake, real):  # each painting against the real image of its pair, patch by patch
            return np.mean(-_log_sigmoid(fake - real))

        def disc(real, fake):
            return 0.5 * np.mean(-_log_sigmoid(real - fake))
    else:

        def gen(fake, real):  # -log D(G(x)), D = sigmoid(logit)
            return np.mean(-_log_sigmoid(fake))

        def disc(real, fake):
            target = 1.0 - smoothing
            real_term = -(target * _log_sigmoid(real) + (1 - target) * _log_sigmoid(-real))
            return 0.5 * (np.mean(real_term) + np.mean(-_log_sigmoid(-fake)))

    def low(images):
        return _block_means(images, cycle_downsample)

    fake_monet, fake_photo = G(x), F(y)
    return {
        "monet_gen_loss": gen(D_monet(fake_monet), D_monet(y)),
        "photo_gen_loss": gen(D_photo(fake_photo), D_photo(x)),
        "monet_disc_loss": disc(D_monet(y), D_monet(fake_monet)),
        "photo_disc_loss": disc(D_photo(x), D_photo(fake_photo)),
        "cycle_loss": np.mean(np.abs(low(F(fake_monet)) - low(x)))
        + np.mean(np.abs(low(G(fake_photo)) - low(y))),
        "identity_loss": np.mean(np.abs(G(y) - y)) + np.mean(np.abs(F(x) - x)),
    }


def _numeric_gradient(objective, params, name, h=1e-6):
    """Central differences of `objective(params)` for network `name`'s (kernel, bias)."""
    grads = []
    for array_index in range(2):
        grad = np.zeros_like(params[name][array_index])
        for index in np.ndindex(grad.shape):
            plus = {k: (v[0].copy(), v[1].copy()) for k, v in params.items()}
            minus = {k: (v[0].copy(), v[1].copy()) for k, v in params.items()}
            plus[name][array_index][index] += h
            minus[name][array_index][index] -= h
            grad[index] = (objective(plus) - objective(minus)) / (2 * h)
        grads.append(grad)
    return grads


def _fit_one_step(model, real_photo, real_monet):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((real_photo, real_monet)).batch(len(real_photo))
    return {k: v[-1] for k, v in model.fit(dataset, epochs=1, verbose=0).history.items()}


@pytest.mark.parametrize(
    "kind,smoothing,downsample",
    [("lsgan", 0.0, 1), ("bce", 0.1, 1), ("rpgan", 0.0, 1), ("lsgan", 0.0, 2), ("lsgan", 0.0, 4)],
)
def test_losses_match_the_papers_equations_computed_by_hand(kind, smoothing, downsample):
    from painter.cyclegan.model import CycleGAN

    nets, params = _tiny_networks()
    model = CycleGAN(*nets, pool_size=0)
    model.build((None, SIZE, SIZE, 3))
    model.compile(adversarial_loss=kind, label_smoothing=smoothing, cycle_downsample=downsample)
    real_photo, real_monet = _batch()
    logs = _fit_one_step(model, real_photo, real_monet)
    expected = _paper_losses(
        params, real_photo, real_monet, kind, smoothing, cycle_downsample=downsample
    )
    assert set(logs) == set(expected)
    for name, value in expected.items():
        assert logs[name] == pytest.approx(value, rel=1e-5), name


@pytest.mark.parametrize("kind,downsample", [("lsgan", 1), ("rpgan", 1), ("lsgan", 2)])
def test_first_update_is_minus_lr_times_the_papers_gradient(kind, downsample):
    """With SGD the update is -lr * gradient: generators follow d(eq. 3)/dG, discriminators
    d(halved discriminator loss)/dD, checked against NumPy finite differences of the equations.
    With RpGAN D's outputs on the real images enter the generators' loss as constants; with
    cycle_downsample 2 the generators' gradient is that of the block-averaged cycle term."""
    import keras

    from painter.cyclegan.model import CycleGAN

    nets, params = _tiny_networks(seed=3)
    model = CycleGAN(*nets, pool_size=0)
    model.build((None, SIZE, SIZE, 3))
    lr = 0.1
    model.compile(
        keras.optimizers.SGD(lr),
        keras.optimizers.SGD(lr),
        adversarial_loss=kind,
        cycle_weight=10.0,
        identity_weight=0.5,
        cycle_downsample=downsample,
    )
    real_photo, real_monet = _batch(seed=4)

    def objective(p, which):
        losses = _paper_losses(p, real_photo, real_monet, kind, cycle_downsample=downsample)
        if which == "generator":
            return (
                losses["monet_gen_loss"]
                + losses["photo_gen_loss"]
                + 10.0 * losses["cycle_loss"]
                + 0.5 * 10.0 * losses["identity_loss"]
            )
        return losses["monet_disc_loss"] + losses["photo_disc_loss"]

    def numeric_gradient(name, which):
        return _numeric_gradient(lambda p: objective(p, which), params, name)

    _fit_one_step(model, real_photo, real_monet)
    for name, which in (
        ("monet_generator", "generator"),
        ("photo_generator", "generator"),
        ("monet_discriminator", "discriminator"),
        ("photo_discriminator", "discriminator"),
    ):
        kernel, bias = getattr(model, name).get_layer("conv").get_weights()
        expected_kernel, expected_bias = numeric_gradient(name, which)
        np.testing.assert_allclose(
            (params[name][0] - kernel[0, 0]) / lr,
            expected_kernel,
            rtol=2e-3,
            atol=2e-4,
            err_msg=name,
        )
        np.testing.assert_allclose(
            (params[name][1] - bias) / lr, expected_bias, rtol=2e-3, atol=2e-4, err_msg=name
        )


def test_r1_adds_its_penalty_on_the_real_images_and_trains_d_through_it():
    """R1 (Mescheder et al. 2018): D's update follows d/dD of its loss + (gamma / 2) E|d s /
    d real|^2, s = D's mean logit over an image's pixels. With D = tanh(x w + c) per pixel the
    slope (1 - D^2) w / pixels depends on the image, so the penalty is D's on the real images it
    judged, and its gradient for D's weights goes through the input gradient (second order).
    NumPy finite differences of the closed form; SGD makes the update -lr * gradient."""
    import keras

    from painter.cyclegan.model import CycleGAN

    gamma, lr = 4.0, 0.1
    nets, params = _tiny_networks(seed=5, discriminator_activation="tanh")
    model = CycleGAN(*nets, pool_size=0)
    model.build((None, SIZE, SIZE, 3))
    model.compile(
        keras.optimizers.SGD(lr), keras.optimizers.SGD(lr), adversarial_loss="bce", r1_weight=gamma
    )
    real_photo, real_monet = _batch(seed=6)

    def objective(p):
        def tanh_d(name):
            return lambda a: np.tanh(a @ p[name][0] + p[name][1])

        losses = _paper_losses(p, real_photo, real_monet, "bce", discriminators=tanh_d)
        total = losses["monet_disc_loss"] + losses["photo_disc_loss"]
        for name, real in (
            ("monet_discriminator", real_monet),
            ("photo_discriminator", real_photo),
        ):
            slope = 1.0 - tanh_d(name)(real.astype("float64")) ** 2  # [batch, H, W, 1]
            pixels = SIZE * SIZE
            gradient = slope * p[name][0][:, 0] / pixels  # d s / d real: [batch, H, W, 3]
            total += 0.5 * gamma * np.mean(np.sum(gradient**2, axis=(1, 2, 3)))
        return total, losses

    logs = _fit_one_step(model, real_photo, real_monet)
    # The logged D losses stay the adversarial terms alone (comparable with R1 off).
    _, expected_losses = objective(params)
    assert logs["monet_disc_loss"] == pytest.approx(expected_losses["monet_disc_loss"], rel=1e-5)
    for name in ("monet_discriminator", "photo_discriminator"):
        kernel, bias = getattr(model, name).get_layer("conv").get_weights()
        expected_arrays = _numeric_gradient(lambda p: objective(p)[0], params, name)
        for array_index, updated in ((0, kernel[0, 0]), (1, bias)):
            expected = expected_arrays[array_index]
            np.testing.assert_allclose(
                (params[name][array_index] - updated) / lr,
                expected,
                rtol=2e-3,
                atol=2e-4,
                err_msg=f"{name}[{array_index}]",
            )


def test_identity_weight_zero_turns_the_identity_term_off():
    from painter.cyclegan.model import CycleGAN

    nets, params = _tiny_networks()
    model = CycleGAN(*nets, pool_size=0)
    model.build((None, SIZE, SIZE, 3))
    model.compile(identity_weight=0.0)
    logs = _fit_one_step(model, *_batch())
    assert logs["identity_loss"] == 0.0
    assert logs["cycle_loss"] == pytest.approx(
        _paper_losses(params, *_batch())["cycle_loss"], rel=1e-5
    )


@pytest.mark.parametrize("merged", [True, False])
@pytest.mark.parametrize("identity_weight", [0.5, 0.0])
def test_the_step_calls_each_generator_on_all_its_inputs_at_once(identity_weight, merged):
    """Merged (the U-Net's, from build_cyclegan): three generator calls, F on [real_monet;
    real_photo], G on [real_photo; real_monet; fake_photo], F on fake_monet (without identity
    F's first call and G's lose the identity images); else four, G and F side by side, then
    each on the other's fakes. Each output as the network gives it for that input alone (the
    U-Net's instance norms are per image)."""
    from painter.cyclegan.model import build_cyclegan
    from painter.cyclegan.step import NETWORKS, POOLS, STATE_LAYERS, forward

    config = preset("smoke").replace(
        image_size=32,
        resize_size=32,
        generator="unet",
        pool_size=0,
        identity_weight=identity_weight,
    )
    model = build_cyclegan(config, steps_per_epoch=1)
    assert model.merged_generator_calls  # the U-Net's; the ResNet keeps G and F side by side
    resnet = build_cyclegan(config.replace(generator="resnet"), steps_per_epoch=1)
    assert not resnet.merged_generator_calls
    assert resnet.get_config()["merged_generator_calls"] is False
    model.merged_generator_calls = merged
    rng = np.random.default_rng(2)
    real_photo, real_monet = rng.uniform(-1, 1, (2, 2, 32, 32, 3)).astype("float32")
    calls: dict[str, list[int]] = {"monet_generator": [], "photo_generator": []}

    def recorded(name):
        def call(images):
            calls[name].append(int(images.shape[0]))
            return getattr(model, name)(images, training=True)

        return call

    nets = {name: getattr(model, name) for name in (*NETWORKS, *POOLS, *STATE_LAYERS)}
    nets.update({name: recorded(name) for name in calls})
    nets["monet_discriminator_for_generator"] = model.monet_discriminator
    nets["photo_discriminator_for_generator"] = model.photo_discriminator
    outputs = forward(model, real_photo, real_monet, nets)
    if merged:
        expected_calls = {"monet_generator": [6], "photo_generator": [4, 2]}
        if not identity_weight:
            expected_calls = {"monet_generator": [4], "photo_generator": [2, 2]}
    else:
        each = [4, 2] if identity_weight else [2, 2]
        expected_calls = {"monet_generator": each, "photo_generator": each}
    assert calls == expected_calls
    G, F = (lambda x, n=n: _np(getattr(model, n)(x, training=True)) for n in calls)  # noqa: N806
    fake_photo = F(real_monet)
    expected = {"cycled_monet": G(fake_photo), "cycled_photo": F(G(real_photo))}
    if identity_weight:
        expected.update(same_monet=G(real_monet), same_photo=F(real_photo))
    if not identity_weight:
        assert not {"same_monet", "same_photo"} & set(outputs)
    for name, value in expected.items():
        np.testing.assert_allclose(_np(outputs[name]), value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_compile_rejects_bad_settings():
    from painter.cyclegan.model import CycleGAN

    model = CycleGAN(*_tiny_networks()[0], pool_size=0)
    with pytest.raises(ValueError, match="adversarial_loss"):
        model.compile(adversarial_loss="wgan")
    with pytest.raises(ValueError, match="label_smoothing"):
        model.compile(adversarial_loss="bce", label_smoothing=1.5)
    with pytest.raises(ValueError, match="smooths BCE's real label"):
        model.compile(adversarial_loss="rpgan", label_smoothing=0.1)
    with pytest.raises(ValueError, match="cycle_downsample"):
        model.compile(cycle_downsample=0)


def test_a_downsampled_cycle_ignores_detail_finer_than_its_blocks():
    """A reconstruction off by a +-e checkerboard (the finest detail there is) costs e per pixel
    compared pixel by pixel and nothing compared in 2 x 2 averages; an error that is constant
    over each block (a colour shift) costs the same either way."""
    from painter.cyclegan.losses import cycle_l1_loss

    rng = np.random.default_rng(0)
    real = rng.uniform(-0.5, 0.5, (2, SIZE, SIZE, 3)).astype("float32")
    checker = np.indices((SIZE, SIZE)).sum(axis=0) % 2 * 2.0 - 1.0  # +-1, alternating
    detail = real + 0.1 * checker[None, :, :, None].astype("float32")
    shifted = real + 0.1
    np.testing.assert_allclose(_np(cycle_l1_loss(real, detail, 1)), [0.1, 0.1], rtol=1e-5)
    np.testing.assert_allclose(_np(cycle_l1_loss(real, detail, 2)), [0.0, 0.0], atol=1e-6)
    for factor in (1, 2, 4):
        np.testing.assert_allclose(_np(cycle_l1_loss(real, shifted, factor)), [0.1, 0.1], rtol=1e-5)


def test_rpgan_has_no_decision_boundary_for_the_adaptive_rules():
    """Adding a constant to D's outputs changes no RpGAN loss, so the sign of D(real), which
    adaptive DiffAugment and R1 count, means nothing: refused, not read."""
    from painter.cyclegan.losses import decision_margin, discriminator_loss

    real, fake = np.array([[0.3, -1.0]], "float32"), np.array([[0.1, 0.4]], "float32")
    shifted = discriminator_loss(real + 5.0, fake + 5.0, "rpgan")
    np.testing.assert_allclose(_np(shifted), _np(discriminator_loss(real, fake, "rpgan")), 1e-6)
    with pytest.raises(ValueError, match="no decision boundary"):
        decision_margin(real, "rpgan")


# -- the image pool ------------------------------------------------------------------------------
def test_image_pool_fills_then_swaps_half_the_time():
    from painter.cyclegan.pool import ImagePool

    pool = ImagePool(4, seed=0)
    pool.build((None, 2, 2, 3))
    first = np.stack([np.full((2, 2, 3), i, "float32") for i in range(4)])
    np.testing.assert_array_equal(np.asarray(pool(first)), first)  # filling: shown as generated
    np.testing.assert_array_equal(np.asarray(pool.images), first)
    assert int(pool.count.numpy()) == 4
    swapped = 0
    for step in range(8):
        new = np.stack([np.full((2, 2, 3), 100 + 10 * step + i, "float32") for i in range(4)])
        before = np.asarray(pool.images).copy()
        shown = np.asarray(pool(new))
        stored_values = set(before[:, 0, 0, 0].tolist())
        swapped_in = set()
        for i in range(4):
            value = shown[i, 0, 0, 0]
            assert value == new[i, 0, 0, 0] or value in stored_values
            if value != new[i, 0, 0, 0]:
                swapped += 1
                swapped_in.add(float(new[i, 0, 0, 0]))
        after = set(np.asarray(pool.images)[:, 0, 0, 0].tolist())
        # A shown stored image gives its place to the new one (a later image of the same batch
        # may take the same place, as in the paper's one-at-a-time loop); nothing else changes.
        assert after <= stored_values | swapped_in
        assert bool(swapped_in) == bool(after - stored_values)
    assert 8 <= swapped <= 24  # about half of 32
    assert int(pool.count.numpy()) == 4


def _lowbias32(x: np.ndarray) -> np.ndarray:
    """Chris Wellons' lowbias32 in NumPy uint32 arithmetic (the reference for the int32 version)."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def test_pool_random_numbers_equal_the_numpy_reference_hash():
    """Same draws on every backend: both equal this NumPy computation bit for bit."""
    from painter.cyclegan.pool import hash_uniform

    seed, counter = 12345, np.arange(-5, 3000, dtype=np.int64)
    mixed = counter.astype(np.uint32) ^ _lowbias32(np.array([seed]))[0]
    expected = (_lowbias32(mixed) & np.uint32(0xFFFFFF)).astype(np.float64) / 2**24
    actual = np.asarray(hash_uniform(seed, counter.astype("int32")))
    np.testing.assert_array_equal(actual.astype(np.float64), expected)


def test_image_pool_is_deterministic_in_its_seed_and_off_at_size_zero():
    from painter.cyclegan.pool import ImagePool, hash_uniform

    draws = np.asarray(hash_uniform(5, np.arange(4000, dtype="int32")))
    assert 0.0 <= draws.min() and draws.max() < 1.0 and abs(draws.mean() - 0.5) < 0.03
    np.testing.assert_array_equal(
        draws, np.asarray(hash_uniform(5, np.arange(4000, dtype="int32")))
    )
    assert not np.array_equal(draws, np.asarray(hash_uniform(6, np.arange(4000, dtype="int32"))))
    off = ImagePool(0)
    off.build((None, 2, 2, 3))
    images = np.ones((3, 2, 2, 3), "float32")
    np.testing.assert_array_equal(np.asarray(off(images)), images)
    assert off.weights == []


# -- the schedule --------------------------------------------------------------------------------
def test_learning_rate_is_constant_then_decays_linearly_to_zero():
    import keras

    from painter.cyclegan.schedule import LinearDecaySchedule

    schedule = LinearDecaySchedule(2e-4, steps_per_epoch=10, epochs=4, decay_epochs=2)
    values = [float(schedule(step)) for step in (0, 19, 20, 30, 39, 40, 50)]
    assert values == pytest.approx([2e-4, 2e-4, 2e-4, 1e-4, 1e-5, 0.0, 0.0], abs=1e-9)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert clone.get_config() == schedule.get_config()
    assert float(LinearDecaySchedule(1e-3, 5, 3, 0)(14)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="decay_epochs"):
        LinearDecaySchedule(1e-3, 5, 3, 4)


# -- training end to end, state ------------------------------------------------------------------
# A shallow U-Net learns the toy cycle in a few dozen steps (the ResNet needs hundreds at 16 px).
TOY = preset("smoke").replace(
    image_size=16,
    resize_size=16,
    generator="unet",
    unet_depth=2,
    discriminator_layers=2,
    pool_size=4,
    generator_lr=5e-3,
    discriminator_lr=1e-3,
    epochs=3,
    decay_epochs=1,
    global_batch_size=2,
)
STEPS_PER_EPOCH = 15


def _toy_domains(count=20, seed=0):
    """Unpaired toy task: smooth colour fields (photos), and fields drawn independently with the red
    and blue channels swapped and the contrast inverted (Monets). Each image is zero-mean and of
    fixed spread per channel: instance norm discards exactly those, so a perfect cycle is
    learnable."""
    rng = np.random.default_rng(seed)

    def smooth(n):
        coarse = rng.uniform(-1, 1, (n, 4, 4, 3))
        fields = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)
        fields -= fields.mean(axis=(1, 2), keepdims=True)
        return (0.5 * fields / (fields.std(axis=(1, 2), keepdims=True) + 1e-6)).astype("float32")

    photos = smooth(count)
    monets = -smooth(count)[..., ::-1]
    return photos, np.ascontiguousarray(monets)


@pytest.fixture(scope="module")
def trained():
    import tensorflow as tf

    from painter.cyclegan.model import build_cyclegan

    model = build_cyclegan(TOY, steps_per_epoch=STEPS_PER_EPOCH)
    before = model.get_state()
    photos, monets = _toy_domains()
    dataset = (
        tf.data.Dataset.from_tensor_slices((photos, monets))
        .batch(TOY.global_batch_size, drop_remainder=True)
        .repeat()
    )
    history = model.fit(dataset, epochs=TOY.epochs, steps_per_epoch=STEPS_PER_EPOCH, verbose=0)
    return model, before, history.history


def test_training_drives_the_cycle_loss_down(trained):
    _, _, history = trained
    assert set(history) == {
        "monet_gen_loss",
        "photo_gen_loss",
        "monet_disc_loss",
        "photo_disc_loss",
        "cycle_loss",
        "identity_loss",
    }
    assert all(
        len(values) == TOY.epochs and np.all(np.isfinite(values)) for values in history.values()
    )
    assert history["cycle_loss"][-1] < 0.5 * history["cycle_loss"][0], history["cycle_loss"]


def test_after_fit_the_keras_variables_hold_the_trained_state(trained):
    """On JAX fit() trains on detached arrays; the variables (weights, both optimizers, pools)
    must have been synced back."""
    model, before, _ = trained
    after = model.get_state()
    steps = TOY.epochs * STEPS_PER_EPOCH
    assert int(after["generator_optimizer/0000_iteration"]) == steps
    assert int(after["discriminator_optimizer/0000_iteration"]) == steps
    assert int(model.optimizer.iterations.numpy()) == steps
    assert int(after["monet_pool/count"]) == TOY.pool_size
    assert int(after["photo_pool/draws"]) == 2 * TOY.global_batch_size * steps
    assert after["monet_pool/images"].std() > 0
    for key in before:
        if key.startswith(("monet_generator/", "photo_discriminator/")) and "kernel" in key:
            assert not np.allclose(before[key], after[key]), key
    # The learning rate followed the schedule to 0 at the end.
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)


def test_state_round_trips_into_a_fresh_model(trained):
    from painter.cyclegan.model import build_cyclegan

    model, _, _ = trained
    state = model.get_state()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    fresh = build_cyclegan(TOY.replace(seed=7), steps_per_epoch=STEPS_PER_EPOCH)
    fresh.set_state(state)
    restored = fresh.get_state()
    assert set(restored) == set(state)
    for key in state:
        np.testing.assert_array_equal(restored[key], state[key], err_msg=key)
    photo = _toy_domains(2, seed=5)[0]
    np.testing.assert_allclose(np.asarray(fresh(photo)), np.asarray(model(photo)), atol=1e-6)

    broken = dict(state)
    broken.pop("monet_pool/count")
    with pytest.raises(ValueError, match="missing"):
        fresh.set_state(broken)
    wrong = dict(state, **{"monet_pool/images": np.zeros((3, 16, 16, 3), "float32")})
    with pytest.raises(ValueError, match="monet_pool/images"):
        fresh.set_state(wrong)


def test_model_call_is_the_monet_generator_and_metrics_are_the_trackers(trained):
    model, _, _ = trained
    photo = _toy_domains(2, seed=6)[0]
    np.testing.assert_allclose(
        np.asarray(model(photo)), np.asarray(model.monet_generator(photo)), atol=1e-6
    )
    assert [m.name for m in model.metrics] == [
        "monet_gen_loss",
        "photo_gen_loss",
        "monet_disc_loss",
        "photo_disc_loss",
        "cycle_loss",
        "identity_loss",
    ]


def test_resuming_from_get_state_continues_exactly_like_an_unbroken_run(trained):
    """get_state() holds everything a run needs (weights, both Adams with their step counts and
    schedules, pools and their random-draw counters): one epoch, a fresh model loaded with its state
    and the remaining epochs end where the unbroken run of the fixture ended."""
    import tensorflow as tf

    from painter.cyclegan.model import build_cyclegan

    model, _, _ = trained
    photos, monets = _toy_domains()
    dataset = (
        tf.data.Dataset.from_tensor_slices((photos, monets))
        .batch(TOY.global_batch_size, drop_remainder=True)
        .repeat()
    )
    first = build_cyclegan(TOY, steps_per_epoch=STEPS_PER_EPOCH)
    first.fit(dataset, epochs=1, steps_per_epoch=STEPS_PER_EPOCH, verbose=0)
    resumed = build_cyclegan(TOY.replace(seed=99), steps_per_epoch=STEPS_PER_EPOCH)
    resumed.set_state(first.get_state())
    resumed.fit(
        dataset.skip(STEPS_PER_EPOCH),
        initial_epoch=1,
        epochs=TOY.epochs,
        steps_per_epoch=STEPS_PER_EPOCH,
        verbose=0,
    )
    expected, actual = model.get_state(), resumed.get_state()
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_painters_adam_makes_keras_adams_updates():
    """`optimizer.Adam` (TensorFlow's fused ResourceApplyAdam on TF) updates the weights and its
    moments as keras' Adam does, step after step with a learning-rate schedule; on TF the
    compiled step holds the fused op (one per variable), and it saves and loads as itself."""
    import keras

    from painter.cyclegan.optimizer import Adam

    rng = np.random.default_rng(0)
    start = [rng.normal(size=shape).astype("float32") for shape in ((3, 4), (4,))]
    gradients = [[rng.normal(size=w.shape).astype("float32") for w in start] for _ in range(4)]

    def train(optimizer_class):
        weights = [keras.Variable(w.copy()) for w in start]
        schedule = keras.optimizers.schedules.ExponentialDecay(2e-2, 2, 0.5)
        optimizer = optimizer_class(learning_rate=schedule, beta_1=0.5)
        optimizer.build(weights)

        def step(grads):
            optimizer.apply(grads, weights)

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            step = tf.function(step)
        for grads in gradients:
            step([keras.ops.convert_to_tensor(g) for g in grads])
        return optimizer, step, [_np(v) for v in [*weights, *optimizer.variables]]

    painter_adam, step, painted = train(Adam)
    _, _, expected = train(keras.optimizers.Adam)
    assert len(painted) == len(expected) == 2 + 1 + 2 * 2  # weights, iterations, m and v
    for ours, theirs in zip(painted, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert not np.allclose(painted[0], start[0])  # the weights did move
    if keras.backend.backend() == "tensorflow":
        graph = step.get_concrete_function(
            [keras.ops.convert_to_tensor(g) for g in gradients[0]]
        ).graph
        ops = [op.type for op in graph.get_operations()]
        assert ops.count("ResourceApplyAdam") == 2, sorted(set(ops))
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(painter_adam))
    assert type(restored) is Adam
    assert restored.get_config()["beta_1"] == 0.5


@pytest.mark.parametrize("beta_2", [0.99, 0.999])
def test_the_configs_adam_betas_make_adams_update(beta_2):
    """Golden (`beta_2`): the optimizers `build_cyclegan` makes from a config take its beta_1 and
    beta_2, and their update is Adam's (NumPy from the formula in `optimizer.Adam`'s docstring)
    for eight steps; StyleGAN's 0.99 and the paper's 0.999 move the weights differently."""
    import keras

    from painter.cyclegan.model import build_cyclegan

    # A large rate, so that the two betas' weights part by far more than the tolerance.
    config = preset("smoke").replace(beta_2=beta_2, generator_lr=0.05, epochs=1, decay_epochs=0)
    model = build_cyclegan(config, steps_per_epoch=4)
    for optimizer in model.optimizer.optimizers:
        assert (optimizer.beta_1, optimizer.beta_2) == (0.5, beta_2)
    optimizer = model.optimizer.generator
    rng = np.random.default_rng(1)
    start = rng.normal(size=(3, 4)).astype("float32")
    # Gradients of varied size, so that v's memory (beta_2) shapes the steps.
    scales = (1, 10, 0.1, 1, 10, 0.1, 1, 1)
    gradients = [rng.normal(size=start.shape).astype("float32") * s for s in scales]
    weight = keras.Variable(start.copy())
    adam = optimizer.__class__.from_config(optimizer.get_config())
    adam.build([weight])
    for g in gradients:
        adam.apply([keras.ops.convert_to_tensor(g)], [weight])

    def numpy_adam(b2: float) -> np.ndarray:
        lr, b1, eps = config.generator_lr, 0.5, adam.epsilon
        weights, m, v = start.astype("float64"), 0.0, 0.0
        for t, g in enumerate(gradients, start=1):
            m = m + (g - m) * (1 - b1)
            v = v + (g * g - v) * (1 - b2)
            weights = weights - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        return weights

    expected = numpy_adam(beta_2)
    np.testing.assert_allclose(_np(weight), expected, rtol=1e-5, atol=1e-7)
    other = numpy_adam(0.999 if beta_2 == 0.99 else 0.99)
    # The two betas part by 20x more than the comparison's tolerance.
    assert np.abs(expected - other).max() > 20 * 1e-5 * np.abs(expected).max()
