"""`bench_train_step.interleave`, the timing loop behind the step benchmark's ratios: each round
times one block of every runner, alternating the order, so that a ratio of two runners within a
round cancels how fast the shared machine happens to be that round."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_train_step  # noqa: E402


def test_rounds_alternate_the_order_and_a_paired_ratio_cancels_the_drift():
    now, calls = [0.0], []
    cost = {"starter": 3.0, "painter": 2.0}
    warmup = len(cost)

    def block(name):
        def run():
            calls.append(name)
            # The machine slows down round by round (the warm-up calls run at round 0's speed).
            round_index = max(0, len(calls) - 1 - warmup) // len(cost)
            now[0] += cost[name] * (1 + round_index)

        return run

    seconds = bench_train_step.interleave(
        {name: block(name) for name in cost}, rounds=4, clock=lambda: now[0]
    )
    forward, backward = ["starter", "painter"], ["painter", "starter"]
    assert calls == forward + forward + backward + forward + backward  # warm-up, then 4 rounds
    assert seconds["starter"] == [3.0, 6.0, 9.0, 12.0]  # each round's block alone drifts 4x
    ratios = [s / p for s, p in zip(seconds["starter"], seconds["painter"], strict=True)]
    assert ratios == [1.5] * 4
