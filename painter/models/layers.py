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
- `PhaseConv2DTranspose`: keras' `Conv2DTranspose` that, on JAX on a CPU, computes its stride-2
  "same" case as four stride-1 convolutions (`phase_conv_transpose`; its gradients by one
  convolution each, `transposed_conv_by_phases`): XLA:CPU runs a transposed convolution as an
  input-dilated one, on a slow path.
- `PhaseConv2D`: keras' `Conv2D` whose stride-2 "same" case, on JAX on a CPU, takes its input
  gradient (a transposed convolution) by phases too (`strided_conv_by_phases`).
- Both, at a U-Net's innermost level (2x2 -> 1x1 and back), on every backend: one matmul by the
  2x2 taps that reach the input (`innermost_conv`, `innermost_conv_transpose`); on the next
  small maps, on TensorFlow on a CPU: one matmul over explicit patches (`small_map_conv`,
  `small_map_conv_transpose`; `SMALL_MAP_PIXELS` says which and why).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import keras
import numpy as np
from keras import ops

# N(0, 0.02) for every convolution, as Zhu et al. 2017 (and pix2pix) initialise.
WEIGHT_STDDEV = 0.02
# The largest map (a stride-2 "same" convolution's input, a transposed one's output), by compute
# dtype, that TensorFlow on a CPU runs as one matmul over explicit patches (`small_map_conv`):
# oneDNN ran the starter U-Net's 4x4 levels at 23-48 GFLOP/s where its 32x32 ones reached
# 100-190 (`profile_step.py --by-layer`), in bfloat16 its 8x8 ones too. The starter's U-Net step,
# batch 4: float32 177.5 -> 172.6 ms (at 64 pixels 180.6), bfloat16 161.6 -> 142.0 ms (2-core
# AMD EPYC, medians of 8 interleaved rounds). XLA:CPU (JAX) keeps its convolutions: 217 -> 232.
SMALL_MAP_PIXELS = {"float32": 16, "bfloat16": 64}
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


