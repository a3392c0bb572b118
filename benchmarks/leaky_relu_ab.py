"""The PatchGAN's C64 activation, A/B on TensorFlow: keras' LeakyReLU against `SelectLeakyReLU`.

With keras' LeakyReLU after C64's biased convolution, grappler's remapper fails on the whole train
step (`remapper failed: ... LeakyReluGrad ... BiasAdd`, logged as an error) and its fusions are
dropped; `SelectLeakyReLU` (what painter builds) keeps the pattern out. This times a preset's TF
train step both ways: each variant in its own process (a fresh graph and grappler run), alternated
over `--rounds`, `--steps` steps an epoch, the first epoch (trace + compile) untimed; prints each
epoch's ms/step, whether the remapper failed, the medians and their ratio.

    python benchmarks/leaky_relu_ab.py                        # cpu-small, 3 rounds of 25 steps
    python benchmarks/leaky_relu_ab.py --preset smoke --steps 4 --rounds 1   # a quick check
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("keras", "select")  # C64 on keras.layers.LeakyReLU, on SelectLeakyReLU (painter's)
TIMED_EPOCHS = 3


def child(variant: str, preset_name: str, steps: int) -> None:
    """One variant: build the preset's CycleGAN, fit 1 + TIMED_EPOCHS epochs, print the times."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras
    import numpy as np
    import tensorflow as tf

    import painter.models.patchgan as patchgan
    from painter.config import preset
    from painter.cyclegan.model import build_cyclegan

    if variant == "keras":  # the activation C64 had before SelectLeakyReLU
        patchgan.SelectLeakyReLU = lambda slope, name=None: keras.layers.LeakyReLU(slope, name=name)
    config = preset(preset_name)
    model = build_cyclegan(config, steps_per_epoch=steps)
    size, batch = config.image_size, config.global_batch_size
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch * steps, size, size, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((real, real[::-1].copy())).batch(batch).repeat()
    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    model.fit(
        data, epochs=1 + TIMED_EPOCHS, steps_per_epoch=steps, verbose=0, callbacks=[EpochTimer()]
    )
    print("MS_PER_STEP " + " ".join(f"{1000 * s / steps:.1f}" for s in seconds[1:]), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--steps", type=int, default=25, help="steps per epoch")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two variants")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.preset, args.steps)
        return 0

    times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for round_index in range(args.rounds):
        for variant in VARIANTS:
            command = [sys.executable, __file__, "--child", variant, "--preset", args.preset]
            command += ["--steps", str(args.steps)]
            env = dict(os.environ, KERAS_BACKEND="tensorflow", PYTHONPATH=str(REPO))
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("MS_PER_STEP")]
            if done.returncode != 0 or not lines:
                print(done.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"the {variant} run failed (exit {done.returncode})")
            epochs = [float(v) for v in lines[-1].split()[1:]]
            times[variant] += epochs
            failed = "remapper failed" in done.stderr
            print(
                f"round {round_index + 1} {variant:6s} ms/step "
                + " ".join(f"{v:.0f}" for v in epochs)
                + f"  (grappler remapper {'FAILED' if failed else 'ok'})",
                flush=True,
            )
    medians = {variant: statistics.median(values) for variant, values in times.items()}
    for variant, value in medians.items():
        print(f"{variant:6s} median {value:.0f} ms/step over {len(times[variant])} epochs")
    print(f"ratio keras/select: {medians['keras'] / medians['select']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
