"""The networks: shapes (square and not), the size error, config and .keras round trips, the
paper's sizing rules and mixed precision."""

from __future__ import annotations

import numpy as np
import pytest

from painter.config import preset

TINY = preset("smoke").replace(
    image_size=16, resize_size=16, resnet_blocks=1, discriminator_layers=2
)


def _np(x):
    import keras

    return keras.ops.convert_to_numpy(x)


def _images(batch, height, width, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, height, width, 3)).astype("float32")


# The backend-marked tests also run on JAX (eager JAX compiles every op: keep that set small).
@pytest.mark.parametrize(
    "kind,height,width",
    [
        pytest.param("resnet", 16, 32, marks=pytest.mark.backend),
        pytest.param("unet", 32, 16, marks=pytest.mark.backend),
        ("resnet", 16, 16),
        ("unet", 16, 16),
        ("resnet", 32, 16),
        ("unet", 16, 32),
    ],
)
def test_generator_keeps_the_image_shape_in_range(kind, height, width):
    from painter.models import build_generator

    generator = build_generator(TINY.replace(generator=kind, unet_depth=3), "monet_generator")
    fake = generator.predict(
        _images(2, height, width), verbose=0
    )  # one compiled call (fast on JAX)
    assert fake.shape == (2, height, width, 3)
    assert fake.dtype == np.float32
    assert np.all(np.abs(fake) <= 1.0) and np.std(fake) > 0


def test_discriminator_gives_a_grid_of_patch_logits():
    from painter.models import build_discriminator, patchgan_discriminator

    disc = build_discriminator(TINY, "monet_discriminator")
    # 16 -> 8 -> 4 -> 3 -> 2 and 24 -> 12 -> 6 -> 5 -> 4 (two stride-2, two stride-1 4x4 convs)
    assert np.asarray(disc(_images(2, 16, 24))).shape == (2, 2, 4, 1)
    # The paper's 70x70 PatchGAN gives 30x30 logits on a 256x256 image.
    paper = patchgan_discriminator(filters=8, layers=3)
    assert tuple(paper.compute_output_shape((1, 256, 256, 3))) == (1, 30, 30, 1)


@pytest.mark.backend
@pytest.mark.parametrize("kind,bad,multiple", [("resnet", (18, 16), 4), ("unet", (16, 20), 8)])
def test_a_size_the_generator_cannot_take_is_a_value_error_naming_it(kind, bad, multiple):
    from painter.models import build_generator, required_multiple

    generator = build_generator(TINY.replace(generator=kind, unet_depth=3), "g")
    assert required_multiple(generator) == multiple
    with pytest.raises(
        ValueError, match=rf"multiples of {multiple}.*{max(bad)}|{max(bad)}.*{multiple}"
    ):
        generator.predict(_images(1, *bad), verbose=0)


def test_paper_and_starter_sizing_rules():
    from painter.models import default_resnet_blocks, default_unet_depth, resnet_generator

    assert default_resnet_blocks(256) == 9 and default_resnet_blocks(128) == 6
    assert default_resnet_blocks(64) == 6
    assert default_unet_depth(256) == 8 and default_unet_depth(32) == 5
    assert default_unet_depth(1024) == 8 and default_unet_depth(48) == 4
    with pytest.raises(ValueError, match="even"):
        default_unet_depth(15)
    blocks = [
        layer.name
        for layer in resnet_generator(filters=4, residual_blocks=2).layers
        if layer.name.endswith("_add")
    ]
    assert blocks == ["r1_add", "r2_add"]


def test_config_errors_name_the_field():
    from painter.models import build_discriminator, build_generator

    with pytest.raises(ValueError, match="image_size"):
        build_generator(TINY.replace(image_size=18, resize_size=18), "g")
    with pytest.raises(ValueError, match="discriminator_layers"):
        build_discriminator(TINY.replace(discriminator_layers=3), "d")  # 16 px < 24 px minimum


@pytest.mark.backend
def test_a_multiscale_discriminator_is_one_patchgan_per_scale_each_weighed_alike():
    """Scale s is its own PatchGAN judging the image average-pooled 2^s times; the logits of
    every scale come out flattened, finest first, each coarser map tiled round(P_0 / P_s) times."""
    from painter.models import build_discriminator

    config = TINY.replace(
        discriminator_layers=1, discriminator_scales=3, image_size=32, resize_size=32
    )
    model = build_discriminator(config, "monet_discriminator")
    images = _images(2, 32, 32, seed=3)
    expected, pooled = [], images
    for scale in range(3):
        if scale:  # 2x2 means, as AveragePooling2D(2)
            pooled = pooled.reshape(2, pooled.shape[1] // 2, 2, -1, 2, 3).mean(axis=(2, 4))
        judge = model.get_layer(f"monet_discriminator_scale{scale}")
        expected.append(_np(judge(pooled)).reshape(2, -1, 1, 1))
    # 32 px, one strided layer: 14x14, 6x6 and 2x2 logits (196, 36 and 4 patches per image).
    assert [e.shape[1] for e in expected] == [196, 36, 4]
    expected = [
        expected[0],
        np.tile(expected[1], (1, 5, 1, 1)),
        np.tile(expected[2], (1, 49, 1, 1)),
    ]
    logits = _np(model(images))
    assert logits.shape == (2, 196 + 180 + 196, 1, 1) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, np.concatenate(expected, axis=1), atol=1e-5)
    # Each scale has its own weights, under its own name.
    paths = [v.path for v in model.weights]
    assert len(set(paths)) == len(paths) and all("_scale" in p for p in paths)
    first = [model.get_layer(f"monet_discriminator_scale{s}").get_layer("c1_conv") for s in (0, 1)]
    assert not np.allclose(_np(first[0].kernel), _np(first[1].kernel))