def _phase_taps(kernel_size: int, phase: int) -> tuple[slice, int, int]:
    """For the output pixels 2m + `phase` of a stride-2 "same" transposed convolution along one
    axis: the kernel taps that reach them (a slice, in the order they meet the input) and the
    zeros to pad the input with before and after. Output pixel p takes tap t from input pixel
    (p + before - t) / 2 where that is whole, `before` being the padding ahead of the strided
    convolution this one transposes (TensorFlow's and XLA's "same": (k - 2) // 2 of k - 2)."""
    before = (kernel_size - 2) // 2
    taps = [tap for tap in range(kernel_size) if (phase + before - tap) % 2 == 0]
    offsets = [(phase + before - tap) // 2 for tap in taps]  # input pixel m + offset, tap by tap
    return slice(max(taps), None, -2), -min(offsets), max(offsets)


def _phase_kernels(kernel) -> list | None:
    """The four phases' kernels of a [kh, kw, in, out] kernel with kh and kw even (None for an
    odd size), in the order 2 x row phase + column phase: each `kernel[row_taps][:, column_taps]`
    of `_phase_taps`, cut by one reshape, reversal and transpose, then a split. Why not by those
    strided slices: on JAX each slice's gradient is the kernel's full shape padded with zeros
    around a quarter of it, and the four (x the layer's calls) are summed and transposed inside
    the optimizer's fused update of the kernel, once per moment (XLA:CPU: 29% of the op time of
    the starter's U-Net step at batch 4); a split's gradient is one concatenation, and that step
    ran 535 -> 381 ms (2-core AMD EPYC, medians of 7 paired runs)."""
    kernel_height, kernel_width = kernel.shape[0], kernel.shape[1]
    if kernel_height % 2 or kernel_width % 2:
        return None
    channels_in, channels_out = kernel.shape[2], kernel.shape[3]
    # tap = 2 x tap_pair + parity; a phase takes one parity, its pairs in reverse (`_phase_taps`).
    pairs = ops.reshape(
        kernel, (kernel_height // 2, 2, kernel_width // 2, 2, channels_in, channels_out)
    )
    pairs = ops.flip(ops.flip(pairs, axis=0), axis=2)
    by_parity = ops.transpose(pairs, (1, 3, 0, 2, 4, 5))  # [row parity, column parity, ...]
    # The parity each phase takes: (phase + before - tap) even, `before` as in `_phase_taps`.
    row_parity = [(phase + (kernel_height - 2) // 2) % 2 for phase in (0, 1)]
    column_parity = [(phase + (kernel_width - 2) // 2) % 2 for phase in (0, 1)]
    split = ops.split(
        ops.reshape(
            by_parity, (4, kernel_height // 2, kernel_width // 2, channels_in, channels_out)
        ),
        4,
        axis=0,
    )
    return [
        ops.squeeze(split[2 * row_parity[row] + column_parity[column]], axis=0)
        for row in (0, 1)
        for column in (0, 1)
    ]


def phase_conv_transpose(inputs, kernel):
    """`ops.conv_transpose(inputs, kernel, strides=2, padding="same")` for a [kh, kw, out, in]
    kernel (kh, kw >= 2), channels last, computed as four stride-1 convolutions, one per output
    pixel phase (row and column parity), interleaved: the same sums in another order (equal up to
    float rounding), with the same FLOPs and no input dilated with zeros."""
    batch, height, width = ops.shape(inputs)[0], ops.shape(inputs)[1], ops.shape(inputs)[2]
    kernel_height, kernel_width, filters = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    kernel = ops.transpose(kernel, (0, 1, 3, 2))  # [kh, kw, in, out], as ops.conv takes it
    phase_kernels = _phase_kernels(kernel)
    rows = []
    for row_phase in (0, 1):
        row_taps, top, bottom = _phase_taps(kernel_height, row_phase)
        columns = []
        for column_phase in (0, 1):
            column_taps, left, right = _phase_taps(kernel_width, column_phase)
            window = ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])
            if phase_kernels is None:
                taps = kernel[row_taps][:, column_taps]
            else:
                taps = phase_kernels[2 * row_phase + column_phase]
            columns.append(ops.conv(window, taps, strides=1, padding="valid"))
        # [batch, h, w, column phase, out] -> [batch, h, 2w, out]: the phases interleave.
        rows.append(ops.reshape(ops.stack(columns, axis=3), (batch, height, 2 * width, filters)))
    return ops.reshape(ops.stack(rows, axis=2), (batch, 2 * height, 2 * width, filters))


def xla_cpu() -> bool:
    """True when Keras runs on JAX and JAX's default device is a CPU (XLA:CPU)."""
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


def _reached_taps(kernel):
    """The [2, 2, ...] middle of a [kh, kw, ...] kernel (kh, kw >= 2): the taps that a stride-2
    "same" convolution of a 2x2 input reaches. It has one output pixel, whose window starts
    `before` = (k - 2) // 2 pixels of zero padding ahead of the input along each axis; every
    other tap meets only padding. Cut by splits, whose gradient is a concatenation with zeros
    (TensorFlow's gradient of a strided slice, StridedSliceGrad, took twice as long)."""
    for axis in (0, 1):
        size = kernel.shape[axis]
        before = (size - 2) // 2
        kernel = ops.split(kernel, [before, before + 2], axis=axis)[1]
    return kernel


def innermost_conv(inputs, kernel):
    """`ops.conv(inputs, kernel, strides=2, padding="same")` of a [batch, 2, 2, in] input (a
    U-Net's innermost level: 2x2 -> 1x1) by a [kh, kw, in, out] kernel (kh, kw >= 2), as one
    matmul of the flattened input by the 2x2 taps that reach it: the same sums without the
    products with "same"'s zero padding (3/4 of a 4x4 kernel's), whose kernel gradient is
    exactly zero either way."""
    taps = _reached_taps(kernel)
    channels_in, channels_out = taps.shape[2], taps.shape[3]
    flat = ops.reshape(inputs, (-1, 4 * channels_in))  # (row, column, channel), as the taps
    outputs = ops.matmul(flat, ops.reshape(taps, (4 * channels_in, channels_out)))
    return ops.reshape(outputs, (-1, 1, 1, channels_out))


def innermost_conv_transpose(inputs, kernel):
    """`ops.conv_transpose(inputs, kernel, strides=2, padding="same")` of a [batch, 1, 1, in]
    input (1x1 -> 2x2) by a [kh, kw, out, in] kernel (kh, kw >= 2), as one matmul: output pixel
    (p, q) is the input times tap (before + p, before + q) (`innermost_conv`'s adjoint); the
    other taps meet only padding."""
    taps = _reached_taps(kernel)
    channels_out, channels_in = taps.shape[2], taps.shape[3]
    by_input = ops.reshape(ops.transpose(taps, (3, 0, 1, 2)), (channels_in, 4 * channels_out))
    outputs = ops.matmul(ops.reshape(inputs, (-1, channels_in)), by_input)
    return ops.reshape(outputs, (-1, 2, 2, channels_out))


@functools.cache
def stride_two_selection(
    height: int, width: int, kernel_height: int, kernel_width: int
) -> np.ndarray:
    """[out pixels, taps, in pixels] of 0s and 1s: which input pixel (row-major) each output
    pixel of a stride-2 "same" convolution of a `height` x `width` input (both even) meets at
    each kernel tap (row-major); none where the tap meets "same"'s zero padding, which starts
    (k - 2) // 2 pixels ahead of the input (TensorFlow's and XLA's split of k - 2)."""
    before_rows, before_columns = (kernel_height - 2) // 2, (kernel_width - 2) // 2
    out_height, out_width = height // 2, width // 2
    selection = np.zeros(
        (out_height * out_width, kernel_height * kernel_width, height * width), np.float32
    )
    for out_row in range(out_height):
        for out_column in range(out_width):
            for tap_row in range(kernel_height):
                row = 2 * out_row - before_rows + tap_row
                for tap_column in range(kernel_width):
                    column = 2 * out_column - before_columns + tap_column
                    if 0 <= row < height and 0 <= column < width:
                        selection[
                            out_row * out_width + out_column,
                            tap_row * kernel_width + tap_column,
                            row * width + column,
                        ] = 1.0
    return selection


def small_map_conv(inputs, kernel):
    """`ops.conv(inputs, kernel, strides=2, padding="same")` of a [batch, h, w, in] input (h, w
    even and known) by a [kh, kw, in, out] kernel (kh, kw >= 2), as one matmul of its patches
    (every tap's input pixel, gathered by `stride_two_selection`, zeros at the padding) by the
    kernel flattened: the same sums, and on a small map a large matmul instead of a small
    convolution."""
    height, width, channels_in = inputs.shape[1], inputs.shape[2], inputs.shape[3]
    kernel_height, kernel_width, channels_out = kernel.shape[0], kernel.shape[1], kernel.shape[3]
    selection = ops.convert_to_tensor(
        stride_two_selection(height, width, kernel_height, kernel_width), dtype=inputs.dtype
    )
    pixels = ops.reshape(inputs, (-1, height * width, channels_in))
    patches = ops.einsum("oti,bic->botc", selection, pixels)
    taps = kernel_height * kernel_width * channels_in
    outputs = ops.matmul(
        ops.reshape(patches, (-1, taps)), ops.reshape(kernel, (taps, channels_out))
    )
    return ops.reshape(outputs, (-1, height // 2, width // 2, channels_out))


def small_map_conv_transpose(inputs, kernel):
    """`ops.conv_transpose(inputs, kernel, strides=2, padding="same")` of a [batch, h, w, in]
    input (h, w known) by a [kh, kw, out, in] kernel (kh, kw >= 2): `small_map_conv`'s adjoint.
    Each input pixel times every tap (one matmul by the kernel as stored, [taps x out, in],
    transposed inside the matmul, not copied), each product then added into the output pixel
    that tap reaches (`stride_two_selection` of the 2h x 2w output)."""
    height, width, channels_in = inputs.shape[1], inputs.shape[2], inputs.shape[3]
    kernel_height, kernel_width, channels_out = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    selection = ops.convert_to_tensor(
        stride_two_selection(2 * height, 2 * width, kernel_height, kernel_width),
        dtype=inputs.dtype,
    )
    taps = kernel_height * kernel_width
    products = ops.einsum(
        "nc,mc->nm",
        ops.reshape(inputs, (-1, channels_in)),
        ops.reshape(kernel, (taps * channels_out, channels_in)),
    )
    products = ops.reshape(products, (-1, height * width, taps, channels_out))
    outputs = ops.einsum("ito,bitc->boc", selection, products)
    return ops.reshape(outputs, (-1, 2 * height, 2 * width, channels_out))


def tensorflow_cpu() -> bool:
    """True when Keras runs on TensorFlow and TensorFlow sees no GPU (oneDNN's convolutions)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def small_map(height, width, dtype) -> bool:
    """Whether a stride-2 "same" convolution whose large map is `height` x `width` (known and
    even) runs as a matmul in `dtype` (`SMALL_MAP_PIXELS`): on TensorFlow on a CPU."""
    limit = SMALL_MAP_PIXELS.get(keras.backend.standardize_dtype(dtype), 0)
    return (
        height is not None
        and width is not None
        and height % 2 == 0
        and width % 2 == 0
        and height * width <= limit
        and tensorflow_cpu()
    )


@keras.saving.register_keras_serializable(package="painter")
class PhaseConv2DTranspose(keras.layers.Conv2DTranspose):
    """keras' `Conv2DTranspose`, with the same weights and outputs, that computes a stride-2
    "same" transposed convolution (the generators' upsampling) by `phase_conv_transpose` on
    XLA:CPU, its gradients by one convolution each (`transposed_conv_by_phases`).

    Why: XLA:CPU runs a transposed convolution (and its kernel gradient) as a convolution of the
    input dilated with zeros, on a slow path: 60% of the op time of a JAX step of the starter's
    U-Net on a 2-core Xeon, a step that by phases ran 1.9-2.7x faster
    (`benchmarks/profile_step.py --backend jax [--ab]`, `bench_train_step.py`'s JAX row). The
    phases' own gradients (eight convolutions, each phase's input window transposed around
    them: those transposes 14% of its op time) came next; by one convolution each the step ran
    390 -> 334 ms (2-core AMD EPYC, medians of 4 paired runs). TensorFlow's oneDNN kernel, and
    XLA on a TPU or GPU, keep keras' own, except on small maps: the innermost level's 1x1 -> 2x2
    (every backend) and on TensorFlow on a CPU outputs up to `SMALL_MAP_PIXELS` are matmuls
    (`innermost_conv_transpose`, `small_map_conv_transpose`).
    """

    def _stride_two_same(self) -> bool:
        """The upsampling's case: stride 2, "same", kernel >= 2, no output padding or dilation."""
        return (
            min(self.kernel_size) >= 2
            and tuple(self.strides) == (2, 2)
            and self.padding == "same"
            and self.output_padding is None
            and tuple(self.dilation_rate) == (1, 1)
            and self.data_format == "channels_last"
        )

    def innermost_level(self, input_shape) -> bool:
        """Whether a call on `input_shape` ([batch, h, w, channels]) is a U-Net's innermost
        level, 1x1 -> 2x2, computed as one matmul (`innermost_conv_transpose`)."""
        return self._stride_two_same() and tuple(input_shape[1:3]) == (1, 1)

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        if self.innermost_level(inputs.shape):
            outputs = innermost_conv_transpose(inputs, ops.convert_to_tensor(self.kernel))
        elif (
            self._stride_two_same()
            and height is not None
            and width is not None
            and small_map(2 * height, 2 * width, inputs.dtype)
        ):
            outputs = small_map_conv_transpose(inputs, ops.convert_to_tensor(self.kernel))
        elif self._stride_two_same() and xla_cpu():
            outputs = transposed_conv_by_phases(inputs, ops.convert_to_tensor(self.kernel))
        else:
            return super().call(inputs)
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs


def strided_conv_by_phases(inputs, kernel):
    """`ops.conv(inputs, kernel, strides=2, padding="same")` (channels last, [kh, kw, in, out]
    kernel) on JAX, whose input gradient is `phase_conv_transpose` of the output gradient (the
    transposed convolution by phases: the conv's [kh, kw, in, out] kernel is the transposed
    convolution's [kh, kw, out, in]) instead of XLA's input-dilated convolution; the kernel
    gradient is XLA's own. The same values and gradients (to float rounding), differentiable
    again (the backward pass is JAX code). For even input sizes: "same" pads an odd size
    otherwise, which the phases do not mirror."""
    return _strided_conv_by_phases()(inputs, kernel)


@functools.cache
def _strided_conv_by_phases():
    """The jax.custom_vjp behind `strided_conv_by_phases`, made once (importing JAX)."""
    import jax

    @jax.custom_vjp
    def strided_conv(x, k):
        return ops.conv(x, k, strides=2, padding="same")

    def forward(x, k):
        return strided_conv(x, k), (x, k)

    def backward(saved, output_gradient):
        x, k = saved
        _, kernel_gradient = jax.vjp(lambda w: ops.conv(x, w, strides=2, padding="same"), k)
        return phase_conv_transpose(output_gradient, k), kernel_gradient(output_gradient)[0]

    strided_conv.defvjp(forward, backward)
    return strided_conv


def transposed_conv_by_phases(inputs, kernel):
    """`phase_conv_transpose(inputs, kernel)` on JAX whose gradients are each one convolution:
    the input's the stride-2 "same" convolution of the output gradient by the same kernel (whose
    transpose this is), the kernel's XLA's own kernel gradient of that convolution. Autodiff of
    the four phases would take both per phase, each phase's input window padded, transposed and
    reversed around it. The same values and gradients (to float rounding), differentiable again."""
    return _transposed_conv_by_phases()(inputs, kernel)


@functools.cache
def _transposed_conv_by_phases():
    """The jax.custom_vjp behind `transposed_conv_by_phases`, made once (importing JAX)."""
    import jax

    @jax.custom_vjp
    def transposed_conv(x, k):
        return phase_conv_transpose(x, k)

    def forward(x, k):
        return transposed_conv(x, k), (x, k)

    def backward(saved, output_gradient):
        # y = conv_transpose(x, k) is the input gradient of z = conv(y', k) at z's gradient x:
        # <y, dy> = <x, conv(dy, k)>, so dx = conv(dy, k) and dk = that conv's kernel gradient
        # at output gradient x.
        x, k = saved
        input_gradient, kernel_gradient = jax.vjp(
            lambda w: ops.conv(output_gradient, w, strides=2, padding="same"), k
        )
        return input_gradient, kernel_gradient(x)[0]

    transposed_conv.defvjp(forward, backward)
    return transposed_conv


@keras.saving.register_keras_serializable(package="painter")
class PhaseConv2D(keras.layers.Conv2D):
    """keras' `Conv2D`, with the same weights and outputs, whose stride-2 "same" case on XLA:CPU
    takes its input gradient by `strided_conv_by_phases` (the U-Net's downsampling).

    Why: that gradient is a transposed convolution, which XLA:CPU runs as a convolution of the
    output gradient dilated with zeros, on its slow path (14% of the op time of a JAX step of the
    starter's U-Net on 2 cores); by phases that step ran 366 -> 325 ms (2-core AMD EPYC, medians
    of 5 paired runs). TensorFlow's oneDNN kernel, and XLA on a TPU or GPU, keep keras' own.

    On a 2x2 input (the innermost level), on every backend: `innermost_conv`, one matmul by the
    taps that reach it (with `PhaseConv2DTranspose`'s 1x1 -> 2x2 the starter's U-Net step on
    TensorFlow ran 4-5% faster: `benchmarks/profile_step.py --ab layers`). On TensorFlow on a
    CPU, inputs up to `SMALL_MAP_PIXELS`: `small_map_conv`, one matmul over the patches.
    """

    def _stride_two_same(self) -> bool:
        """The downsampling's case: stride 2, "same", no dilation or groups, channels last."""
        return (
            tuple(self.strides) == (2, 2)
            and self.padding == "same"
            and tuple(self.dilation_rate) == (1, 1)
            and self.groups == 1
            and self.data_format == "channels_last"
        )

    def innermost_level(self, input_shape) -> bool:
        """Whether a call on `input_shape` ([batch, h, w, channels]) is a U-Net's innermost
        level, 2x2 -> 1x1, computed as one matmul (`innermost_conv`)."""
        return (
            self._stride_two_same()
            and tuple(input_shape[1:3]) == (2, 2)
            and min(self.kernel_size) >= 2
        )

    def convolution_op(self, inputs, kernel):
        height, width = inputs.shape[1], inputs.shape[2]
        if self.innermost_level(inputs.shape):
            return innermost_conv(inputs, ops.convert_to_tensor(kernel))
        if (
            self._stride_two_same()
            and min(self.kernel_size) >= 2
            and small_map(height, width, inputs.dtype)
        ):
            return small_map_conv(inputs, ops.convert_to_tensor(kernel))
        if (
            self._stride_two_same()
            and height is not None
            and width is not None
            and height % 2 == 0
            and width % 2 == 0
            and xla_cpu()
        ):
            return strided_conv_by_phases(inputs, ops.convert_to_tensor(kernel))
        return super().convolution_op(inputs, kernel)


def _l2_normalize(x, epsilon: float = 1e-12):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x)), epsilon))
