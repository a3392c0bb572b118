"""A preset's training step beside variants of it: seconds a step, interleaved, medians.

cpu-small's hour is bound by its steps, so a recipe that changes the step's cost is worth its
steps an hour as much as its painting at equal steps (bench_quality.py). Each variant is the
preset with `key=value` overrides (the `--set` syntax of `python -m painter train`); every round
times each variant in turn (`bench_train_step.time_painter`: `model.fit` on one fixed random
batch, after two untimed steps), and the medians over rounds are reported with each variant's
ratio to the first.

    python benchmarks/step_variants.py --variant unet: --variant resnet6:generator=resnet \\
        --variant resnet4:generator=resnet,resnet_blocks=4        # stop 47: 187 / 476 / 348 ms

Prints one line per round and variant, then `variant NAME: S ms a step (R x the first)`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_variant(text: str) -> tuple[str, list[str]]:
    """`name:key=value,key=value` -> (name, ["key=value", ...]); `name:` is the preset itself."""
    name, sep, assignments = text.partition(":")
    if not sep or not name:
        raise SystemExit(
            f"--variant takes NAME:key=value,... (NAME: alone for the preset). Received: {text!r}"
        )
    return name, [a for a in assignments.split(",") if a]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="cpu-small", help="the preset the variants change")
    parser.add_argument(
        "--variant",
        action="append",
        required=True,
        help="NAME:key=value,... (repeat; the first is the baseline of the ratios)",
    )
    parser.add_argument("--batch", type=int, default=0, help="0 = the preset's global batch")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from bench_train_step import time_painter

    from painter.config import preset
    from painter.errors import ConfigError

    base = preset(args.config)
    variants = {}
    for text in args.variant:
        name, assignments = parse_variant(text)
        try:
            variants[name] = base.with_overrides(assignments)
        except ConfigError as error:
            raise SystemExit(f"--variant {text!r}: {error}") from None
    batch = args.batch or base.global_batch_size
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(args.rounds):
        for name, config in variants.items():
            timing = time_painter(config, batch, args.steps, count_flops=False)
            seconds[name].append(timing["seconds"])
            print(f"round {round_index} {name}: {1000 * timing['seconds']:.1f} ms", flush=True)
    first = statistics.median(next(iter(seconds.values())))
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"variant {name}: {1000 * median:.1f} ms a step ({median / first:.2f} x the first)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