def test_a_multiscale_discriminator_refuses_images_too_small_for_its_coarsest_scale():
    from painter.models import build_discriminator

    # 2 strided layers need 12 px; at 2 scales the half-size copy of 16 px is 8 px.
    with pytest.raises(ValueError, match="discriminator_scales.*needs >= 24"):
        build_discriminator(TINY.replace(discriminator_scales=2), "d")


def test_weights_are_drawn_from_normal_0_002():
    from painter.models import resnet_generator

    generator = resnet_generator(filters=16, residual_blocks=1)
    kernel = np.asarray(generator.get_layer("d256_conv").kernel)
    assert abs(kernel.mean()) < 0.002 and 0.018 < kernel.std() < 0.022


@pytest.mark.parametrize(
    "which",
    [pytest.param("resnet", marks=pytest.mark.backend), "unet", "patchgan", "two-scale patchgan"],
)
def test_keras_file_round_trip(which, tmp_path):
    import keras

    from painter.models import build_discriminator, build_generator

    if which == "patchgan":
        model = build_discriminator(TINY, "monet_discriminator")
    elif which == "two-scale patchgan":
        two_scale = TINY.replace(discriminator_layers=1, discriminator_scales=2)
        model = build_discriminator(two_scale, "monet_discriminator")
    else:
        model = build_generator(TINY.replace(generator=which, unet_depth=2), "monet_generator")
    images = _images(2, 16, 16)
    path = tmp_path / f"{which}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6
    )
    rebuilt = keras.Model.from_config(model.get_config())
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]


def test_reflection_padding_reflects_and_round_trips():
    import keras

    from painter.models import ReflectionPadding2D

    layer = ReflectionPadding2D(2)
    image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    padded = np.asarray(layer(image))
    np.testing.assert_array_equal(padded[0, :, :, 0], np.pad(image[0, :, :, 0], 2, mode="reflect"))
    clone = ReflectionPadding2D.from_config(layer.get_config())
    assert clone.padding == 2
    assert (
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)).padding
        == 2
    )


