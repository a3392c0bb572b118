"""Where painter's training step spends its time (TensorFlow or JAX), and two A/Bs.

Profile (default): one network setup's step is traced by the backend's profiler for `--steps`
steps (after 5 untimed ones), and the op time is summed per step. TensorFlow: the executor
threads' ops, by op type and by group (convolutions, instance norms, optimizer, other). JAX
(`--backend jax`): XLA:CPU's compiled ops, by HLO name (`fusion.12` counts as `fusion`) and by
group: input-dilated convolutions (`convolution-base-dilated`: XLA:CPU's slow path, which a
transposed convolution and a strided convolution's input gradient take), other convolutions,
ops handed to XNNPACK's YNNPACK library (`ynn_fusion`), other. The ops' time is summed over
threads, so it can exceed the step's wall time.

A/B (`--ab`), interleaved `--rounds` times in one process, medians. TensorFlow: the step with
keras' Adam and with painter's (`painter.cyclegan.optimizer.Adam`: TensorFlow's fused
ResourceApplyAdam); ends `ratio keras/painter Adam: R`. JAX: the step with keras' transposed
convolution and with painter's (`PhaseConv2DTranspose`: four stride-1 convolutions on XLA:CPU);
ends `ratio keras/painter transposed convolution: R`. `--ab layers` (either backend): keras'
own convolutions in place of painter's U-Net layers (`PhaseConv2D`, `PhaseConv2DTranspose`: the
phases on XLA:CPU, the innermost level's matmul everywhere); ends
`ratio keras/painter U-Net convolutions: R`. `--ab small-maps` (TensorFlow): painter's layers
with keras' convolutions on the small maps too (`strided.SMALL_MAP_PIXELS`) against as shipped;
ends `ratio keras/painter small-map convolutions: R`.

By layer (`--by-layer`, TensorFlow): each convolution layer's op time (forward and both
gradients, both networks of its kind) beside its FLOPs in a step and the GFLOP/s that makes:
which layers run far below the rest (thin ones: 3 channels in or out).

Setups: `starter` (the starter's U-Net with transposed convolutions + PatchGAN, 64 px, 32 filters,
BCE, no pool: bench_train_step.py's), `cpu-small` (the preset), `resnet` (cpu-small with the
ResNet, R1 off: bench_train_step.py's ResNet row).

    python benchmarks/profile_step.py --setup starter --batch 4          # float32
    python benchmarks/profile_step.py --setup starter --batch 4 --bf16   # mixed_bfloat16
    python benchmarks/profile_step.py --ab --setup starter --batch 1 --rounds 3
    python benchmarks/profile_step.py --by-layer --setup resnet --batch 4
    python benchmarks/profile_step.py --backend jax --setup starter --batch 4
    python benchmarks/profile_step.py --backend jax --ab --setup starter --batch 4
    python benchmarks/profile_step.py --ab layers --setup starter --batch 4 [--backend jax]
    python benchmarks/profile_step.py --ab small-maps --setup starter --batch 4 [--bf16]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import glob
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


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


def jax_op_group(name: str) -> str:
    if name.startswith("convolution-base-dilated"):
        return "input-dilated convolutions"
    if "conv" in name:
        return "other convolutions"
    if name.startswith("ynn_fusion"):
        return "ynn_fusion (YNNPACK)"
    return "other"


def traced_op_times(config, steps: int, backend: str):
    """Trace `steps` fit steps of the config's step (after 5 untimed ones) with the backend's
    profiler. Returns (wall seconds a step, Counter op name -> ms, Counter op name -> calls, the
    model), over all steps; op names are TensorFlow's "scope/name:OpType" or XLA's HLO names
    without their number."""
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
    if backend == "jax":
        import jax

        profiler = jax.profiler.trace(logdir)
    else:
        profiler = tf.profiler.experimental.Profile(logdir)
    start = time.perf_counter()
    with profiler:
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    wall = (time.perf_counter() - start) / steps
    space = xplane_pb2.XSpace()
    space.ParseFromString(
        Path(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0]).read_bytes()
    )
    times: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    for plane in space.planes:
        metadata = plane.event_metadata
        for line in plane.lines:
            for event in line.events:
                name = metadata[event.metadata_id].name
                if backend == "jax":
                    # XLA's compiled ops run on its own threads; skip Python's spans and the
                    # executor's (ThunkExecutor::Execute, ...) and end markers.
                    if line.name.startswith("python") or "::" in name or name.startswith("end:"):
                        continue
                    op = re.sub(r"\.\d+$", "", name)
                else:
                    if not line.name.startswith("tf_Compute"):  # the executor's threads
                        continue
                    if ":" not in name or name.split(":")[-1] == "Process":
                        continue  # the executor's own spans
                    op = name  # "scope/op_name:OpType"
                times[op] += event.duration_ps / 1e9
                calls[op] += 1
    return wall, times, calls, model


def conv_layer_flops(model, config) -> dict[tuple[str, str], float]:
    """(network kind, layer name) -> the FLOPs of that convolution in one training step, both
    networks of the kind together: its forward FLOPs on one image x the images the kind sees in a
    step (bench_train_step's count) x 3 (forward, input gradient, kernel gradient); the U-Net's
    innermost level at the taps it multiplies (the layers' `innermost_level`)."""
    import bench_train_step
    import keras
    import numpy as np

    size = config.image_size
    generator_images, discriminator_images = bench_train_step.images_per_step(
        config, config.global_batch_size
    )
    images = {"generator": 2 * generator_images, "discriminator": 2 * discriminator_images}
    flops = {}
    for network, kind in (
        (model.monet_generator, "generator"),
        (model.monet_discriminator, "discriminator"),
    ):
        convs = [layer for layer in network.layers if isinstance(layer, keras.layers.Conv2D)]
        transposed = [
            layer for layer in network.layers if isinstance(layer, keras.layers.Conv2DTranspose)
        ]
        layers = convs + transposed
        probe = keras.Model(
            network.input, [x for layer in layers for x in (layer.input, layer.output)]
        )
        shapes = [tuple(x.shape) for x in probe(np.zeros((1, size, size, 3), "float32"))]
        for index, layer in enumerate(layers):
            inputs, outputs = shapes[2 * index], shapes[2 * index + 1]
            # a convolution's MACs sit at its output pixels; a transposed one's at its input's
            pixels = inputs[1] * inputs[2] if layer in transposed else outputs[1] * outputs[2]
            kernel = layer.kernel_size[0] * layer.kernel_size[1]
            if getattr(layer, "innermost_level", lambda _: False)(inputs):
                kernel = 4  # painter's U-Net layers: a matmul by the 2x2 taps that reach it
            forward = 2 * pixels * kernel * inputs[-1] * outputs[-1]
            flops[(kind, layer.name)] = 3 * forward * images[kind]
    return flops


def by_layer(config, steps: int, setup: str) -> None:
    """TensorFlow: each convolution layer's op time (every op in its scope: its forward and both
    gradients, both networks of its kind) beside its FLOPs: which layers run slowly."""
    wall, times, _, model = traced_op_times(config, steps, "tensorflow")
    flops = conv_layer_flops(model, config)
    layer_ms: collections.Counter = collections.Counter()
    for name, ms in times.items():
        # A network's and its layers' scopes carry a call count after the first call (`_1`)
        scope = re.sub(r"_\d+(?=/)", "", name)
        found = re.search(r"(?:monet|photo)_(generator|discriminator)/([^/]+)/", scope)
        # every op in a convolution layer's scope: Conv2D and its gradients, or the matmuls
        # and einsums of painter's innermost and small-map levels
        if found and (found.group(1), found.group(2)) in flops:
            layer_ms[(found.group(1), found.group(2))] += ms / steps
    total = sum(layer_ms.values())
    print(
        f"{setup} setup, batch {config.global_batch_size}: {wall * 1e3:.0f} ms/step under the "
        f"profiler; convolution layers {total:.0f} ms/step of op time (summed over threads); "
        "per layer, both networks of its kind, forward + both gradients:"
    )
    for (kind, layer), ms in layer_ms.most_common():
        step_flops = flops.get((kind, layer))
        rate = f"{step_flops / (ms / 1e3) / 1e9:6.1f} GFLOP/s" if step_flops else "   (no layer)"
        gflop = f"{step_flops / 1e9:6.2f} GFLOP" if step_flops else " " * 11
        print(
            f"  {kind[:13]:13s} {layer:24s} {ms:7.1f} ms/step {100 * ms / total:5.1f}%  "
            f"{gflop}  {rate}"
        )


def profile(config, steps: int, setup: str, backend: str) -> None:
    wall, times, calls, _ = traced_op_times(config, steps, backend)
    by_type: collections.Counter = collections.Counter()
    by_group: collections.Counter = collections.Counter()
    per_type_calls: collections.Counter = collections.Counter()
    for name, ms in times.items():
        op_type = name if backend == "jax" else name.split(":")[-1]
        group = jax_op_group(name) if backend == "jax" else op_group(op_type, name)
        by_type[op_type] += ms
        by_group[group] += ms
        per_type_calls[op_type] += calls[name]
    total = sum(by_type.values())
    print(
        f"{setup} setup on {backend}, batch {config.global_batch_size}, "
        f"{'bfloat16' if config.mixed_precision else 'float32'}: {wall * 1e3:.0f} ms/step under "
        f"the profiler; op time {total / steps:.0f} ms/step (summed over threads)"
    )
    for group, ms in by_group.most_common():
        print(f"  {group:28s} {ms / steps:7.1f} ms/step {100 * ms / total:5.1f}%")
    print("  top op types:" if backend != "jax" else "  top ops (HLO names):")
    for op_type, ms in by_type.most_common(12):
        per_step = per_type_calls[op_type] // steps
        print(f"    {op_type:36s} {ms / steps:7.1f} ms/step {100 * ms / total:5.1f}%  x{per_step}")


@contextlib.contextmanager
def no_small_maps() -> Iterator[None]:
    """painter's U-Net layers built and traced inside run keras' convolutions on the small maps
    too (`strided.SMALL_MAP_PIXELS` empty); the phases and the innermost matmul stay."""
    import painter.models.strided as strided

    saved, strided.SMALL_MAP_PIXELS = strided.SMALL_MAP_PIXELS, {}
    try:
        yield
    finally:
        strided.SMALL_MAP_PIXELS = saved


def time_step(config, steps: int) -> float:
    import bench_train_step

    return bench_train_step.time_painter(config, config.global_batch_size, steps, False)["seconds"]


def ab(config, steps: int, rounds: int, backend: str, kind: str) -> None:
    """keras' against painter's, each variant's step built, traced and timed in turn, `rounds`
    times: `kind` "adam" (TensorFlow), "transpose" (JAX: keras' transposed convolution),
    "layers" (either: keras' convolutions in place of painter's U-Net layers, `PhaseConv2D` and
    `PhaseConv2DTranspose`) or "small-maps" (TensorFlow: those layers without their small-map
    matmuls, `no_small_maps`)."""
    import bench_train_step
    import keras

    import painter.cyclegan.model as cyclegan_model
    from painter.cyclegan.optimizer import Adam

    @contextlib.contextmanager
    def keras_adam() -> Iterator[None]:
        cyclegan_model.Adam = keras.optimizers.Adam  # what default_optimizer builds
        try:
            yield
        finally:
            cyclegan_model.Adam = Adam

    if kind == "layers":
        what = "U-Net convolutions"
        variants = {"keras": bench_train_step.keras_convolutions}
    elif kind == "small-maps":
        what = "small-map convolutions"
        variants = {"keras": no_small_maps}
    elif kind == "transpose":
        what = "transposed convolution"
        variants = {"keras": bench_train_step.keras_transposed_convolutions}
    else:
        what = "Adam"
        variants = {"keras": keras_adam}
    variants["painter"] = contextlib.nullcontext
    names = ("keras", "painter")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            with variants[name]():
                seconds[name].append(time_step(config, steps))
            print(f"  round {round_index}: {name} {what} {seconds[name][-1] * 1e3:.1f} ms/step")
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, median in medians.items():
        print(f"{name} {what}: {median * 1e3:.1f} ms/step (median of {rounds})")
    print(f"ratio keras/painter {what}: {medians['keras'] / medians['painter']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow")
    parser.add_argument("--setup", choices=("starter", "cpu-small", "resnet"), default="starter")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--bf16", action="store_true", help="mixed_precision (bfloat16 compute)")
    parser.add_argument("--steps", type=int, default=10, help="profiled (or timed) steps")
    parser.add_argument(
        "--by-layer",
        action="store_true",
        help="TensorFlow: each convolution layer's op time, FLOPs and GFLOP/s",
    )
    parser.add_argument(
        "--ab",
        nargs="?",
        const="default",
        choices=("default", "adam", "transpose", "layers", "small-maps"),
        help="timed A/B, keras' vs painter's: adam (TensorFlow's default), transpose (the "
        "transposed convolution, JAX's default), layers (the U-Net's convolutions, either "
        "backend), small-maps (TensorFlow: painter's layers with and without the small-map "
        "matmuls)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds")
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend  # before anything imports Keras
    config = setup_config(args.setup, args.batch, args.bf16)
    if args.ab:
        kind = args.ab
        if kind == "default":
            kind = "transpose" if args.backend == "jax" else "adam"
        if (kind, args.backend) in {
            ("adam", "jax"),
            ("transpose", "tensorflow"),
            ("small-maps", "jax"),
        }:
            parser.error(f"--ab {kind} compares a {args.backend} path painter does not replace")
        ab(config, args.steps, args.rounds, args.backend, kind)
    elif args.by_layer:
        if args.backend != "tensorflow":
            parser.error("--by-layer reads TensorFlow's op names: use it with --backend tensorflow")
        by_layer(config, args.steps, args.setup)
    else:
        profile(config, args.steps, args.setup, args.backend)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
