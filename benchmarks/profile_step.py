"""Where painter's TensorFlow training step spends its time, and the fused Adam A/B.

Profile (default): one network setup's step is traced by TensorFlow's profiler for `--steps`
steps (after 5 untimed ones), and the op time on TensorFlow's executor threads is summed by op
type and by group (convolutions, instance norms, optimizer, other), per step; the ops' time is
summed over threads, so it can exceed the step's wall time.

A/B (`--ab`): the same step with keras' Adam and with painter's (`painter.cyclegan.optimizer.Adam`:
TensorFlow's fused ResourceApplyAdam), interleaved `--rounds` times in one process, medians; ends
`ratio keras/painter Adam: R`.

Setups: `starter` (the starter's U-Net with transposed convolutions + PatchGAN, 64 px, 32 filters,
BCE, no pool: bench_train_step.py's), `cpu-small` (the preset), `resnet` (cpu-small with the
ResNet, R1 off: bench_train_step.py's ResNet row).

    python benchmarks/profile_step.py --setup starter --batch 4          # float32
    python benchmarks/profile_step.py --setup starter --batch 4 --bf16   # mixed_bfloat16
    python benchmarks/profile_step.py --ab --setup starter --batch 1 --rounds 3
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ["KERAS_BACKEND"] = "tensorflow"


def setup_config(name: str, batch: int, bf16: bool):
    import bench_train_step

    from painter.config import preset

    if name == "starter":
        arguments = argparse.Namespace(size=64, filters=32, pool_size=0)
        config = bench_train_step.unet_config(arguments)
    elif name == "cpu-small":
        config = preset("cpu-small")
    else:
        config = bench_train_step.resnet_config()
    return config.replace(global_batch_size=batch, mixed_precision=bf16)


def op_group(op_type: str, op_name: str) -> str:
    if "Conv2D" in op_type:
        return "convolutions"
    if "_norm" in op_name:
        return "instance norms"
    if "Adam" in op_type or "adam" in op_name:
        return "optimizer"
    return "other"


def profile(config, steps: int, setup: str) -> None:
    import numpy as np
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    from painter.cyclegan.model import build_cyclegan

    batch = config.global_batch_size
    model = build_cyclegan(config, steps_per_epoch=100)
    rng = np.random.default_rng(0)
    shape = (batch, config.image_size, config.image_size, 3)
    pair = tuple(rng.uniform(-1, 1, shape).astype("float32") for _ in range(2))
    dataset = tf.data.Dataset.from_tensors(pair).repeat()
    model.fit(dataset, steps_per_epoch=5, epochs=1, verbose=0)  # trace + warm up
    logdir = tempfile.mkdtemp()
    start = time.perf_counter()
    tf.profiler.experimental.start(logdir)
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    tf.profiler.experimental.stop()
    wall = (time.perf_counter() - start) / steps
    space = xplane_pb2.XSpace()
    space.ParseFromString(
        Path(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0]).read_bytes()
    )
    by_type: collections.Counter = collections.Counter()
    by_group: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    for plane in space.planes:
        metadata = plane.event_metadata
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the executor's threads: one op each
                continue
            for event in line.events:
                name = metadata[event.metadata_id].name
                op_type = name.split(":")[-1]
                if op_type == "Process" or ":" not in name:  # the executor's own spans
                    continue
                ms = event.duration_ps / 1e9
                by_type[op_type] += ms
                by_group[op_group(op_type, name)] += ms
                calls[op_type] += 1
    total = sum(by_type.values())
    print(
        f"{setup} setup, batch {config.global_batch_size}, "
        f"{'bfloat16' if config.mixed_precision else 'float32'}: {wall * 1e3:.0f} ms/step under "
        f"the profiler; op time {total / steps:.0f} ms/step (summed over threads)"
    )
    for group, ms in by_group.most_common():
        print(f"  {group:16s} {ms / steps:7.1f} ms/step {100 * ms / total:5.1f}%")
    print("  top op types:")
    for op_type, ms in by_type.most_common(12):
        per_step = calls[op_type] // steps
        print(f"    {op_type:36s} {ms / steps:7.1f} ms/step {100 * ms / total:5.1f}%  x{per_step}")


def time_step(config, steps: int) -> float:
    import bench_train_step

    return bench_train_step.time_painter(config, config.global_batch_size, steps, False)["seconds"]


def ab(config, steps: int, rounds: int) -> None:
    import keras

    import painter.cyclegan.model as cyclegan_model
    from painter.cyclegan.optimizer import Adam

    optimizers = {"keras": keras.optimizers.Adam, "painter": Adam}
    seconds: dict[str, list[float]] = {name: [] for name in optimizers}
    for round_index in range(rounds):
        order = list(optimizers) if round_index % 2 == 0 else list(optimizers)[::-1]
        for name in order:
            cyclegan_model.Adam = optimizers[name]  # what default_optimizer builds
            seconds[name].append(time_step(config, steps))
            print(f"  round {round_index}: {name} Adam {seconds[name][-1] * 1e3:.1f} ms/step")
    cyclegan_model.Adam = Adam
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, median in medians.items():
        print(f"{name} Adam: {median * 1e3:.1f} ms/step (median of {rounds})")
    print(f"ratio keras/painter Adam: {medians['keras'] / medians['painter']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setup", choices=("starter", "cpu-small", "resnet"), default="starter")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--bf16", action="store_true", help="mixed_precision (bfloat16 compute)")
    parser.add_argument("--steps", type=int, default=10, help="profiled (or timed) steps")
    parser.add_argument("--ab", action="store_true", help="keras' Adam vs painter's, timed")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds")
    args = parser.parse_args()
    config = setup_config(args.setup, args.batch, args.bf16)
    if args.ab:
        ab(config, args.steps, args.rounds)
    else:
        profile(config, args.steps, args.setup)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
