"""MiFID's math at the competition's size: 10,000 generated x 7,038 real features of 2,048 values.

Prints the seconds of each step (covariances + matrix square root, memorization distance) and the
peak memory each step allocates beyond the features (tracemalloc), to show the chunked cosine
distance never builds Kaggle's full 10,000 x 7,038 matrix (563 MB in float64).

    python benchmarks/bench_mifid.py                     # the competition's size
    python benchmarks/bench_mifid.py --generated 2000 --real 1000 --dim 512   # quick
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numpy as np

from painter.evaluate import mifid


def peak_mb() -> float:
    """Peak numpy/Python allocation since the last call, in MiB (numpy reports to tracemalloc)."""
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.reset_peak()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generated", type=int, default=10_000)
    parser.add_argument("--real", type=int, default=7_038)
    parser.add_argument("--dim", type=int, default=2_048)
    parser.add_argument("--chunk-rows", type=int, default=mifid.DEFAULT_CHUNK_ROWS)
    args = parser.parse_args()

    tracemalloc.start()
    rng = np.random.default_rng(0)
    # Inception's pool features are non-negative (post-ReLU averages): gamma-distributed stand-ins
    generated = rng.gamma(1.0, 0.3, size=(args.generated, args.dim))
    real = rng.gamma(1.0, 0.3, size=(args.real, args.dim))
    peak_mb()  # reset: generating the stand-ins is not measured
    after_features_now = tracemalloc.get_traced_memory()[0] / 2**20  # what the features hold

    start = time.perf_counter()
    fid = mifid.fid_from_features(generated, real)
    fid_seconds = time.perf_counter() - start
    after_fid = peak_mb()
    start = time.perf_counter()
    distance = mifid.memorization_distance(generated, real, chunk_rows=args.chunk_rows)
    distance_seconds = time.perf_counter() - start
    full_matrix_mb = args.generated * args.real * 8 / 2**20
    print(
        json.dumps(
            {
                "shape": [args.generated, args.real, args.dim],
                "fid": round(fid, 4),
                "memorization_distance": round(distance, 6),
                "fid_seconds": round(fid_seconds, 2),
                "distance_seconds": round(distance_seconds, 2),
                "features_mb": round(after_features_now),
                "peak_mb_during_fid": round(after_fid - after_features_now),
                "peak_mb_during_distance": round(peak_mb() - after_features_now),
                "full_distance_matrix_mb_avoided": round(full_matrix_mb),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
