"""Training-step throughput: painter's CycleGAN step vs the competition starter's, same networks.

The starter's step (Amy Jang's tutorial, TF 2.2 era): four Adam optimizers, BCE losses with
reduction NONE (per-pixel maps: the gradient is of a sum), a `tf.function` train step called from
`fit` on `Dataset.zip((monet, photo))`. painter's: `CycleGAN.fit` (two Adams, losses averaged over
the global batch, image pools, one tape, three generator calls). Both get the same U-Net
generators and PatchGAN discriminators (the starter's architecture, the same weights) built by
painter, on the TensorFlow backend, on this machine; the starter's convolutions are keras' own, as
its code has them, painter's its U-Net layers (`PhaseConv2D`, `PhaseConv2DTranspose`: the
innermost level as a matmul). The starter's step on painter's layers is timed too, in the same
rounds: what painter's step alone is worth. Prints images/s for each, their ratio, the FLOPs
of one step (counted from the layers' graph by TensorFlow's profiler, forward; a training step is
taken as 3x forward) and the fraction of the CPU's nominal peak that reaches.

The ratio is measured the way this shared machine allows: the starter's step, each painter
variant and the ceiling kernels are built and traced first, then timed in `--rounds` rounds of
one block each (`--block` steps; the kernels a quarter second), the order reversed every other
round. The ratio is the median over rounds of starter / painter within a round, whose blocks run
seconds apart (the host's speed drifts by 1.5-2x over minutes; runs minutes apart gave ratios
that moved by as much), and a step's share of the ceiling is likewise the median of its rate over
its own round's ceiling.

Measured in the same way, each in its own interleaved session:
- the CEILING on this backend: GFLOP/s of a 3x3 convolution 256->256 channels on 64x64 maps,
  batch 8, forward + both backward convolutions (exactly 3x the forward's FLOPs), and of a 2048^2
  float32 matmul; the ceiling is the faster of the two. Each step's GFLOP/s is also given as a
  percentage of it (what this CPU does reach, not its datasheet).
- painter's step at the cpu-small preset's architecture with the paper's ResNet generator
  (`preset("cpu-small")` with generator="resnet", R1 off and the CycleGAN objective, as this
  row was first measured: 64 px, 32 filters, batch 4):
  ms/step, GFLOP per step and the percentage of the ceiling.
- `--jit-compile auto on`: painter's TF step with Keras' choice (no XLA on a CPU-only TF) and with
  XLA. The first step's time (tracing + XLA compile + one step) is printed apart from the per-step
  time. The `ratio painter/starter batch N` lines use the fastest painter variant (named above).

And in `--repeats` alternating runs (medians):
- the cpu-small preset itself as it trains, with each `--jit-compile` variant (`--preset-steps`).
- painter's step on JAX (a subprocess: one process has one Keras backend), same U-Net config,
  batch 4, `model.fit` as on TensorFlow (Keras' JAX trainer jit-compiles the step): ms/step and
  JAX/TF; the same with keras' own transposed convolutions (XLA:CPU's input-dilated path, which
  painter's `PhaseConv2DTranspose` replaces on a CPU); and, to show where a gap is, two
  convolutions alone on both backends (TF's oneDNN vs XLA:CPU): the ceiling's and one shaped like
  the U-Net's layers at batch 2B = 8. `profile_step.py --backend jax` breaks the JAX step down by
  XLA op.

    python benchmarks/bench_train_step.py                 # 64 px, filters 32, batch 1 and 4
    python benchmarks/bench_train_step.py --size 128 --filters 64 --steps 20
    python benchmarks/bench_train_step.py --batches 4 --steps 3 --repeats 1 --rounds 2  # quick
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def forward_flops(model, size: int) -> float:
    """FLOPs of one forward pass of `model` on one size x size image, counted by TensorFlow's
    profiler on the traced graph (convolutions dominate)."""
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(tf.TensorSpec([1, size, size, 3], tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)


def nominal_peak_flops() -> float:
    """Cores x clock x 32 FP32 FLOPs per cycle (one AVX-512 FMA unit): a rough ceiling."""
    mhz = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = max(mhz, float(line.split(":")[1]))
    except OSError:
        pass
    return (os.cpu_count() or 1) * (mhz or 2000.0) * 1e6 * 32


# Convolutions timed on both backends (forward + both backward convolutions): the ceiling's, and
# one shaped like painter's U-Net at cpu-small's batch (2B = 8 images, 32 px, 32 -> 64, 4x4
# stride 2), to show whether the JAX/TF gap is the backend's convolution or painter's step.
# (name, batch, size, in channels, out channels, kernel, stride)
CONVS = (
    ("ceiling conv 3x3 256->256, 64x64, batch 8", 8, 64, 256, 256, 3, 1),
    ("U-Net-shaped conv 4x4/2 32->64, 32x32, batch 8", 8, 32, 32, 64, 4, 2),
)


def conv_flop(batch: int, size: int, cin: int, cout: int, kernel: int, stride: int) -> float:
    """FLOPs of forward + input gradient + kernel gradient (three convolutions of equal FLOPs)."""
    out = size // stride
    return 3 * 2 * batch * out * out * cin * cout * kernel * kernel


def conv_runner(
    batch: int,
    size: int,
    channels: int,
    *,
    out_channels: int | None = None,
    kernel: int = 3,
    stride: int = 1,
    dtype: str = "float32",
):
    """A `kernel` x `kernel` convolution channels->out_channels on size x size maps, batch
    `batch`, on TensorFlow: forward, gradient of the input and of the kernel in one tf.function,
    traced and warmed up. Returns (run, FLOPs of one call): run(n) makes n calls and waits."""
    import tensorflow as tf

    out_channels = out_channels or channels
    rng = tf.random.Generator.from_seed(0)
    x = tf.cast(rng.normal([batch, size, size, channels]), dtype)
    upstream = tf.cast(rng.normal([batch, size // stride, size // stride, out_channels]), dtype)
    weights = tf.Variable(
        tf.cast(rng.normal([kernel, kernel, channels, out_channels]) * 0.05, dtype)
    )

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, weights, stride, "SAME")
        dx, dkernel = tape.gradient(y, [x, weights], output_gradients=upstream)
        total = tf.reduce_sum(y) + tf.reduce_sum(dx) + tf.reduce_sum(dkernel)
        return tf.cast(total, tf.float32)

    def run(calls: int) -> None:
        for _ in range(calls):
            result = step(x)
        float(result)

    run(1)  # trace + warm up
    return run, conv_flop(batch, size, channels, out_channels, kernel, stride)


def conv_ceiling(
    batch: int,
    size: int,
    channels: int,
    iterations: int,
    *,
    out_channels: int | None = None,
    kernel: int = 3,
    stride: int = 1,
    dtype: str = "float32",
) -> float:
    """FLOP/s on TensorFlow of `conv_runner`'s convolution, timed over `iterations` calls."""
    run, flops = conv_runner(
        batch,
        size,
        channels,
        out_channels=out_channels,
        kernel=kernel,
        stride=stride,
        dtype=dtype,
    )
    start = time.perf_counter()
    run(iterations)
    return flops * iterations / (time.perf_counter() - start)


