"""`python -m painter demo`. Parsing loads nothing heavy: the handler imports the demo (training,
the submission, scipy for the generated data) when it runs."""

from __future__ import annotations

import argparse
import os

from painter.training.commands import add_set_option, flatten


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `demo` to `python -m painter`."""
    demo = subparsers.add_parser(
        "demo",
        help="the whole job in minutes on a CPU, on generated data (no download)",
        description="Generate a small two-domain data set (photos and 'paintings'), write it as "
        "TFRecords, train the `demo` preset under a time budget, write and validate images.zip.",
    )
    demo.add_argument(
        "--workdir",
        default="demo-workdir",
        metavar="DIR",
        help="where data, run and images.zip go (default: demo-workdir)",
    )
    demo.add_argument(
        "--data", metavar="DIR", help="real data in Kaggle's layout instead of the generated set"
    )
    demo.add_argument(
        "--minutes",
        type=float,
        metavar="M",
        help="time budget for the whole demo, images.zip included (default: the "
        "demo preset's session_limit_minutes)",
    )
    add_set_option(demo)
    demo.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # The demo's output is for people reading it: no TensorFlow C++ info lines (set before TF
    # loads).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from painter.demo.run import run_demo

    run_demo(args.workdir, data=args.data, minutes=args.minutes, overrides=flatten(args.overrides))
    return 0
