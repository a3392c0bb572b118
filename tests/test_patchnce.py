"""PatchNCE (CUT, Park et al. 2020): its loss against a NumPy reference, the patch draws, the heads
and the generator features it compares (`painter.cyclegan.patchnce`)."""

from __future__ import annotations

import numpy as np
import pytest

from painter.config import preset


def _np(x):
    import keras

    return keras.ops.convert_to_numpy(x)


def _unit(rng, shape):
    values = rng.normal(size=shape)
    return (values / np.linalg.norm(values, axis=-1, keepdims=True)).astype("float32")


@pytest.mark.backend
def test_patch_nce_loss_is_each_patchs_cross_entropy_against_its_own_images_patches():
    from painter.cyclegan.patchnce import patch_nce_loss

    rng = np.random.default_rng(0)
    queries, keys = _unit(rng, (2, 5, 8)), _unit(rng, (2, 5, 8))
    temperature = 0.07
    loss = _np(patch_nce_loss(queries, keys, temperature))
    # NumPy: for image b and patch i, -log softmax over j of q_bi . k_bj / t at j = i; mean over i.
    expected = []
    for b in range(2):
        logits = queries[b] @ keys[b].T / temperature
        logits -= logits.max(axis=1, keepdims=True)
        log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        expected.append(-np.mean(np.diag(log_softmax)))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert loss.shape == (2,)
    # A painting whose patches are the photo's own (q = k) beats one whose patches are shuffled.
    matched = _np(patch_nce_loss(keys, keys, temperature))
    shuffled = _np(patch_nce_loss(keys[:, ::-1], keys, temperature))
    assert np.all(matched < shuffled)


@pytest.mark.backend
def test_patch_nce_loss_takes_the_photos_side_as_a_constant():
    import keras

    from painter.cyclegan.patchnce import patch_nce_loss

    rng = np.random.default_rng(1)
    queries, keys = _unit(rng, (1, 4, 6)), _unit(rng, (1, 4, 6))
    if keras.backend.backend() == "jax":
        import jax

        grad_q, grad_k = jax.grad(lambda q, k: patch_nce_loss(q, k, 0.1).sum(), (0, 1))(
            queries, keys
        )
    else:
        import tensorflow as tf

        q, k = tf.constant(queries), tf.constant(keys)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([q, k])
            loss = tf.reduce_sum(patch_nce_loss(q, k, 0.1))
        grad_q, grad_k = tape.gradient(loss, q), tape.gradient(loss, k)
        grad_k = np.zeros_like(keys) if grad_k is None else grad_k
    assert np.abs(_np(grad_q)).max() > 0
    assert np.abs(_np(grad_k)).max() == 0


@pytest.mark.backend
def test_patch_positions_are_distinct_seeded_and_differ_by_step_and_layer():
    from painter.cyclegan.patchnce import patch_positions

    def draw(step, layer, positions=64, count=16, seed=3):
        return _np(patch_positions(seed, step, layer, positions, count))

    chosen = draw(0, 0)
    assert chosen.shape == (16,) and len(set(chosen.tolist())) == 16
    assert chosen.min() >= 0 and chosen.max() < 64
    np.testing.assert_array_equal(chosen, draw(0, 0))  # the same (seed, step, layer): the same
    assert set(draw(1, 0).tolist()) != set(chosen.tolist())
    assert set(draw(0, 1).tolist()) != set(chosen.tolist())
    assert set(draw(0, 0, seed=4).tolist()) != set(chosen.tolist())
    # Fewer positions than patches: every position once.
    assert sorted(draw(0, 0, positions=9).tolist()) == list(range(9))
    # Over many steps every position is drawn about equally often (16 of 64 each time).
    counts = np.bincount(np.concatenate([draw(s, 2) for s in range(400)]), minlength=64)
    assert counts.min() > 60 and counts.max() < 140, counts  # expected 100 each


@pytest.mark.backend
def test_patch_heads_embed_each_layer_as_unit_vectors_and_round_trip():
    import keras

    from painter.cyclegan.patchnce import PatchHeads

    heads = PatchHeads([3, 8], units=16, name="patch_heads")
    rng = np.random.default_rng(2)
    features = [rng.normal(size=(2, 5, 3)).astype("float32"), rng.normal(size=(2, 5, 8))]
    embedded = [_np(e) for e in heads(features)]
    assert [e.shape for e in embedded] == [(2, 5, 16), (2, 5, 16)]
    for e in embedded:
        np.testing.assert_allclose(np.linalg.norm(e, axis=-1), 1.0, rtol=1e-5)
        assert e.dtype == np.float32
    # Dense(relu) -> Dense, then x / (|x| + 1e-7), computed by hand for the first head.
    w1, b1 = _np(heads.hidden[0].kernel), _np(heads.hidden[0].bias)
    w2, b2 = _np(heads.projections[0].kernel), _np(heads.projections[0].bias)
    hidden = np.maximum(features[0] @ w1 + b1, 0)
    projected = hidden @ w2 + b2
    expected = projected / (np.linalg.norm(projected, axis=-1, keepdims=True) + 1e-7)
    np.testing.assert_allclose(embedded[0], expected, rtol=1e-5, atol=1e-6)
    copy = PatchHeads.from_config(heads.get_config())
    assert copy.channels == [3, 8] and copy.units == 16
    assert len(copy.weights) == len(heads.weights) == 8
    with pytest.raises(ValueError, match="2 heads"):
        heads([features[0]])
    with pytest.raises(ValueError, match="channels"):
        PatchHeads([])
    del keras