@pytest.mark.backend
def test_select_leaky_relu_is_leaky_relu_in_value_and_gradient():
    import keras

    from painter.models import SelectLeakyReLU

    x = np.array([[-2.0, -0.5, -1e-30, 1e-30, 0.25, 3.0]], "float32")
    weights = np.array([[1.0, 2.0, 3.0, -1.0, 0.5, 4.0]], "float32")  # distinct per entry

    ours, reference = SelectLeakyReLU(0.2), keras.layers.LeakyReLU(0.2)
    for got, expected in zip(
        _value_and_gradients(ours, x, weights=weights),
        _value_and_gradients(reference, x, weights=weights),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    # At exactly 0 the backends' own LeakyReLU disagree (TF's gradient is the slope, JAX's 1):
    # this one takes the slope on both, so both backends train the same discriminator.
    value, gradient = _value_and_gradients(ours, np.zeros_like(x), weights=weights)
    np.testing.assert_array_equal(np.asarray(value), 0.0)
    np.testing.assert_allclose(np.asarray(gradient), 0.2 * weights, rtol=1e-6)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert isinstance(clone, SelectLeakyReLU) and clone.negative_slope == 0.2


def _value_and_gradients(function, *inputs, weights):
    """function(*inputs), and the gradients of sum(function(*inputs) * weights) by each input, on
    the running backend."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        total = lambda *args: (function(*args) * weights).sum()  # noqa: E731
        return function(*inputs), *jax.grad(total, argnums=tuple(range(len(inputs))))(*inputs)
    import tensorflow as tf

    inputs = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        y = function(*inputs)
        total = tf.reduce_sum(y * weights)
    return y, *tape.gradient(total, inputs)


def _all_equations(jaxpr) -> list:
    """Every equation in `jaxpr`, nested ones included."""
    found = []
    for equation in jaxpr.eqns:
        found.append(equation)
        for value in equation.params.values():
            inner = getattr(value, "jaxpr", value)
            if hasattr(inner, "eqns"):
                found += _all_equations(inner)
    return found


def _equations(jaxpr, primitive: str) -> list:
    """Every `primitive` equation in `jaxpr`, nested ones included."""
    return [e for e in _all_equations(jaxpr) if e.primitive.name == primitive]


def _equation_shapes(jaxpr, primitive: str) -> list[tuple[int, ...]]:
    """The output shapes of every `primitive` equation in `jaxpr`."""
    return [tuple(v.aval.shape) for e in _equations(jaxpr, primitive) for v in e.outvars]


def _input_dilations_of(jaxpr) -> list[tuple[int, ...]]:
    """The input (lhs) dilation of every convolution in `jaxpr`."""
    return [tuple(e.params["lhs_dilation"]) for e in _equations(jaxpr, "conv_general_dilated")]


def _input_dilations(function, x) -> list[tuple[int, ...]]:
    """The input (lhs) dilation of every convolution in JAX's program for function(x)."""
    import jax

    return _input_dilations_of(jax.make_jaxpr(function)(x).jaxpr)


@pytest.mark.backend
@pytest.mark.parametrize(
    "height,width,kernel_size",
    [
        (3, 5, (4, 4)),
        (4, 4, (4, 4)),
        (1, 1, (4, 4)),
        (3, 4, (3, 3)),
        (2, 3, (5, 2)),
        (3, 2, (2, 6)),
    ],
)
def test_a_transposed_convolution_by_phases_is_keras_own_in_value_and_gradients(
    height, width, kernel_size
):
    import keras

    from painter.models import phase_conv_transpose

    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, height, width, 5)).astype("float32")
    kernel = rng.normal(size=(*kernel_size, 3, 5)).astype("float32")  # [kh, kw, out, in]
    weights = rng.normal(size=(2, 2 * height, 2 * width, 3)).astype("float32")

    def reference(x, kernel):
        return keras.ops.conv_transpose(x, kernel, strides=2, padding="same")

    functions = [phase_conv_transpose]
    if keras.backend.backend() == "jax":
        from painter.models import transposed_conv_by_phases

        functions.append(transposed_conv_by_phases)
    expected = _value_and_gradients(reference, x, kernel, weights=weights)
    for function in functions:
        ours = _value_and_gradients(function, x, kernel, weights=weights)
        assert _np(ours[0]).shape == (2, 2 * height, 2 * width, 3)
        for name, got, want in zip(
            ("output", "input gradient", "kernel gradient"), ours, expected, strict=True
        ):
            np.testing.assert_allclose(
                _np(got), _np(want), rtol=1e-5, atol=1e-5, err_msg=f"{function.__name__}: {name}"
            )


@pytest.mark.backend
def test_the_unet_upsampling_has_no_input_dilated_convolution_on_jax():
    import keras

    from painter.models import PhaseConv2DTranspose

    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 4, 6, 8)).astype("float32")
    ours = PhaseConv2DTranspose(3, 4, strides=2, padding="same", use_bias=True, name="up")
    reference = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=True)
    ours.build(x.shape)
    reference.build(x.shape)
    kernel = rng.normal(size=(4, 4, 3, 8)).astype("float32")
    bias = rng.normal(size=(3,)).astype("float32")
    for layer in (ours, reference):
        layer.set_weights([kernel, bias])
    np.testing.assert_allclose(_np(ours(x)), _np(reference(x)), rtol=1e-5, atol=1e-5)
    if keras.backend.backend() == "jax":
        # XLA:CPU's slow path is a convolution whose input is dilated (lhs_dilation > 1).
        assert _input_dilations(lambda v: ours(v), x) == [(1, 1)] * 4
        assert _input_dilations(lambda v: reference(v), x) == [(2, 2)]
        # The kernel's gradient gathers the four phases' gradients with one concatenation, not
        # by padding each to the kernel's full shape and summing (slow inside Adam's update).
        import jax

        from painter.models import phase_conv_transpose

        def loss(k):
            return (phase_conv_transpose(x, k) ** 2).sum()

        padded = _equation_shapes(jax.make_jaxpr(jax.grad(loss))(kernel).jaxpr, "pad")
        assert not {(4, 4, 3, 8), (4, 4, 8, 3)} & set(padded), padded
        # The layer's backward pass is two convolutions (the input's gradient: a strided one;
        # the kernel's), not the four phases' eight, and no input-dilated one.
        weights = rng.normal(size=(2, 8, 12, 3)).astype("float32")

        def gradients(layer):
            def total(v, k):
                outputs, _ = layer.stateless_call([k, bias], [], v)
                return (outputs * weights).sum()

            return jax.grad(total, argnums=(0, 1))

        program = jax.make_jaxpr(gradients(ours))(x, kernel).jaxpr
        assert _input_dilations_of(program) == [(1, 1)] * 6
        # And differentiable again, like keras' own (R1's order: a gradient of a gradient).
        second = [
            jax.grad(lambda k, f=f: (gradients(f)(x, k)[0] ** 2).sum())(kernel)
            for f in (ours, reference)
        ]
        np.testing.assert_allclose(_np(second[0]), _np(second[1]), rtol=1e-4, atol=1e-3)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert isinstance(clone, PhaseConv2DTranspose) and clone.filters == 3


