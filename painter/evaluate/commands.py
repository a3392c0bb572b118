"""`python -m painter evaluate`: FID / MiFID of generated images against the real ones, as JSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from painter.errors import ConfigError
from painter.runtime import select_runtime


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `evaluate` to `python -m painter`."""
    parser = subparsers.add_parser(
        "evaluate",
        help="FID and MiFID (Kaggle's formula) of generated images against real ones",
        description="Print JSON with fid, memorization_distance (raw and thresholded at 0.1), "
        "mifid and the image counts. Features: Inception-v3's 2,048-value pool layer with "
        "Keras' ImageNet weights (these differ from the 2015 graph Kaggle uses, so numbers differ "
        "somewhat from the leaderboard), or --model.",
    )
    parser.add_argument(
        "--generated", required=True, help="images.zip or a folder of generated JPG/PNG images"
    )
    parser.add_argument(
        "--real",
        required=True,
        help="the real images: a folder of JPG/PNG or of TFRecords "
        "(e.g. monet_jpg/ or monet_tfrec/)",
    )
    parser.add_argument(
        "--weights",
        help="InceptionV3 no-top ImageNet weights file (inception_v3_weights_tf_dim_ordering_"
        "tf_kernels_notop.h5), or a folder holding it (e.g. a Kaggle input)",
    )
    parser.add_argument(
        "--model", help="a .keras feature model to use instead of Inception (gets 0-255 pixels)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")
    parser.add_argument("--limit", type=int, help="use at most N images from each side")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(func=run_evaluate)


def _select_runtime() -> None:
    # The backend is chosen before Keras is imported (painter.evaluate.features imports it).
    select_runtime()


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of `evaluate`: prints the scores as JSON on stdout; returns the exit code."""
    if args.weights and args.model:
        raise ConfigError("give --weights (Inception) or --model (your own), not both.")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1; got {args.batch_size}.")
    # stdout carries only the JSON: the runtime's line and Keras' download messages go to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        _select_runtime()
        from painter.evaluate.mifid import evaluate  # scipy: loaded only when evaluating

        scores = evaluate(
            args.generated,
            args.real,
            weights=args.weights,
            model=args.model,
            batch_size=args.batch_size,
            limit=args.limit,
            progress=not args.quiet,
        )
    print(json.dumps(scores, indent=2))
    return 0
