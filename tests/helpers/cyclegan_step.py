"""Run one CycleGAN training step from a fixed state on one Keras backend; write an .npz per run.

Used by tests/test_cyclegan_equivalence.py: one pytest process has one Keras backend, so each
backend (and each distribution) runs here in its own process, with KERAS_BACKEND set by the caller.
One process runs every named run of its backend and distribution (RUNS below), one after another
from a cleared Keras session: importing TensorFlow and Keras once instead of once a run.

    python tests/helpers/cyclegan_step.py OUT_DIR NAME [NAME ...]   (writes OUT_DIR/NAME.npz)

The initial state is drawn from NumPy with a seed per variable name, so every process starts from
the same weights; the batches are fixed NumPy arrays. The npz holds the model state after the step
(keys as CycleGAN.get_state) and the logged losses under "log/<name>".
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    ).strip()

import numpy as np  # noqa: E402

IMAGE_SIZE = 16
GLOBAL_BATCH = 4
# One step: Adam's first update is lr * g / (|g| + eps), so gradient entries near eps make any
# later step chaotic (a 1e-6 change of the weights moves step-2 moments by ~15%, measured).
STEPS = 1


def fixed_state(template: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Weights drawn from N(0, 0.05) (norm gammas around 1) seeded by the variable's name."""
    state = {}
    for key, value in template.items():
        rng = np.random.default_rng(zlib.crc32(key.encode()))
        if "optimizer/" in key or "_pool/" in key:
            state[key] = value  # fresh optimizer and empty pools, as built
        elif key in ("diffaugment/probability", "r1_strength/strength"):
            # Adaptive DiffAugment starts at 0 (nothing augmented), adaptive R1 at 0 (no
            # penalty): halfway, some images get each policy and some do not, R1 weighs half its
            # gamma, and one step moves each (identically on both backends).
            state[key] = np.full(value.shape, 0.5, value.dtype)
        elif key.endswith("gamma"):
            state[key] = (1.0 + rng.normal(0, 0.05, value.shape)).astype(value.dtype)
        else:
            state[key] = rng.normal(0, 0.05, value.shape).astype(value.dtype)
    return state