@pytest.mark.backend
@pytest.mark.parametrize(
    "height,width,kernel_size", [(4, 6, (4, 4)), (2, 2, (4, 4)), (6, 4, (3, 3))]
)
def test_a_strided_convolution_with_its_input_gradient_by_phases_is_keras_own(
    height, width, kernel_size
):
    """The U-Net's downsampling (`PhaseConv2D`): keras' Conv2D in value and both gradients on
    either backend; on JAX by `strided_conv_by_phases`, whose input gradient has no
    input-dilated convolution and which differentiates again like XLA's own (R1's order)."""
    import keras

    from painter.models import PhaseConv2D

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, height, width, 5)).astype("float32")
    kernel = rng.normal(size=(*kernel_size, 5, 3)).astype("float32")  # [kh, kw, in, out]
    weights = rng.normal(size=(2, height // 2, width // 2, 3)).astype("float32")
    ours = PhaseConv2D(3, kernel_size, strides=2, padding="same", use_bias=False)
    reference = keras.layers.Conv2D(3, kernel_size, strides=2, padding="same", use_bias=False)
    for layer in (ours, reference):
        layer.build(x.shape)
        layer.set_weights([kernel])

    got = _value_and_gradients(ours.convolution_op, x, kernel, weights=weights)
    want = _value_and_gradients(reference.convolution_op, x, kernel, weights=weights)
    for name, a, b in zip(("output", "input gradient", "kernel gradient"), got, want, strict=True):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-4, atol=1e-4, err_msg=name)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert isinstance(clone, PhaseConv2D) and clone.strides == (2, 2)
    if keras.backend.backend() != "jax":
        return
    import jax

    def input_gradient(function):
        return jax.grad(lambda x, k: (function(x, k) * weights).sum())

    ops_conv = lambda x, k: keras.ops.conv(x, k, strides=2, padding="same")  # noqa: E731
    program = jax.make_jaxpr(input_gradient(ours.convolution_op))(x, kernel).jaxpr
    assert all(d == (1, 1) for d in _input_dilations_of(program))
    assert any(
        d == (2, 2)
        for d in _input_dilations_of(jax.make_jaxpr(input_gradient(ops_conv))(x, kernel).jaxpr)
    )
    # R1's order: the kernel's gradient of the squared input gradient.
    second = [
        jax.grad(lambda k, f=f: (input_gradient(f)(x, k) ** 2).sum())(kernel)
        for f in (ours.convolution_op, ops_conv)
    ]
    np.testing.assert_allclose(_np(second[0]), _np(second[1]), rtol=1e-4, atol=1e-3)


def _primitives(function, *inputs) -> set[str]:
    """The op types (TensorFlow) or primitives (JAX) of the backend's program for
    function(*inputs)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        program = jax.make_jaxpr(function)(*inputs).jaxpr
        return {equation.primitive.name for equation in _all_equations(program)}
    import tensorflow as tf

    specs = [tf.TensorSpec(x.shape, x.dtype) for x in inputs]
    graph = tf.function(function).get_concrete_function(*specs).graph
    return {op.type for op in graph.get_operations()}


@pytest.mark.backend
@pytest.mark.parametrize("kernel_size", [(4, 4), (2, 2), (3, 3), (6, 4)])
def test_the_unet_innermost_level_is_a_matmul_equal_to_keras_own_convolutions(kernel_size):
    """2x2 -> 1x1 (`PhaseConv2D`) and 1x1 -> 2x2 (`PhaseConv2DTranspose`): only the kernel's
    middle 2x2 taps meet the input, the rest "same"'s zero padding; as one matmul each, the same
    output and both gradients (the other taps' gradient exactly zero) on either backend."""
    import keras

    from painter.models import PhaseConv2D, PhaseConv2DTranspose

    rng = np.random.default_rng(6)
    cases = [
        (PhaseConv2D, keras.layers.Conv2D, (3, 2, 2, 5), (3, 1, 1, 7)),
        (PhaseConv2DTranspose, keras.layers.Conv2DTranspose, (3, 1, 1, 5), (3, 2, 2, 7)),
    ]
    for ours_class, keras_class, input_shape, output_shape in cases:
        x = rng.normal(size=input_shape).astype("float32")
        weights = rng.normal(size=output_shape).astype("float32")
        ours, reference = (
            layer_class(7, kernel_size, strides=2, padding="same", use_bias=False)
            for layer_class in (ours_class, keras_class)
        )
        for layer in (ours, reference):
            layer.build(input_shape)
        kernel = rng.normal(size=reference.kernel.shape).astype("float32")

        def through(layer):
            return lambda images, k: layer.stateless_call([k], [], images)[0]

        got = _value_and_gradients(through(ours), x, kernel, weights=weights)
        want = _value_and_gradients(through(reference), x, kernel, weights=weights)
        assert _np(got[0]).shape == output_shape
        names = ("output", "input gradient", "kernel gradient")
        for name, a, b in zip(names, got, want, strict=True):
            np.testing.assert_allclose(
                _np(a), _np(b), rtol=1e-5, atol=1e-5, err_msg=f"{ours_class.__name__}: {name}"
            )
        unreached = np.ones(kernel.shape[:2], bool)
        unreached[_reached(kernel.shape[0]), _reached(kernel.shape[1])] = False
        assert np.all(_np(got[2])[unreached] == 0.0)
        primitives = _primitives(through(ours), x, kernel)
        assert primitives & {"dot_general", "MatMul"}, primitives
        assert not primitives & {"conv_general_dilated", "Conv2D", "Conv2DBackpropInput"}


@pytest.mark.backend
@pytest.mark.parametrize("kernel_size", [(4, 4), (2, 2), (3, 3), (5, 5), (6, 4)])
@pytest.mark.parametrize("size", [(4, 4), (2, 4), (8, 6)])
def test_small_map_matmuls_equal_keras_own_convolutions(kernel_size, size):
    """`small_map_conv` (a stride-2 "same" convolution as one matmul over its patches) and
    `small_map_conv_transpose` (its adjoint): keras' output and both gradients, on either
    backend, for even and odd kernels and maps that are not square."""
    import keras

    from painter.models.strided import small_map_conv, small_map_conv_transpose

    rng = np.random.default_rng(7)
    height, width = size
    large = rng.normal(size=(3, height, width, 5)).astype("float32")
    small = rng.normal(size=(3, height // 2, width // 2, 7)).astype("float32")
    kernel = rng.normal(size=(*kernel_size, 5, 7)).astype("float32")  # conv [kh, kw, in, out]
    cases = [
        (small_map_conv, keras.ops.conv, large, small),
        (small_map_conv_transpose, keras.ops.conv_transpose, small, large),
    ]
    for ours, theirs, x, weights in cases:

        def reference(images, k, theirs=theirs):
            return theirs(images, k, strides=2, padding="same")

        got = _value_and_gradients(ours, x, kernel, weights=weights)
        want = _value_and_gradients(reference, x, kernel, weights=weights)
        assert _np(got[0]).shape == weights.shape
        names = ("output", "input gradient", "kernel gradient")
        for name, a, b in zip(names, got, want, strict=True):
            np.testing.assert_allclose(
                _np(a), _np(b), rtol=1e-4, atol=1e-4, err_msg=f"{ours.__name__}: {name}"
            )


@pytest.mark.backend
def test_the_unet_layers_take_the_matmul_on_small_maps_where_it_is_faster():
    """On TensorFlow on a CPU, `PhaseConv2D` on a 4x4 map and `PhaseConv2DTranspose` to one run
    as matmuls, as do 8x8 maps in bfloat16 only (`SMALL_MAP_PIXELS`); larger maps, and every
    map on JAX (whose XLA:CPU convolutions were faster), keep the convolution."""
    import keras

    from painter.models import PhaseConv2D, PhaseConv2DTranspose

    convolutions = {"conv_general_dilated", "Conv2D", "Conv2DBackpropInput"}
    rng = np.random.default_rng(8)
    tensorflow = keras.backend.backend() == "tensorflow"
    cases = [  # (large map side, dtype, matmul expected on TensorFlow)
        (4, "float32", True),
        (8, "float32", False),
        (8, "bfloat16", True),
        (16, "bfloat16", False),
    ]
    for side, dtype, matmul in cases:
        for layer_class, input_side in ((PhaseConv2D, side), (PhaseConv2DTranspose, side // 2)):
            layer = layer_class(6, 4, strides=2, padding="same", use_bias=False, dtype=dtype)
            shape = (2, input_side, input_side, 3)
            layer.build(shape)
            x = keras.ops.convert_to_tensor(rng.normal(size=shape), dtype=dtype)
            kernel = keras.ops.convert_to_tensor(layer.kernel)

            def call(images, k, layer=layer):
                return layer.stateless_call([k], [], images)[0]

            primitives = _primitives(call, x, kernel)
            expected = matmul and tensorflow
            what = f"{layer_class.__name__} at {side}x{side} in {dtype}: {sorted(primitives)}"
            assert bool(primitives & convolutions) is not expected, what


def _reached(kernel_size: int) -> slice:
    before = (kernel_size - 2) // 2  # "same"'s zero padding ahead of a 2-pixel axis
    return slice(before, before + 2)


def test_the_tensorflow_train_step_is_optimised_without_a_grappler_error(capfd):
    # TensorFlow's remapper failed on every painter train step (Conv2D + BiasAdd + LeakyRelu in
    # the PatchGAN's C64 under a gradient), printing `remapper failed: ... LeakyReluGrad ...` and
    # dropping the pass; the select in its place keeps the pattern out. R1 and spectral norm on:
    # the second-order gradient and SN's biased convolutions are in the graph too. Then the
    # U-Net with its full-size level and its unnormalised bottleneck (each a biased
    # convolution, then LeakyReLU) and plain Ds.
    from painter.cyclegan.model import build_cyclegan

    config = preset("smoke").replace(
        image_size=32, resize_size=32, pool_size=0, r1_weight=0.2, spectral_norm=True
    )
    model = build_cyclegan(config, steps_per_epoch=1)
    images = _images(2, 32, 32)
    capfd.readouterr()
    model.fit(images, images[::-1].copy(), batch_size=2, epochs=1, verbose=0)
    config = config.replace(
        spectral_norm=False,
        generator="unet",
        unet_head=True,
        unet_full_skip=True,
        unet_bottleneck_norm=False,  # its innermost level: a biased conv, then LeakyReLU, too
    )
    build_cyclegan(config, steps_per_epoch=1).fit(
        images, images[::-1].copy(), batch_size=2, epochs=1, verbose=0
    )
    stderr = capfd.readouterr().err
    assert "remapper failed" not in stderr, stderr[-3000:]


@pytest.mark.backend
@pytest.mark.parametrize("upsampling", ["resize", "bilinear"])
def test_resize_conv_turns_a_ramp_into_a_ramp_only_when_bilinear(upsampling):
    """The lattice of cpu-small's hour: after nearest x2, a 3x3 kernel alternates a sloping
    feature between even and odd pixels by (k1 + k3) * slope; bilinear x2 keeps a ramp a ramp."""
    import keras

    from painter.models.layers import resize_conv

    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, resize_conv(inputs, 1, "up", upsampling))
    columns = np.array([1.0, 2.0, 3.0], "float32")  # k1 + k3 = 4 across the ramp
    rows = np.array([0.25, 0.5, 0.25], "float32")
    model.get_layer("up").set_weights([(rows[:, None] * columns[None, :])[:, :, None, None]])
    ramp = np.tile(np.arange(8, dtype="float32"), (8, 1))[None, :, :, None]  # slope 1 along x
    painted = keras.ops.convert_to_numpy(model(ramp))[0, :, :, 0]
    assert painted.shape == (16, 16)
    second_differences = np.diff(painted[3:-3, 3:-3], n=2, axis=1)  # away from the borders
    if upsampling == "bilinear":
        np.testing.assert_allclose(second_differences, 0.0, atol=1e-4)
    else:  # steps alternate k1 + k3 = 4 and k2 = 2 (x slope): second differences of +-2
        np.testing.assert_allclose(np.abs(second_differences), 2.0, atol=1e-4)
        assert np.all(second_differences[:, :-1] * second_differences[:, 1:] < 0)


def test_a_bilinear_generator_upsamples_bilinearly_and_round_trips(tmp_path):
    import keras

    from painter.models import build_generator

    for kind in ("resnet", "unet"):
        model = build_generator(
            TINY.replace(generator=kind, unet_depth=2, upsampling="bilinear"), "monet_generator"
        )
        resizes = [x for x in model.layers if isinstance(x, keras.layers.UpSampling2D)]
        assert resizes and all(layer.interpolation == "bilinear" for layer in resizes), kind
        images = _images(2, 16, 16)
        model.save(tmp_path / f"{kind}.keras")
        np.testing.assert_allclose(
            keras.saving.load_model(tmp_path / f"{kind}.keras").predict(images, verbose=0),
            model.predict(images, verbose=0),
            atol=1e-6,
        )


@pytest.mark.backend
@pytest.mark.parametrize("upsampling", ["bilinear", "transpose"])
def test_a_unet_head_paints_rgb_from_full_size_features(tmp_path, upsampling):
    """unet_head: the last upsampling makes `filters` channels at full size (instance norm, ReLU)
    and a reflection-padded 3x3 convolution + tanh paints RGB from them (NumPy below)."""
    import keras

    from painter.models import build_generator

    config = TINY.replace(generator="unet", unet_depth=2, upsampling=upsampling, unet_head=True)
    model = build_generator(config, "monet_generator")
    images = _images(2, 16, 24, seed=3)
    features = keras.Model(model.inputs, model.get_layer("head_relu").output)
    hidden = keras.ops.convert_to_numpy(features(images))
    assert hidden.shape == (2, 16, 24, config.generator_filters)  # full size, `filters` wide
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in model.get_layer("last_conv").weights)
    assert kernel.shape == (3, 3, config.generator_filters, 3)
    padded = np.pad(hidden, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    expected = np.tanh(
        sum(
            np.einsum("bhwc,cd->bhwd", padded[:, i : i + 16, j : j + 24], kernel[i, j])
            for i in range(3)
            for j in range(3)
        )
        + bias
    )
    painted = model.predict(images, verbose=0)
    np.testing.assert_allclose(painted, expected, atol=1e-5)
    # Without the head the U-Net upsamples straight to RGB: no full-size features.
    plain = build_generator(config.replace(unet_head=False), "monet_generator")
    assert "head_conv" not in {layer.name for layer in plain.layers}
    assert plain.get_layer("last_conv").output.shape[-1] == 3
    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), painted, atol=1e-6)


@pytest.mark.backend
def test_a_unet_full_skip_joins_a_full_size_level_of_the_photo_to_the_head(tmp_path):
    """unet_full_skip: a reflection-padded 3x3 convolution of the photo (`filters` channels,
    LeakyReLU 0.2) is concatenated after the head's ReLU, and the RGB convolution paints from both
    (NumPy below); the model saves and loads."""
    import keras

    from painter.models import build_generator

    config = TINY.replace(
        generator="unet", unet_depth=2, upsampling="bilinear", unet_head=True, unet_full_skip=True
    )
    model = build_generator(config, "monet_generator")
    images = _images(2, 16, 24, seed=4)

    def conv3x3(x, layer):
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in model.get_layer(layer).weights)
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
        return (
            sum(
                np.einsum("bhwc,cd->bhwd", padded[:, i : i + 16, j : j + 24], kernel[i, j])
                for i in range(3)
                for j in range(3)
            )
            + bias
        )

    full = conv3x3(images, "full_conv")
    full = np.where(full > 0, full, 0.2 * full)
    head = keras.Model(model.inputs, model.get_layer("head_relu").output)(images)
    joined = np.concatenate([keras.ops.convert_to_numpy(head), full], axis=-1)
    assert joined.shape == (2, 16, 24, 2 * config.generator_filters)
    painted = model.predict(images, verbose=0)
    np.testing.assert_allclose(painted, np.tanh(conv3x3(joined, "last_conv")), atol=1e-5)
    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), painted, atol=1e-6)