@pytest.mark.parametrize("pixels", [True, False])
@pytest.mark.parametrize(
    ("generator", "expected"),
    [
        ("unet", ("size_check", "down1_lrelu", "down2_lrelu", "down3_lrelu", "down4_lrelu")),
        ("resnet", ("size_check", "d128_conv", "d256_conv", "r1_add", "r2_add")),
    ],
)
def test_the_features_are_the_generators_own_layers(generator, expected, pixels):
    from painter.cyclegan.patchnce import feature_layers, feature_model
    from painter.models import build_generator

    config = preset("smoke").replace(generator=generator, image_size=32, resnet_blocks=2)
    model = build_generator(config, "monet_generator")
    expected = expected if pixels else expected[1:]  # without the input (CUT's layer 0)
    assert feature_layers(model, pixels=pixels) == expected
    view = feature_model(model, with_output=True, pixels=pixels)
    # No weights of its own: the generator's, the same variables.
    assert {id(v) for v in view.trainable_variables} <= {id(v) for v in model.trainable_variables}
    images = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    painting, *features = view(images)
    np.testing.assert_allclose(_np(painting), _np(model(images)), atol=1e-6)
    first = _np(features[0])
    if pixels:
        np.testing.assert_array_equal(first, images)  # the input itself comes first
    else:  # the first encoder level: half size, the generator's own activations
        import keras

        level = keras.Model(model.input, model.get_layer(expected[0]).output)
        assert first.shape[1:3] == (16, 16)
        np.testing.assert_allclose(first, _np(level(images)), atol=1e-6)
    assert len(features) == len(expected)


def test_a_cut_config_builds_one_generator_one_discriminator_and_the_heads():
    from painter.cyclegan.model import build_cyclegan

    config = preset("smoke").replace(objective="cut", pool_size=2)
    model = build_cyclegan(config, steps_per_epoch=2)
    assert model.objective == "cut"
    assert model.photo_generator is None and model.photo_discriminator is None
    # The smoke ResNet (8 filters): the photo, its 16- and 32-channel downsamplings, 2 blocks.
    assert model.patch_heads.channels == [3, 16, 32, 32, 32]
    assert [t.name for t in model.loss_trackers] == [
        "monet_gen_loss",
        "monet_disc_loss",
        "nce_loss",
    ]
    state = model.get_state()
    assert not any(key.startswith(("photo_generator/", "photo_discriminator/")) for key in state)
    assert any(key.startswith("monet_pool/") for key in state)
    assert not any(key.startswith("photo_pool/") for key in state)  # no photos to pool
    assert any(key.startswith("patch_heads/") for key in state)
    heads = model.patch_heads.trainable_variables
    optimized = model.generator_variables()
    assert all(any(v is w for w in optimized) for v in heads)


def test_a_cut_model_without_pixels_has_a_head_per_encoder_layer_and_saves_the_choice():
    from painter.cyclegan.model import CycleGAN, build_cyclegan
    from painter.cyclegan.patchnce import PatchHeads

    config = preset("smoke").replace(objective="cut", nce_pixels=False)
    model = build_cyclegan(config, steps_per_epoch=2)
    # The smoke ResNet (8 filters): its 16- and 32-channel downsamplings and 2 blocks, no photo.
    assert model.patch_heads.channels == [16, 32, 32, 32]
    encoder = model.generator_views["monet_generator_encoder"]
    features = encoder(np.zeros((1, 32, 32, 3), "float32"))
    assert [tuple(f.shape[1:3]) for f in features] == [(16, 16), (8, 8), (8, 8), (8, 8)]
    restored = CycleGAN.from_config(model.get_config())
    assert restored.nce_pixels is False and restored.patch_heads.channels == [16, 32, 32, 32]
    # Heads built for the pixels' five layers do not fit the four compared.
    with pytest.raises(ValueError, match=r"compares 4 layers .* 5 heads"):
        CycleGAN(
            model.monet_generator,
            None,
            model.monet_discriminator,
            None,
            patch_heads=PatchHeads([3, 16, 32, 32, 32]),
            nce_pixels=False,
        )


