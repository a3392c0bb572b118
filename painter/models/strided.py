"""The U-Net's stride-2 convolutions, computed by faster routes to keras' own results.

`PhaseConv2D` and `PhaseConv2DTranspose` are keras' `Conv2D` and `Conv2DTranspose` (the same
weights, outputs and gradients, saved and loaded as painter's) whose stride-2 "same" case takes
the route that ran fastest on each backend:

- on JAX on a CPU (XLA:CPU), a transposed convolution as four stride-1 convolutions, one per
  output pixel phase (`phase_conv_transpose`; its gradients by one convolution each,
  `transposed_conv_by_phases`), and a strided convolution's input gradient by the same phases
  (`strided_conv_by_phases`): XLA:CPU runs both as convolutions of an input dilated with zeros,
  on a slow path;
- at a U-Net's innermost level (2x2 -> 1x1 and back), on every backend: one matmul by the 2x2
  taps that reach the input (`innermost_conv`, `innermost_conv_transpose`);
- on the next small maps, on TensorFlow on a CPU: one matmul over explicit patches
  (`small_map_conv`, `small_map_conv_transpose`; `SMALL_MAP_PIXELS` says which and why).

Elsewhere (TensorFlow's other maps, XLA on a TPU or GPU) keras' own convolution runs.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import ops

# The largest map (a stride-2 "same" convolution's input, a transposed one's output), by compute
# dtype, that TensorFlow on a CPU runs as one matmul over explicit patches (`small_map_conv`):
# oneDNN ran the starter U-Net's 4x4 levels at 23-48 GFLOP/s where its 32x32 ones reached
# 100-190 (`profile_step.py --by-layer`), in bfloat16 its 8x8 ones too. The starter's U-Net step,
# batch 4: float32 177.5 -> 172.6 ms (at 64 pixels 180.6), bfloat16 161.6 -> 142.0 ms (2-core
# AMD EPYC, medians of 8 interleaved rounds). XLA:CPU (JAX) keeps its convolutions: 217 -> 232.
SMALL_MAP_PIXELS = {"float32": 16, "bfloat16": 64}


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
    """True when Keras runs on TensorFlow and TensorFlow sees no GPU or TPU (oneDNN's
    convolutions)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not any(tf.config.list_logical_devices(kind) for kind in ("GPU", "TPU"))


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