@pytest.mark.backend
def test_a_unet_bottleneck_without_norm_carries_the_photo(tmp_path):
    """The starter's instance norm on the U-Net's 1x1 bottleneck leaves its offset alone, and
    the bilinear decoder level that reads it is a constant too: the same values for every photo.
    `unet_bottleneck_norm=False` gives both convolutions a bias instead of a norm: the bottleneck
    is LeakyReLU(conv + bias) of the 2x2 level below, and the decoder level ReLU(conv + bias) of
    its resized copy (NumPy below): one code per photo, the same at every pixel. The other levels
    keep their norms; the model saves and loads."""
    import keras

    from painter.models import build_generator

    images = _images(2, 16, 16, seed=5)  # depth 4 at 16 px: the bottleneck is 1x1
    config = TINY.replace(generator="unet", upsampling="bilinear")
    names = ("down3_lrelu", "down4_lrelu", "up3_relu")

    def levels(model):
        layers = [model.get_layer(name).output for name in names]
        return [_np(x) for x in keras.Model(model.inputs, layers)(images)]

    _, starter_bottleneck, starter_decoded = levels(build_generator(config, "monet_generator"))
    np.testing.assert_allclose(starter_bottleneck[0], starter_bottleneck[1], atol=1e-6)
    np.testing.assert_allclose(starter_decoded[0], starter_decoded[1], atol=1e-6)

    model = build_generator(config.replace(unet_bottleneck_norm=False), "monet_generator")
    layer_names = {layer.name for layer in model.layers}
    assert not {"down4_norm", "up3_norm"} & layer_names
    assert {"down2_norm", "down3_norm", "up2_norm", "up1_norm"} <= layer_names
    assert model.get_layer("down4_conv").use_bias and model.get_layer("up3_conv").use_bias
    assert not model.get_layer("down3_conv").use_bias and not model.get_layer("up2_conv").use_bias
    for layer in ("down4_conv", "up3_conv"):  # non-zero biases: their terms are checked too
        kernel, bias = model.get_layer(layer).weights
        bias.assign(np.linspace(-0.2, 0.2, bias.shape[0]).astype("float32"))
    below, bottleneck, decoded = levels(model)
    assert bottleneck.shape == (2, 1, 1, 8 * config.generator_filters)
    kernel, bias = (_np(w) for w in model.get_layer("down4_conv").weights)
    # A 4x4 stride-2 "same" convolution of 2x2 pads one pixel each side: its middle 2x2 taps.
    expected = np.einsum("bhwc,hwcd->bd", below, kernel[1:3, 1:3]) + bias
    np.testing.assert_allclose(
        bottleneck[:, 0, 0], np.where(expected > 0, expected, 0.2 * expected), atol=1e-5
    )
    # Resized to 2x2 and reflection-padded, a constant: every tap of the 3x3 kernel sees it.
    kernel, bias = (_np(w) for w in model.get_layer("up3_conv").weights)
    expected = np.maximum(np.einsum("bc,cd->bd", bottleneck[:, 0, 0], kernel.sum((0, 1))) + bias, 0)
    np.testing.assert_allclose(
        decoded, np.broadcast_to(expected[:, None, None], decoded.shape), atol=1e-5
    )
    assert np.abs(decoded[0] - decoded[1]).max() > 1e-3
    painted = model.predict(images, verbose=0)
    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), painted, atol=1e-6)