def batches(steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    shape = (steps * GLOBAL_BATCH, IMAGE_SIZE, IMAGE_SIZE, 3)
    real_photo = rng.uniform(-1, 1, shape).astype("float32")
    # Monets: smoother and warmer than the photos, so the two domains differ.
    real_monet = np.clip(0.5 * real_photo + rng.normal(0.2, 0.1, shape), -1, 1).astype("float32")
    return real_photo, real_monet


# Each run: its backend, its distribution, and its flags (parser() below). Pool off: under
# MirroredStrategy each replica pools its own half of the batch by design. The pool's random draws
# are proven backend-independent in test_cyclegan.py (NumPy reference hash).
RUNS: dict[str, tuple[str, str, list[str]]] = {
    "tensorflow-single": ("tensorflow", "single", []),
    "jax-single": ("jax", "single", []),
    "tensorflow-replicas": ("tensorflow", "replicas", []),
    "jax-replicas": ("jax", "replicas", []),
    # Adaptive DiffAugment (p at 0.5), LeCam, adaptive lazy R1 (computed at this step, x 2),
    # spectral norm, the generator EMA, and the U-Net with bilinear upsampling and its full-size
    # head, all on.
    "tensorflow-recipes": ("tensorflow", "single", ["--recipes"]),
    "jax-recipes": ("jax", "single", ["--recipes"]),
    # CUT's objective with the same recipes (PatchNCE on the U-Net's encoder levels without the
    # input, `nce_pixels=False`): one generator, one D, PatchNCE's heads; and with RpGAN, whose
    # generator loss also reads D's outputs on the real images (fixed DiffAugment and R1: the
    # adaptive rules have no boundary to count under RpGAN; the LSGAN run above has them), and
    # R1 from step 1: this step runs D without R1's gradient (the backends' other branch), and
    # with the U-Net's transposed convolutions instead of bilinear upsampling.
    # And CUT with the ResNet's features (the input first) and lazy R1 (computed at this step,
    # inside tf.cond in each replica) on one device and on two TF replicas (each draws the same
    # patch positions for its own images; JAX shards one program). Every CUT run takes the
    # identity PatchNCE on every 2nd Monet only (`nce_identity_stride=2`, x 2).
    "tensorflow-cut": ("tensorflow", "single", ["--recipes", "--cut", "--rpgan"]),
    "jax-cut": ("jax", "single", ["--recipes", "--cut", "--rpgan"]),
    "tensorflow-cut-single": ("tensorflow", "single", ["--cut", "--lazy-r1"]),
    "tensorflow-cut-replicas": ("tensorflow", "replicas", ["--cut", "--lazy-r1"]),
}


def parser() -> argparse.ArgumentParser:
    """One run's flags."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", type=int, default=0)
    parser.add_argument("--adversarial-loss", default="lsgan")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument(
        "--rpgan",
        action="store_true",
        help="with --recipes: RpGAN, fixed (not adaptive) DiffAugment and R1",
    )
    parser.add_argument(
        "--recipes",
        action="store_true",
        help="DiffAugment, LeCam, R1 (adaptive), spectral norm, the EMA and the cycle loss on 2x2 "
        "averages all on",
    )
    parser.add_argument(
        "--cut",
        action="store_true",
        help="CUT's objective (one generator, one D, PatchNCE on 32 patches per layer, the "
        "identity term on every 2nd Monet)",
    )
    parser.add_argument(
        "--lazy-r1",
        action="store_true",
        help="R1 (gamma 2) every 2nd step, this one included: tf.cond's computing branch",
    )
    return parser


def config_for(args: argparse.Namespace):
    """The smoke preset at 16 px with the run's recipes."""
    from painter.config import preset

    config = preset("smoke").replace(
        image_size=IMAGE_SIZE,
        resize_size=IMAGE_SIZE,
        resnet_blocks=1,
        discriminator_layers=2,
        global_batch_size=GLOBAL_BATCH,
        pool_size=args.pool,
        epochs=2,
        decay_epochs=1,
        adversarial_loss=args.adversarial_loss,
        label_smoothing=0.1 if args.adversarial_loss == "bce" else 0.0,
    )
    if args.recipes:
        config = config.replace(
            diffaugment="color,translation,cutout",
            diffaugment_target=0.6,
            lecam_weight=0.5,
            r1_weight=2.0,
            r1_target=0.6,
            r1_interval=2,  # lazy R1: step 0 computes it (x 2), through tf.cond / lax.cond
            spectral_norm=True,
            ema_decay=0.9,
            cycle_downsample=2,
            discriminator_scales=2,
            discriminator_layers=1,  # its half-size copy of the 16 px images still has 8 px
            generator="unet",
            upsampling="bilinear",
            unet_head=True,
            unet_full_skip=True,
            unet_bottleneck_norm=False,  # its 1x1 bottleneck: a biased conv, no norm
            generator_residual=True,  # both generators paint over their input
            beta_2=0.99,  # Adam's velocities: TF's fused kernel against keras' update on JAX
        )
    if args.cut:
        # The identity PatchNCE on Monets 0 and 2 only (x 2): on two replicas each takes its
        # own first, the same two.
        config = config.replace(
            objective="cut", nce_patches=32, nce_weight=2.0, nce_identity_stride=2
        )
    if args.cut and args.recipes:
        # PatchNCE on the U-Net's encoder levels only (the ResNet runs keep the input), and the
        # U-Net's transposed convolutions (the recipes run above has bilinear upsampling): on
        # JAX on a CPU PhaseConv2DTranspose computes them by phases, TensorFlow with its kernel.
        config = config.replace(nce_pixels=False, upsampling="transpose")
    if args.lazy_r1:
        config = config.replace(r1_weight=2.0, r1_interval=2)
    if args.recipes and args.rpgan:
        # R1 from step 1: step 0 takes the backends' branch that runs D without its gradient.
        config = config.replace(
            adversarial_loss="rpgan",
            label_smoothing=0.0,
            diffaugment_target=0.0,
            r1_target=0.0,
            r1_start=1,
        )
    return config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        raise SystemExit("usage: cyclegan_step.py OUT_DIR NAME [NAME ...] (names: RUNS)")
    out_dir, names = argv[0], argv[1:]
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    unknown = [name for name in names if name not in RUNS]
    if unknown:
        raise SystemExit(f"unknown runs {unknown}: choose from {sorted(RUNS)}")
    distributions = {RUNS[name][1] for name in names}
    if {RUNS[name][0] for name in names} != {backend} or len(distributions) != 1:
        raise SystemExit(f"{names}: one process runs one backend ({backend}), one distribution")
    [distribution] = distributions

    import tensorflow as tf

    scope = None
    replicas = 1
    if backend == "tensorflow":
        cpus = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
        )
    import keras

    if distribution == "replicas":
        if backend == "tensorflow":
            strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
            scope = strategy.scope
            replicas = strategy.num_replicas_in_sync
        else:
            import jax

            devices = jax.devices("cpu")[:2]
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
            replicas = len(devices)

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    import contextlib

    from painter.cyclegan.model import build_cyclegan

    for name in names:
        args = parser().parse_args(RUNS[name][2])
        config = config_for(args)
        # A fresh session per run: layer names (the state's keys, which seed fixed_state) restart.
        keras.backend.clear_session()
        with scope() if scope else contextlib.nullcontext():
            model = build_cyclegan(config, steps_per_epoch=args.steps)
            model.set_state(fixed_state(model.get_state()))
        real_photo, real_monet = batches(args.steps)
        dataset = tf.data.Dataset.from_tensor_slices((real_photo, real_monet)).batch(GLOBAL_BATCH)
        history = model.fit(dataset, epochs=1, verbose=0)
        result = dict(model.get_state())
        for key, values in history.history.items():
            result[f"log/{key}"] = np.asarray(values[-1], dtype="float64")
        result["meta/replicas"] = np.asarray(replicas)
        result["meta/adversarial_loss"] = np.asarray(config.adversarial_loss)
        result["meta/r1_start"] = np.asarray(config.r1_start)
        out = os.path.join(out_dir, f"{name}.npz")
        np.savez(out, **result)
        print(f"{name}: wrote {len(result)} arrays to {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
