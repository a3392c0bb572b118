"""Small Keras layers the generators and the discriminator share.

- `ReflectionPadding2D`: the paper pads with reflection before every 3x3/7x7 convolution of the
  ResNet generator (fewer border artifacts than zero padding).
- `SizeCheck`: a pass-through that raises a ValueError naming the size when an image's height or
  width is not a multiple of what the generator needs (its strided convolutions must halve exactly
  so that the skip connections / upsampling line up again).
- `instance_norm()`: tensorflow-addons' InstanceNormalization is exactly
  `GroupNormalization(groups=-1, epsilon=1e-3)` (one group per channel).
- `resize_conv()`: x2 upsampling (nearest or bilinear) then a reflection-padded 3x3 convolution,
  the generators' checkerboard-free alternative to a transposed convolution.
- `SpectralConv2D`: a convolution whose kernel is divided by its largest singular value (Miyato et
  al. 2018), estimated by one power iteration per training call.
- `SelectLeakyReLU`: LeakyReLU written as a select, for the discriminator's convolutions that keep
  a bias (TensorFlow's graph optimiser fails on Conv2D + BiasAdd + LeakyRelu under a gradient).
- `PaintOver`: a generator's last activation when it paints over the photo
  (`generator_residual`): tanh(logits + atanh(0.99 photo)) instead of tanh(logits).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
from keras import ops

# N(0, 0.02) for every convolution, as Zhu et al. 2017 (and pix2pix) initialise.
WEIGHT_STDDEV = 0.02
# `PaintOver` takes atanh of the photo shrunk by this: atanh(+-1) is infinite, and 0.99 keeps
# white and black within reach (+-2.65 in tanh's logits) of what a convolution adds.
PHOTO_SHRINK = 0.99


def conv_initializer() -> keras.initializers.Initializer:
    """N(0, 0.02); no fixed seed here so layers differ (global seed via
    keras.utils.set_random_seed)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=WEIGHT_STDDEV)


@contextlib.contextmanager
def dtype_policy(name: str | None) -> Iterator[None]:
    """Layers created inside use the dtype policy `name` (None: leave the global one)."""
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def instance_norm(name: str) -> keras.layers.Layer:
    """Instance normalization: per image and channel over H, W (= tfa's InstanceNormalization)."""
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-3, name=name)


def resize_conv(
    x, width: int, name: str, upsampling: str, use_bias: bool = False, prefix: str | None = None
):
    """x2 upsampling then a 3x3 convolution to `width` channels, reflection-padded (Odena et al.
    2016). `upsampling="resize"`: nearest neighbour; `"bilinear"`: bilinear. Why bilinear: after
    nearest x2 a 3x3 kernel [k1, k2, k3] gives even and odd pixels different mixes of the same
    two features, so a feature sloping by g per pixel becomes a ramp plus a 2-pixel alternation of
    (k1 + k3) * g: a fine lattice over skies and fields (seen in cpu-small's hour). A bilinear
    x2 of a ramp is a ramp, so the lattice has no cheap source. The convolution is named `name`,
    the resize and padding layers `{prefix}_resize` / `{prefix}_pad` (prefix defaults to name)."""
    prefix = prefix or name
    interpolation = {"resize": "nearest", "bilinear": "bilinear"}[upsampling]
    # Bilinear x2 in float32 under a bfloat16 policy: TensorFlow's kernel computes in float32
    # anyway, and under XLA (jit_compile on TF-CPU, seen; TPUStrategy compiles with XLA too) its
    # gradient came back float32 into bfloat16 ops, which XLA refused ("mixed precision is
    # disallowed"). The next conv casts back to bfloat16.
    dtype = "float32" if interpolation == "bilinear" else None
    x = keras.layers.UpSampling2D(
        2, interpolation=interpolation, dtype=dtype, name=f"{prefix}_resize"
    )(x)
    x = ReflectionPadding2D(1, name=f"{prefix}_pad")(x)
    return keras.layers.Conv2D(
        width,
        3,
        padding="valid",
        use_bias=use_bias,
        kernel_initializer=conv_initializer(),
        name=name,
    )(x)