@pytest.mark.backend
@pytest.mark.parametrize("kind", ["unet", "resnet"])
def test_a_residual_generator_paints_over_the_photo(tmp_path, kind):
    """generator_residual: the output is tanh(logits + atanh(0.99 photo)), the logits being what
    the same net's last convolution gives (NumPy below); with that convolution zeroed the
    generator returns 0.99 x the photo, and a photo outside [-1, 1] is clipped first."""
    import keras

    from painter.models import build_generator
    from painter.models.layers import PHOTO_SHRINK

    config = TINY.replace(generator=kind, unet_depth=2, generator_residual=True)
    model = build_generator(config, "monet_generator")
    last = "last_conv" if kind == "unet" else "c7s1_3_conv"
    plain = build_generator(config.replace(generator_residual=False), "monet_generator")
    plain.set_weights(model.get_weights())  # no weights of its own: the same list fits
    images = _images(2, 16, 24, seed=4)
    logits = np.arctanh(plain.predict(images, verbose=0))  # the plain net's tanh, undone
    painted = model.predict(images, verbose=0)
    expected = np.tanh(logits + np.arctanh(PHOTO_SHRINK * images))
    np.testing.assert_allclose(painted, expected, atol=2e-4)
    assert "paint_over" in {layer.name for layer in model.layers}
    assert "paint_over" not in {layer.name for layer in plain.layers}

    layer = model.get_layer(last)
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    np.testing.assert_allclose(model.predict(images, verbose=0), PHOTO_SHRINK * images, atol=1e-6)
    bright = images.copy()
    bright[0, 0, 0] = 3.0  # out of range: clipped to 1 before atanh, not NaN
    out = model.predict(bright, verbose=0)
    np.testing.assert_allclose(out[0, 0, 0], PHOTO_SHRINK, atol=1e-6)

    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6
    )