def conv_ceiling_jax(
    batch: int, size: int, channels: int, out_channels: int, kernel: int, stride: int, iterations
) -> float:
    """The same convolution's FLOP/s on JAX (XLA:CPU): forward and `jax.vjp`'s two gradients in
    one jitted function; the outputs are summed whole so XLA cannot skip any of them."""
    import jax

    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (batch, size, size, channels))
    weights = jax.random.normal(keys[1], (kernel, kernel, channels, out_channels)) * 0.05
    upstream = jax.random.normal(keys[2], (batch, size // stride, size // stride, out_channels))

    def convolve(x, weights):
        return jax.lax.conv_general_dilated(
            x, weights, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )

    @jax.jit
    def step(x, weights):
        y, pullback = jax.vjp(convolve, x, weights)
        dx, dkernel = pullback(upstream)
        return y.sum() + dx.sum() + dkernel.sum()

    float(step(x, weights))  # compile + warm up
    start = time.perf_counter()
    for _ in range(iterations):
        result = step(x, weights)
    float(result)
    seconds = (time.perf_counter() - start) / iterations
    return conv_flop(batch, size, channels, out_channels, kernel, stride) / seconds


def matmul_runner(n: int):
    """An n x n float32 matmul on TensorFlow, traced and warmed up. Returns (run, its 2 n^3
    FLOPs): run(k) makes k calls and waits."""
    import tensorflow as tf

    rng = tf.random.Generator.from_seed(1)
    a, b = rng.normal([n, n]), rng.normal([n, n])
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)[0]))

    def run(calls: int) -> None:
        for _ in range(calls):
            result = matmul(a, b)
        float(result)

    run(1)
    return run, 2 * n**3


# The ceiling kernels timed in every interleaved session beside the steps, and the calls per
# block (about a quarter of a second each here): the conv of CONVS[0] and a 2048^2 matmul.
CEILINGS = {"ceiling conv": 1, "ceiling matmul": 3}