@keras.saving.register_keras_serializable(package="painter")
class ReflectionPadding2D(keras.layers.Layer):
    """Pad H and W by reflecting the image at its border (`keras.ops.pad(mode="reflect")`).

    Args:
        padding: pixels added on each side of height and width.

    Example:
        >>> ReflectionPadding2D(3)(keras.ops.zeros((1, 16, 16, 3))).shape
        (1, 22, 22, 3)
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        if int(padding) < 0:
            raise ValueError(f"`padding` must be >= 0. Received: {padding}")
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (
            batch,
            None if height is None else height + grow,
            None if width is None else width + grow,
            channels,
        )

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="painter")
class SelectLeakyReLU(keras.layers.Layer):
    """`where(x > 0, x, negative_slope * x)`: keras.layers.LeakyReLU's values and gradients,
    without TensorFlow's LeakyRelu op. At exactly 0, where the backends' own LeakyReLU disagree
    (TensorFlow's gradient is the slope, JAX's 1), its gradient is the slope on both.

    Why: grappler's remapper fuses Conv2D + BiasAdd + LeakyRelu into one oneDNN kernel even when
    the backward pass's LeakyReluGrad reads the BiasAdd it removes; the pass then fails for the
    whole training graph (logged as `E... meta_optimizer.cc] remapper failed: ... fanout
    '.../LeakyReluGrad' exist for missing node '.../BiasAdd'`) and every fusion it would have
    made elsewhere is lost. A select is not in that pattern. Used after the convolutions that
    keep a bias: the PatchGAN's C64 (and every one with spectral norm), the U-Net's full-size
    level.

    Args:
        negative_slope: the slope below 0 (the PatchGAN's 0.2).
    """

    def __init__(self, negative_slope: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)
        if self.negative_slope < 0:
            raise ValueError(f"`negative_slope` must be >= 0. Received: {negative_slope}")

    def call(self, inputs):
        return ops.where(inputs > 0, inputs, ops.cast(self.negative_slope, inputs.dtype) * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@keras.saving.register_keras_serializable(package="painter")
class SizeCheck(keras.layers.Layer):
    """Identity that refuses images whose height or width is not a multiple of `multiple`.

    The check runs whenever the static shape is known (eager calls, JAX tracing, symbolic build),
    so a wrong size fails with a message naming it instead of a shape error deep inside the net.
    """

    def __init__(self, multiple: int, generator: str = "generator", **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)
        self.generator = generator

    def _check(self, shape) -> None:
        height, width = shape[1], shape[2]
        for axis, size in (("height", height), ("width", width)):
            if size is not None and int(size) % self.multiple != 0:
                raise ValueError(
                    f"The {self.generator} generator needs image height and width that are "
                    f"multiples of {self.multiple}; got {axis} {int(size)} (image "
                    f"{height}x{width}). "
                    f"Pad or resize the image to a multiple of {self.multiple} "
                    "(painter.models.required_multiple(generator) gives it)."
                )

    def build(self, input_shape):
        self._check(input_shape)

    def call(self, inputs):
        self._check(tuple(inputs.shape))
        return inputs

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return input_shape

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple, "generator": self.generator}


@keras.saving.register_keras_serializable(package="painter")
class SpectralConv2D(keras.layers.Conv2D):
    """`Conv2D` with spectral normalization (Miyato et al. 2018), reparametrised as the paper's
    and PyTorch's `spectral_norm`: the convolution uses W / sigma(W), sigma = v^T W u from one
    power iteration on the kernel reshaped to [k*k*in, out], with u, v held constant in the
    gradient, so gradients flow through sigma's dependence on W. A training call stores the
    iterated u (non-trainable `vector_u`); inference uses the stored u without changing it.

    Why not `keras.layers.SpectralNormalization`: it assigns W / sigma back into the wrapped
    layer's trainable kernel inside the call, which a stateless JAX step cannot express (its
    trainable values are inputs), so TensorFlow and JAX would train differently.

    Args: as `keras.layers.Conv2D`.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self.vector_u = self.add_weight(
            shape=(1, self.filters),
            initializer=keras.initializers.RandomNormal(0.0, 1.0),
            trainable=False,
            name="vector_u",
            dtype="float32",
        )

    # Conv2D saves only its kernel and bias: u is state too (a reloaded model paints the same).
    def save_own_variables(self, store):
        if not self.built:
            return
        for index, variable in enumerate(
            [self.kernel, *([self.bias] if self.use_bias else []), self.vector_u]
        ):
            store[str(index)] = variable

    def load_own_variables(self, store):
        self._check_load_own_variables(store)
        if not self.built:
            return
        for index, variable in enumerate(
            [self._kernel, *([self.bias] if self.use_bias else []), self.vector_u]
        ):
            variable.assign(store[str(index)])

    def normalized_kernel(self):
        """W / sigma(W) in float32, and the power iteration's new u."""
        kernel = ops.cast(self.kernel, "float32")
        matrix = ops.reshape(kernel, (-1, self.filters))  # [k*k*in, out]
        u = ops.convert_to_tensor(self.vector_u.value)
        v = _l2_normalize(ops.matmul(u, ops.transpose(matrix)))  # [1, k*k*in]
        new_u = _l2_normalize(ops.matmul(v, matrix))  # [1, out]
        v, new_u = ops.stop_gradient(v), ops.stop_gradient(new_u)
        sigma = ops.sum(ops.matmul(v, matrix) * new_u)
        return kernel / sigma, new_u

    def call(self, inputs, training=False):
        kernel, new_u = self.normalized_kernel()
        if training:
            self.vector_u.assign(new_u)
        outputs = self.convolution_op(inputs, ops.cast(kernel, self.compute_dtype))
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="painter")
class PaintOver(keras.layers.Layer):
    """`PaintOver()([logits, photo])` = tanh(logits + atanh(PHOTO_SHRINK * photo)), in float32.

    The generator's output is the photo plus what its network adds, in tanh's logit space, so
    it stays in [-1, 1]: with zero logits it returns the photo (x 0.99). A freshly initialised
    generator (N(0, 0.02) weights: near-zero logits) so starts from the photo, sharp, and its
    first steps learn colour and texture instead of redrawing the photo through the network
    (painter's U-Net paints RGB from half-size features: without this its early paintings are
    blurred copies). Photos outside [-1, 1] are clipped first.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")  # the losses are computed in float32
        super().__init__(**kwargs)

    def call(self, inputs):
        logits, photo = (ops.cast(x, "float32") for x in inputs)
        photo_logits = ops.arctanh(ops.clip(photo, -1.0, 1.0) * PHOTO_SHRINK)
        return ops.tanh(logits + photo_logits)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def generator_output(logits, photo, residual: bool):
    """A generator's float32 output from its last convolution's `logits`: tanh, or with
    `residual` `PaintOver` of the `photo` (the model's input)."""
    if residual:
        return PaintOver(name="paint_over")([logits, photo])
    return keras.layers.Activation("tanh", dtype="float32", name="tanh")(logits)


def _l2_normalize(x, epsilon: float = 1e-12):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x)), epsilon))