@pytest.mark.parametrize(
    "changes",
    [{"generator": "unet", "unet_head": False}, {"generator": "resnet", "unet_head": False}],
)
def test_unet_full_skip_without_the_head_is_refused_by_name(changes):
    from painter.errors import ConfigError

    with pytest.raises(ConfigError, match='unet_full_skip.*set generator="unet" and unet_head'):
        TINY.replace(unet_full_skip=True, **changes)


def test_unet_head_on_a_resnet_is_refused_by_name():
    from painter.errors import ConfigError

    with pytest.raises(ConfigError, match='unet_head.*set generator="unet"'):
        TINY.replace(generator="resnet", unet_head=True)


@pytest.mark.backend
def test_mixed_precision_computes_in_bfloat16_with_float32_variables_and_outputs():
    import keras

    from painter.models import build_discriminator, build_generator

    config = TINY.replace(mixed_precision=True)
    generator = build_generator(config, "g")
    disc = build_discriminator(config, "d")
    assert generator.get_layer("c7s1_conv").compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in generator.weights + disc.weights)
    assert keras.backend.standardize_dtype(generator.outputs[0].dtype) == "float32"
    assert keras.backend.standardize_dtype(disc.outputs[0].dtype) == "float32"
    fake = generator.predict(_images(1, 16, 16), verbose=0)
    assert fake.dtype == np.float32 and disc.predict(fake, verbose=0).dtype == np.float32
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left alone