def starter_step(monet_generator, photo_generator, monet_discriminator, photo_discriminator):
    """The starter's train_step, as a tf.function (its losses, its four optimizers)."""
    import keras
    import tensorflow as tf

    bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)
    optimizers = [keras.optimizers.Adam(2e-4, beta_1=0.5) for _ in range(4)]

    def discriminator_loss(real, generated):
        return (bce(tf.ones_like(real), real) + bce(tf.zeros_like(generated), generated)) * 0.5

    def generator_loss(generated):
        return bce(tf.ones_like(generated), generated)

    def cycle_loss(real, cycled):
        return 10.0 * tf.reduce_mean(tf.abs(real - cycled))

    def identity_loss(real, same):
        return 0.5 * 10.0 * tf.reduce_mean(tf.abs(real - same))

    @tf.function
    def step(real_monet, real_photo):
        with tf.GradientTape(persistent=True) as tape:
            fake_monet = monet_generator(real_photo, training=True)
            cycled_photo = photo_generator(fake_monet, training=True)
            fake_photo = photo_generator(real_monet, training=True)
            cycled_monet = monet_generator(fake_photo, training=True)
            same_monet = monet_generator(real_monet, training=True)
            same_photo = photo_generator(real_photo, training=True)
            disc_real_monet = monet_discriminator(real_monet, training=True)
            disc_real_photo = photo_discriminator(real_photo, training=True)
            disc_fake_monet = monet_discriminator(fake_monet, training=True)
            disc_fake_photo = photo_discriminator(fake_photo, training=True)
            total_cycle = cycle_loss(real_monet, cycled_monet) + cycle_loss(
                real_photo, cycled_photo
            )
            monet_gen_loss = (
                generator_loss(disc_fake_monet)
                + total_cycle
                + identity_loss(real_monet, same_monet)
            )
            photo_gen_loss = (
                generator_loss(disc_fake_photo)
                + total_cycle
                + identity_loss(real_photo, same_photo)
            )
            monet_disc_loss = discriminator_loss(disc_real_monet, disc_fake_monet)
            photo_disc_loss = discriminator_loss(disc_real_photo, disc_fake_photo)
        for loss, model, optimizer in zip(
            (monet_gen_loss, photo_gen_loss, monet_disc_loss, photo_disc_loss),
            (monet_generator, photo_generator, monet_discriminator, photo_discriminator),
            optimizers,
            strict=True,
        ):
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return monet_gen_loss, monet_disc_loss

    return step


def random_pair(config, batch: int):
    """One fixed (real_monet, real_photo) batch of uniform noise in [-1, 1] (seeded)."""
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (batch, config.image_size, config.image_size, 3)
    return (
        rng.uniform(-1, 1, shape).astype("float32"),
        rng.uniform(-1, 1, shape).astype("float32"),
    )


def starter_runner(config, batch: int):
    """The starter's step on `config`'s networks, traced and warmed up: run(n) takes n steps
    and waits for the last."""
    import numpy as np

    from painter.models import build_discriminator, build_generator

    networks = [
        build_generator(config, "monet_generator"),
        build_generator(config, "photo_generator"),
        build_discriminator(config, "monet_discriminator"),
        build_discriminator(config, "photo_discriminator"),
    ]
    step = starter_step(*networks)
    real_monet, real_photo = random_pair(config, batch)
    for _ in range(2):  # trace + warm up
        step(real_monet, real_photo)

    def run(steps: int) -> None:
        for _ in range(steps):
            outputs = step(real_monet, real_photo)
        np.asarray(outputs[0])  # wait for the last step

    return run


def painter_runner(config, batch: int):
    """painter's step (`CycleGAN`'s compiled train function, as `fit` runs it) on one fixed
    batch, after one `fit` step that traces it (and compiles it, with XLA) and one warm step.
    Returns (run, first step's seconds, model): run(n) takes n steps and waits for the last."""
    import tensorflow as tf

    from painter.cyclegan.model import build_cyclegan

    config = config.replace(global_batch_size=batch)
    model = build_cyclegan(config, steps_per_epoch=1)
    real_monet, real_photo = random_pair(config, batch)
    dataset = tf.data.Dataset.from_tensors((real_photo, real_monet)).repeat()
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)
    first = time.perf_counter() - start
    iterator, train_function = iter(dataset), model.train_function

    def run(steps: int) -> None:
        for _ in range(steps):
            logs = train_function(iterator)
        [float(value) for value in tf.nest.flatten(logs)]  # wait for the last step

    run(1)
    return run, first, model