@pytest.mark.backend
def test_patch_nce_averages_the_layers_that_have_patches_to_contrast():
    from painter.cyclegan.patchnce import (
        PatchHeads,
        gather_patches,
        patch_nce,
        patch_nce_loss,
        patch_positions,
    )

    rng = np.random.default_rng(3)
    heads = PatchHeads([3, 5], units=8)
    queries = [rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 1, 1, 5))]
    keys = [rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 1, 1, 5))]
    queries, keys = ([x.astype("float32") for x in xs] for xs in (queries, keys))
    loss = _np(patch_nce(heads, queries, keys, seed=0, step=5, temperature=0.1, count=8))
    # Layer 0 at its 8 drawn positions (of 16); the 1 x 1 layer has no other patch: left out.
    chosen = patch_positions(0, 5, 0, 16, 8)
    one = np.zeros((1,), "int32")
    embedded_q = heads([gather_patches(queries[0], chosen), gather_patches(queries[1], one)])
    embedded_k = heads([gather_patches(keys[0], chosen), gather_patches(keys[1], one)])
    expected = _np(patch_nce_loss(embedded_q[0], embedded_k[0], 0.1))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="at least 2 positions"):
        patch_nce(heads, [queries[1]] * 2, [keys[1]] * 2, seed=0, step=0, temperature=0.1, count=8)


def test_the_identity_term_on_every_nth_monet_counts_n_times():
    """Golden (`nce_identity_stride`; the TensorFlow pass only: JAX's step is proven to make
    the same update with the stride on in test_cyclegan_equivalence.py): with stride 2 the
    generator repaints Monets 0 and 2 of the 4 only; their identity PatchNCE is the full term's
    for those two (the patch positions are drawn per layer, not per image, and instance norm is
    per image), the photos' term and the paintings are unchanged, and nce_loss = (mean of the
    photos' terms + 2 x the batch mean of the two Monets' terms) / 2, the same expected loss."""
    import dataclasses

    from painter.cyclegan.model import build_cyclegan
    from painter.cyclegan.step import POOLS, STATE_LAYERS, forward, network_names, step_losses

    config = preset("smoke").replace(
        objective="cut",
        image_size=16,
        resize_size=16,
        resnet_blocks=1,
        discriminator_layers=2,
        global_batch_size=4,
        nce_patches=8,
    )
    model = build_cyclegan(config, steps_per_epoch=1)
    nets = {name: getattr(model, name) for name in (*network_names(model), *POOLS, *STATE_LAYERS)}
    nets["monet_discriminator_for_generator"] = model.monet_discriminator
    nets.update(model.generator_views)
    rng = np.random.default_rng(4)
    real_photo = rng.uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    real_monet = rng.uniform(-1, 1, (4, 16, 16, 3)).astype("float32")

    def run(stride: int):
        model.loss_settings = dataclasses.replace(model.loss_settings, nce_identity_stride=stride)
        outputs = forward(model, real_photo, real_monet, nets, step=np.int32(3))
        losses = step_losses(outputs, model.loss_settings, 4)
        return {k: _np(v) for k, v in outputs.items()}, float(_np(losses["nce_loss"]))

    full, full_loss = run(1)
    thin, thin_loss = run(2)
    assert thin["same_monet"].shape[0] == 2 and thin["nce_monet"].shape == (2,)
    np.testing.assert_allclose(thin["same_monet"], full["same_monet"][::2], atol=1e-5)
    np.testing.assert_allclose(thin["nce_monet"], full["nce_monet"][::2], rtol=1e-5)
    np.testing.assert_allclose(thin["nce_photo"], full["nce_photo"], rtol=1e-5)
    np.testing.assert_allclose(thin["disc_fake_monet"], full["disc_fake_monet"], atol=1e-5)
    assert full_loss == pytest.approx(np.mean((full["nce_photo"] + full["nce_monet"]) / 2))
    expected = (thin["nce_photo"].mean() + 2 * thin["nce_monet"].sum() / 4) / 2
    assert thin_loss == pytest.approx(expected, rel=1e-6)
    assert abs(thin_loss - full_loss) > 1e-4  # two Monets' terms are not the four's mean


def test_the_identity_stride_must_divide_the_batch_and_needs_cuts_identity_term():
    from painter.errors import ConfigError

    cut = preset("smoke").replace(objective="cut", global_batch_size=4)
    assert cut.replace(nce_identity_stride=4).nce_identity_stride == 4
    with pytest.raises(ConfigError, match=r"`nce_identity_stride` \(3\) must divide"):
        cut.replace(nce_identity_stride=3)
    with pytest.raises(ConfigError, match="needs objective=cut and nce_identity=true"):
        cut.replace(nce_identity_stride=2, nce_identity=False)
    with pytest.raises(ConfigError, match="needs objective=cut"):
        preset("smoke").replace(nce_identity_stride=2)
    with pytest.raises(ConfigError, match="whole number >= 1"):
        cut.replace(nce_identity_stride=0)