@pytest.mark.backend
def test_a_bfloat16_bilinear_unet_differentiates_under_xla():
    """The presets' generator in bfloat16, compiled by XLA as on a TPU: TensorFlow's bilinear
    resize gradient came back float32 into bfloat16 ops and XLA refused the step ("mixed
    precision is disallowed"); the resize now runs in float32 and the next conv casts back."""
    import keras

    from painter.models import build_generator

    config = TINY.replace(generator="unet", unet_depth=3, upsampling="bilinear")
    generator = build_generator(config.replace(mixed_precision=True), "g")
    assert generator.get_layer("up1_conv").compute_dtype == "bfloat16"
    images = _images(2, 16, 16)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def gradients(x):
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(generator(x))
            return tape.gradient(total, generator.trainable_variables)

        grads = gradients(tf.constant(images))
    else:
        import jax

        trainable = [v.value for v in generator.trainable_variables]
        frozen = [v.value for v in generator.non_trainable_variables]

        def total(weights, x):
            return generator.stateless_call(weights, frozen, x)[0].sum()

        grads = jax.jit(jax.grad(total))(trainable, images)
    assert len(grads) == len(generator.trainable_variables)
    assert all(np.isfinite(_np(g)).all() and _np(g).dtype == np.float32 for g in grads)
    assert any(np.abs(_np(g)).max() > 0 for g in grads)