def interleave(blocks: dict[str, Callable[[], None]], rounds: int, clock=time.perf_counter):
    """Time each of `blocks` (a callable that runs one block of work and waits for it) once per
    round for `rounds` rounds, in the given order on even rounds and reversed on odd ones, after
    one untimed call of each (a step traced before the others were built may retrace once).
    Returns name -> [seconds of its block in each round]: ratios of two names within a round
    cancel the machine's drift between rounds."""
    names = list(blocks)
    for name in names:
        blocks[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            start = clock()
            blocks[name]()
            seconds[name].append(clock() - start)
    return seconds


# The starter's step on painter's U-Net layers (`PhaseConv2D`, `PhaseConv2DTranspose`) instead of
# keras' own: what painter's step alone is worth, apart from its layers.
STARTER_PAINTER_LAYERS = "starter, painter's layers"


def time_interleaved(
    config, batch: int, variants: list[str], rounds: int, block: int, *, starter: bool = True
) -> dict:
    """The starter's step (with `starter`), painter's `variants` of it and the ceiling kernels,
    all built first, then timed by `interleave` for `rounds` rounds: a block of `block` steps of
    each step, CEILINGS' calls of each kernel. Returns {"starter": [s/step per round],
    "ceiling conv" / "ceiling matmul": [FLOP/s per round], "ceiling": [the faster one's],
    variant: {"seconds": [s/step per round], "first_step_seconds", "jit_compile", "flops"}}."""
    _, conv_batch, size, channels, _, kernel, stride = CONVS[0]
    kernels = {
        "ceiling conv": conv_runner(conv_batch, size, channels, kernel=kernel, stride=stride),
        "ceiling matmul": matmul_runner(2048),
    }
    blocks = {name: functools.partial(run, CEILINGS[name]) for name, (run, _) in kernels.items()}
    counts = dict(CEILINGS)  # steps or calls a block, by name
    if starter:
        with keras_convolutions():  # the starter's own layers: keras' Conv2D, Conv2DTranspose
            blocks["starter"] = functools.partial(starter_runner(config, batch), block)
        blocks[STARTER_PAINTER_LAYERS] = functools.partial(starter_runner(config, batch), block)
        counts["starter"] = counts[STARTER_PAINTER_LAYERS] = block
    built = {}
    for variant in variants:
        run, first, model = painter_runner(config.replace(**VARIANT_SETTINGS[variant]), batch)
        blocks[variant], counts[variant] = functools.partial(run, block), block
        built[variant] = {
            "first_step_seconds": first,
            "jit_compile": bool(model.jit_compile),  # what Keras resolved "auto" to
            "flops": step_flops(model, config, batch),
        }
    per_unit = {
        name: [seconds / counts[name] for seconds in block_seconds]
        for name, block_seconds in interleave(blocks, rounds).items()
    }
    results: dict = {
        name: [flops / s for s in per_unit[name]] for name, (_, flops) in kernels.items()
    }
    results["ceiling"] = [
        max(pair) for pair in zip(results["ceiling conv"], results["ceiling matmul"], strict=True)
    ]
    if starter:
        results["starter"] = per_unit["starter"]
        results[STARTER_PAINTER_LAYERS] = per_unit[STARTER_PAINTER_LAYERS]
    for variant, facts in built.items():
        results[variant] = {"seconds": per_unit[variant], **facts}
    return results


def step_flops(model, config, batch: int) -> float:
    """FLOPs of one painter training step: the profiler's forward FLOPs of each network on one image
    x the images it sees per step x 3 (forward + backward ~ 3x forward)."""
    generators = forward_flops(model.monet_generator, config.image_size) + forward_flops(
        model.photo_generator, config.image_size
    )
    discriminators = forward_flops(model.monet_discriminator, config.image_size) + forward_flops(
        model.photo_discriminator, config.image_size
    )
    generator_images, discriminator_images = images_per_step(config, batch)
    train_factor = 3
    return train_factor * (generator_images * generators + discriminator_images * discriminators)


def images_per_step(config, batch: int) -> tuple[int, int]:
    """Images each generator and each discriminator runs on in one training step: a generator 3
    batches' worth with the identity loss (translate + identity in one call of 2B, cycle), 2
    without it; a discriminator 3 (real + pooled fake in one call, fake for the generator)."""
    return (3 if config.identity_weight > 0 else 2) * batch, 3 * batch


@contextlib.contextmanager
def keras_transposed_convolutions() -> Iterator[None]:
    """Models built and traced inside use keras' own transposed convolution on JAX on a CPU too
    (XLA:CPU's input-dilated path): painter's PhaseConv2DTranspose falls back to it wherever
    `strided.xla_cpu()` says no."""
    import painter.models.strided as strided

    xla_cpu, strided.xla_cpu = strided.xla_cpu, lambda: False
    try:
        yield
    finally:
        strided.xla_cpu = xla_cpu


@contextlib.contextmanager
def keras_convolutions() -> Iterator[None]:
    """Models built and traced inside run keras' own convolutions where painter's U-Net layers
    have their own ways (`PhaseConv2D`, `PhaseConv2DTranspose`: phases on XLA:CPU, the innermost
    level's matmul everywhere): the same weights, outputs and gradients."""
    import keras

    from painter.models import PhaseConv2D, PhaseConv2DTranspose

    saved = PhaseConv2D.convolution_op, PhaseConv2DTranspose.call
    PhaseConv2D.convolution_op = keras.layers.Conv2D.convolution_op
    PhaseConv2DTranspose.call = keras.layers.Conv2DTranspose.call
    try:
        yield
    finally:
        PhaseConv2D.convolution_op, PhaseConv2DTranspose.call = saved


def time_painter(config, batch: int, steps: int, count_flops: bool = True) -> dict:
    """painter's step through `model.fit` on the current Keras backend: seconds per step (after
    the first two), the first step's seconds (tracing, XLA compile when on, one step), FLOPs,
    and `cores_busy`: the process's CPU time over the same steps / their wall time (a JAX run
    near 1.0 on 2 cores ran its CPU time one core at a time, or waited)."""
    import keras
    import tensorflow as tf

    from painter.cyclegan.model import build_cyclegan

    config = config.replace(global_batch_size=batch)
    model = build_cyclegan(config, steps_per_epoch=steps)
    real_monet, real_photo = random_pair(config, batch)
    dataset = tf.data.Dataset.from_tensors((real_photo, real_monet)).repeat()

    class Timer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.begin = time.perf_counter()

        def on_train_batch_end(self, batch_index, logs=None):
            if batch_index == 0:  # tracing (+ XLA compile) and one step
                self.first = time.perf_counter() - self.begin
            if batch_index == 1:  # after tracing and one warm step
                self.start = time.perf_counter()
                self.cpu_start = time.process_time()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start
            self.cpu_seconds = time.process_time() - self.cpu_start

    timer = Timer()
    model.fit(dataset, steps_per_epoch=steps + 2, epochs=1, verbose=0, callbacks=[timer])
    return {
        "seconds": timer.seconds / steps,
        "cores_busy": timer.cpu_seconds / timer.seconds,
        "first_step_seconds": timer.first,
        "jit_compile": bool(model.jit_compile),  # what Keras resolved "auto" to
        "flops": step_flops(model, config, batch) if count_flops else float("nan"),
    }


def unet_config(args):
    """The starter's architecture (U-Net + PatchGAN) with painter's step settings."""
    from painter.config import preset

    return preset("smoke").replace(
        image_size=args.size,
        resize_size=args.size,
        generator="unet",
        unet_depth=0,
        upsampling="transpose",  # the starter's U-Net
        generator_filters=args.filters,
        discriminator_filters=args.filters,
        adversarial_loss="bce",
        pool_size=args.pool_size,
    )


def resnet_config():
    """cpu-small's sizes with the paper's ResNet and cycle, R1 off: its second backward pass
    through D is not in step_flops' forward x 3, so with it on the % of the ceiling would count
    work done as idle time (the preset's own row keeps it). R1's lazy interval goes with it: a
    config refuses one without R1."""
    from painter.config import preset

    return preset("cpu-small").replace(
        generator="resnet", r1_weight=0.0, r1_start=0, r1_interval=1, objective="cyclegan"
    )


def jax_child(args) -> None:
    """In a KERAS_BACKEND=jax process: painter's U-Net step at --jax-batch; prints a JSON line."""
    import keras

    if keras.backend.backend() != "jax":
        sys.exit(f"the JAX child runs on Keras' {keras.backend.backend()!r} backend")
    result = time_painter(unet_config(args), args.jax_batch, args.steps, count_flops=False)
    result = {key: value for key, value in result.items() if key != "flops"}
    with keras_transposed_convolutions():  # what painter's phases replace
        keras_own = time_painter(unet_config(args), args.jax_batch, args.steps, count_flops=False)
    result["keras_transpose_seconds"] = keras_own["seconds"]
    result["convs"] = [conv_ceiling_jax(*shape, args.ceiling_iterations) for _, *shape in CONVS]
    print(json.dumps(result))


def time_jax(args) -> dict:
    """painter's U-Net step on JAX, in a subprocess of this script."""
    command = [sys.executable, __file__, "--jax-child", "--jax-batch", str(args.jax_batch)]
    command += ["--size", str(args.size), "--filters", str(args.filters)]
    command += ["--steps", str(args.steps), "--pool-size", str(args.pool_size)]
    command += ["--ceiling-iterations", str(args.ceiling_iterations)]
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        sys.exit(f"the JAX step failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


VARIANTS = {
    "auto": "painter (auto)",
    "on": "painter (XLA on)",
    "off": "painter (XLA off)",
    "bf16": "painter (auto, bfloat16)",
}
# Each variant's config overrides: jit_compile, and for "bf16" painter's mixed_precision (bfloat16
# compute, float32 weights), which oneDNN runs on AVX512-BF16 / AMX units where the CPU has them.
VARIANT_SETTINGS = {
    "auto": {"jit_compile": "auto"},
    "on": {"jit_compile": "on"},
    "off": {"jit_compile": "off"},
    "bf16": {"jit_compile": "auto", "mixed_precision": True},
}


def cpu_flags() -> set[str]:
    """The CPU's feature flags (/proc/cpuinfo), empty where that cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def describe_first_steps(runs: list[dict]) -> str:
    return ", ".join(f"{r['first_step_seconds']:.1f}" for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per run of the JAX row")
    parser.add_argument(
        "--rounds",
        type=int,
        default=12,
        help="interleaved rounds of the starter vs painter comparison (one block of each a round)",
    )
    parser.add_argument("--block", type=int, default=3, help="steps in each timed block")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=0,
        help="painter's image pool: 0 = off, as every preset trains (QUALITY_RECIPE); the "
        "paper's 50 costs a second discriminator input per step",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="alternating runs of the ceilings, the ResNet, the preset and JAX; medians reported",
    )
    parser.add_argument(
        "--jit-compile",
        nargs="+",
        choices=tuple(VARIANTS),
        default=None,
        help="painter's TF step variants: auto = Keras' choice (no XLA on TF-CPU), on = XLA "
        "(compiles for a while first: reported apart), off, bf16 = auto with mixed_precision "
        "(bfloat16 compute). Default: auto on, and bf16 where the CPU has avx512_bf16",
    )
    parser.add_argument(
        "--jax-batch", type=int, default=4, help="batch of the JAX vs TF comparison (0 = skip it)"
    )
    parser.add_argument(
        "--resnet-batch",
        type=int,
        default=4,
        help="batch of the cpu-small ResNet step (the preset's 4; 0 = skip it)",
    )
    parser.add_argument(
        "--preset-steps",
        type=int,
        default=20,
        help="timed steps of the cpu-small preset itself, per variant (0 = skip it)",
    )
    parser.add_argument(
        "--ceiling-iterations", type=int, default=3, help="timed calls of each ceiling kernel"
    )
    parser.add_argument("--jax-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jax_child:
        jax_child(args)
        return 0

    from painter.config import preset

    config = unet_config(args)
    flags = cpu_flags()
    if args.jit_compile is None:
        args.jit_compile = ["auto", "on", *(["bf16"] if "avx512_bf16" in flags else [])]
    variants = list(dict.fromkeys(args.jit_compile))
    resnet = resnet_config()
    # The TF side of JAX/TF: painter (auto) at the JAX batch, from an interleaved session.
    painter_batches = sorted({*args.batches, *([args.jax_batch] if args.jax_batch else [])})
    peak = nominal_peak_flops()
    print(
        f"bench_train_step: U-Net + PatchGAN at {args.size}px, filters {args.filters}, "
        f"pool {args.pool_size}, TensorFlow on {os.cpu_count()} CPUs; nominal peak "
        f"{peak / 1e9:.0f} GFLOP/s; CPU flags: "
        + (" ".join(sorted(f for f in flags if "bf16" in f or f.startswith("amx"))) or "no bf16")
    )

    def session_variants(batch: int) -> list[str]:
        timed = variants if batch in args.batches else []
        return [*timed, *(["auto"] if batch == args.jax_batch and "auto" not in timed else [])]

    # The starter's step and painter's, interleaved block by block (`time_interleaved`).
    sessions = {
        batch: time_interleaved(config, batch, session_variants(batch), args.rounds, args.block)
        for batch in painter_batches
    }
    if args.resnet_batch:
        sessions["resnet"] = time_interleaved(
            resnet, args.resnet_batch, variants, args.rounds, args.block, starter=False
        )
    preset_runs: dict[str, list[dict]] = {variant: [] for variant in variants}
    preset_config = preset("cpu-small")
    jax_runs: list[dict] = []
    bf16_conv_runs: list[float] = []
    tf_conv_runs: list[list[float]] = [[] for _ in CONVS]
    # Interleaved runs, medians: this machine is shared and noisy.
    for _ in range(args.repeats):
        for index, (_, batch, size, cin, cout, kernel, stride) in enumerate(CONVS):
            measured = conv_ceiling(
                batch,
                size,
                cin,
                args.ceiling_iterations,
                out_channels=cout,
                kernel=kernel,
                stride=stride,
            )
            tf_conv_runs[index].append(measured)
        if "bf16" in variants:
            _, batch, size, cin, cout, kernel, stride = CONVS[0]
            bf16_conv_runs.append(
                conv_ceiling(
                    batch, size, cin, args.ceiling_iterations, kernel=kernel, dtype="bfloat16"
                )
            )
        if args.preset_steps:
            for variant in variants:
                preset_runs[variant].append(
                    time_painter(
                        preset_config.replace(**VARIANT_SETTINGS[variant]),
                        preset_config.global_batch_size,
                        args.preset_steps,
                        count_flops=False,
                    )
                )
        if args.jax_batch:
            jax_runs.append(time_jax(args))

    conv_flops, matmul_flops = (
        statistics.median(rate for session in sessions.values() for rate in session[name])
        for name in CEILINGS
    )
    ceiling = max(conv_flops, matmul_flops)
    ceiling_kind = "conv" if conv_flops >= matmul_flops else "matmul"
    print(
        "  ceiling (TensorFlow, measured, medians of every session's rounds; each step's % "
        "below is of its own rounds' ceilings): conv 3x3 256->256 on 64x64, "
        f"batch 8, forward + backward {conv_flops / 1e9:.1f} GFLOP/s; matmul 2048^2 float32 "
        f"{matmul_flops / 1e9:.1f} GFLOP/s; ceiling = {ceiling_kind} {ceiling / 1e9:.1f} GFLOP/s "
        f"= {ceiling / peak:.0%} of the nominal peak"
    )
    if bf16_conv_runs:
        bf16_flops = statistics.median(bf16_conv_runs)
        print(
            f"  the same conv in bfloat16 (oneDNN): {bf16_flops / 1e9:.1f} GFLOP/s = "
            f"{bf16_flops / conv_flops:.2f}x float32 (the bfloat16 variant's percentages below are "
            "of the float32 ceiling)"
        )

    def painter_median(variant: str, batch: int) -> float:
        return statistics.median(sessions[batch][variant]["seconds"])

    def share_of_ceiling(key, variant: str) -> float:
        """Median over the session's rounds of the step's FLOP/s over that round's ceiling."""
        session = sessions[key]
        run = session[variant]
        return statistics.median(
            run["flops"] / seconds / ceiling_rate
            for seconds, ceiling_rate in zip(run["seconds"], session["ceiling"], strict=True)
        )

    def paired_ratios(variant: str, batch: int) -> list[float]:
        """starter / painter seconds of each round's two blocks (seconds apart)."""
        session = sessions[batch]
        return [s / p for s, p in zip(session["starter"], session[variant]["seconds"], strict=True)]

    ratios, fastest = {}, {}
    for batch in args.batches:
        starter_seconds = statistics.median(sessions[batch]["starter"])
        print(
            f"  batch {batch}: starter {batch / starter_seconds:7.2f} images/s "
            f"({starter_seconds * 1e3:.0f} ms/step; medians of {args.rounds} interleaved blocks "
            f"of {args.block} steps)"
        )
        for variant in variants:
            run = sessions[batch][variant]
            seconds = painter_median(variant, batch)
            flops = run["flops"]
            paired = sorted(paired_ratios(variant, batch))
            quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
            print(
                f"           {VARIANTS[variant]}: {batch / seconds:7.2f} images/s "
                f"({seconds * 1e3:.0f} ms/step); painter/starter "
                f"{statistics.median(paired):.2f}x (median of the rounds' paired ratios; "
                f"quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}; ratio of the medians "
                f"{starter_seconds / seconds:.2f}); first step "
                f"(trace{' + XLA compile' if run['jit_compile'] else ''} + 1 step) "
                f"{run['first_step_seconds']:.1f} s"
            )
            print(
                f"             step: {flops / 1e9:.2f} GFLOP, {flops / seconds / 1e9:.1f} GFLOP/s "
                f"= {flops / seconds / peak:.1%} of the nominal peak, "
                f"{share_of_ceiling(batch, variant):.0%} of the measured ceiling"
            )
        layers_seconds = statistics.median(sessions[batch][STARTER_PAINTER_LAYERS])
        on_layers = [
            s / p
            for s, p in zip(
                sessions[batch][STARTER_PAINTER_LAYERS],
                sessions[batch][variants[0]]["seconds"],
                strict=True,
            )
        ]
        print(
            f"           the starter's step on painter's U-Net layers: "
            f"{layers_seconds * 1e3:.0f} ms/step; {VARIANTS[variants[0]]}/that "
            f"{statistics.median(on_layers):.2f}x (painter's step alone, layers apart)"
        )
        fastest[batch] = max(
            variants, key=lambda v, batch=batch: statistics.median(paired_ratios(v, batch))
        )
        ratios[batch] = statistics.median(paired_ratios(fastest[batch], batch))

    if args.resnet_batch:
        from painter.models import default_resnet_blocks

        size = resnet.image_size
        blocks = resnet.resnet_blocks or default_resnet_blocks(size)
        for variant in variants:
            run = sessions["resnet"][variant]
            seconds = statistics.median(run["seconds"])
            flops = run["flops"]
            print(
                f"  cpu-small ResNet ({resnet.image_size} px, "
                f"{resnet.generator_filters} filters, {blocks} blocks, batch "
                f"{args.resnet_batch}), {VARIANTS[variant]}: {seconds * 1e3:.0f} ms/step, "
                f"{flops / 1e9:.2f} GFLOP/step, {flops / seconds / 1e9:.1f} GFLOP/s = "
                f"{share_of_ceiling('resnet', variant):.0%} of the measured ceiling (median "
                f"over {args.rounds} rounds of the step's rate over the round's ceiling; "
                f"first step {run['first_step_seconds']:.1f} s)"
            )
        print(
            "    GFLOP/step = TF profiler's forward FLOPs of the 4 networks on one image x images "
            "per step (each generator 3 batches with identity loss, 2 without; each "
            "discriminator 3) x 3 for forward + backward"
        )

    if args.preset_steps:
        # What XLA is worth to the cpu-small preset as it trains (its own recipe and sizes): steps
        # gained per hour against the compile time it costs once.
        base = statistics.median(r["seconds"] for r in preset_runs[variants[0]])
        layers = preset_config.discriminator_layers
        for variant in variants:
            seconds = statistics.median(r["seconds"] for r in preset_runs[variant])
            print(
                f"  cpu-small preset as it trains ({preset_config.generator}, "
                f"{preset_config.upsampling} upsampling, {layers}-layer PatchGAN, batch "
                f"{preset_config.global_batch_size}), {VARIANTS[variant]}: {seconds * 1e3:.0f} "
                f"ms/step ({base / seconds:.2f}x {variants[0]}; {3600 / seconds:.0f} steps an "
                f"hour; first step {describe_first_steps(preset_runs[variant])} s)"
            )

    if args.jax_batch:
        jax_seconds = statistics.median(r["seconds"] for r in jax_runs)
        tf_seconds = painter_median("auto", args.jax_batch)
        line = (
            f"  JAX vs TF, U-Net batch {args.jax_batch}: JAX {jax_seconds * 1e3:.0f} ms/step "
            f"(first step, jit compile included, {describe_first_steps(jax_runs)} s), "
            f"TF (auto) {tf_seconds * 1e3:.0f} ms/step: JAX/TF {jax_seconds / tf_seconds:.2f}"
        )
        if "on" in variants:
            xla_seconds = painter_median("on", args.jax_batch)
            line += f"; TF (XLA on) {xla_seconds * 1e3:.0f} ms/step: JAX/TF-XLA "
            line += f"{jax_seconds / xla_seconds:.2f}"
        print(line + " (ms/step ratios: < 1 = JAX faster)")
        runs = ", ".join(f"{r['seconds'] * 1e3:.0f} ({r['cores_busy']:.1f})" for r in jax_runs)
        print(f"    JAX runs, ms/step (cores busy: CPU time / wall time): {runs}")
        keras_seconds = statistics.median(r["keras_transpose_seconds"] for r in jax_runs)
        print(
            f"    JAX with keras' own transposed convolutions (XLA:CPU's input-dilated path; "
            f"painter's PhaseConv2DTranspose runs four stride-1 convolutions): "
            f"{keras_seconds * 1e3:.0f} ms/step, {keras_seconds / jax_seconds:.2f}x painter's "
            f"JAX step; JAX/TF {keras_seconds / tf_seconds:.2f}"
        )
        # Where the gap is: the same convolutions alone on each backend, no painter code.
        for index, (name, *_) in enumerate(CONVS):
            tf_rate = statistics.median(tf_conv_runs[index])
            jax_rate = statistics.median(r["convs"][index] for r in jax_runs)
            print(
                f"    {name}, forward + backward: TF {tf_rate / 1e9:.1f} GFLOP/s, JAX (XLA:CPU) "
                f"{jax_rate / 1e9:.1f} GFLOP/s: JAX/TF time {tf_rate / jax_rate:.2f}"
            )

    print(
        "painter variant in the ratios (the fastest): "
        + ", ".join(f"batch {batch}: {VARIANTS[v]}" for batch, v in fastest.items())
    )
    for batch, ratio in ratios.items():
        print(f"ratio painter/starter batch {batch}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
