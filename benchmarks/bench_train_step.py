"""Training-step throughput: painter's CycleGAN step vs the competition starter's, same networks.

The starter's step (Amy Jang's tutorial, TF 2.2 era): four Adam optimizers, BCE losses with
reduction NONE (per-pixel maps: the gradient is of a sum), a `tf.function` train step called from
`fit` on `Dataset.zip((monet, photo))`. painter's: `CycleGAN.fit` (two Adams, losses averaged over
the global batch, image pools, one tape). Both get the same U-Net generators and PatchGAN
discriminators (the starter's architecture) built by painter, on the TensorFlow backend, on this
machine. Prints images/s for each, their ratio, the FLOPs of one step (counted from the layers'
graph by TensorFlow's profiler, forward; a training step is taken as 3x forward)
and the fraction of the CPU's nominal peak that reaches.

    python benchmarks/bench_train_step.py                 # 64 px, filters 32, batch 1 and 4
    python benchmarks/bench_train_step.py --size 128 --filters 64 --steps 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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


def time_starter(config, batch: int, steps: int) -> float:
    import numpy as np

    from painter.models import build_discriminator, build_generator

    networks = [
        build_generator(config, "monet_generator"),
        build_generator(config, "photo_generator"),
        build_discriminator(config, "monet_discriminator"),
        build_discriminator(config, "photo_discriminator"),
    ]
    step = starter_step(*networks)
    rng = np.random.default_rng(0)
    real_monet = rng.uniform(-1, 1, (batch, config.image_size, config.image_size, 3)).astype(
        "float32"
    )
    real_photo = rng.uniform(-1, 1, real_monet.shape).astype("float32")
    for _ in range(2):  # trace + warm up
        step(real_monet, real_photo)
    start = time.perf_counter()
    for _ in range(steps):
        outputs = step(real_monet, real_photo)
    np.asarray(outputs[0])  # wait for the last step
    return (time.perf_counter() - start) / steps


def time_painter(config, batch: int, steps: int) -> tuple[float, float]:
    import keras
    import numpy as np
    import tensorflow as tf

    from painter.cyclegan.model import build_cyclegan

    config = config.replace(global_batch_size=batch)
    model = build_cyclegan(config, steps_per_epoch=steps)
    rng = np.random.default_rng(0)
    shape = (batch, config.image_size, config.image_size, 3)
    pair = (
        rng.uniform(-1, 1, shape).astype("float32"),
        rng.uniform(-1, 1, shape).astype("float32"),
    )
    dataset = tf.data.Dataset.from_tensors(pair).repeat()

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch_index, logs=None):
            if batch_index == 1:  # after tracing and one warm step
                self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start

    timer = Timer()
    model.fit(dataset, steps_per_epoch=steps + 2, epochs=1, verbose=0, callbacks=[timer])
    forward = sum(
        forward_flops(network, config.image_size)
        for network in (
            model.monet_generator,
            model.photo_generator,
            model.monet_discriminator,
            model.photo_discriminator,
        )
    )
    # A step runs each generator on 3 batches' worth (translate + identity in one call of 2B,
    # cycle) and each discriminator on 3 (real + pooled fake in one call, fake for the
    # generator); forward + backward ~ 3x forward.
    passes, train_factor = 3, 3
    return timer.seconds / steps, train_factor * passes * forward * batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--pool-size", type=int, default=50, help="painter's image pool (the paper's 50; 0 = off)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="alternating starter/painter runs per batch size; medians reported",
    )
    args = parser.parse_args()

    from painter.config import preset

    config = preset("smoke").replace(
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
    peak = nominal_peak_flops()
    print(
        f"bench_train_step: U-Net + PatchGAN at {args.size}px, filters {args.filters}, "
        f"pool {args.pool_size}, TensorFlow on {os.cpu_count()} CPUs; nominal peak "
        f"{peak / 1e9:.0f} GFLOP/s"
    )
    ratios = {}
    for batch in args.batches:
        # Interleaved runs, medians: this machine is shared and noisy.
        starter_runs, painter_runs = [], []
        for _ in range(args.repeats):
            starter_runs.append(time_starter(config, batch, args.steps))
            seconds, flops = time_painter(config, batch, args.steps)
            painter_runs.append(seconds)
        starter_seconds = statistics.median(starter_runs)
        painter_seconds = statistics.median(painter_runs)
        ratios[batch] = starter_seconds / painter_seconds
        print(
            f"  batch {batch}: starter {batch / starter_seconds:7.2f} images/s "
            f"({starter_seconds * 1e3:.0f} ms/step); painter {batch / painter_seconds:7.2f} "
            f"images/s ({painter_seconds * 1e3:.0f} ms/step); painter/starter "
            f"{ratios[batch]:.2f}x (medians of {args.repeats}; painter runs "
            f"{', '.join(f'{s * 1e3:.0f}' for s in painter_runs)} ms)"
        )
        print(
            f"           painter step: {flops / 1e9:.2f} GFLOP, {flops / painter_seconds / 1e9:.1f} "
            f"GFLOP/s = {flops / painter_seconds / peak:.1%} of the nominal peak"
        )
    for batch, ratio in ratios.items():
        print(f"ratio painter/starter batch {batch}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
