"""`python -m painter train` and `python -m painter demo`.

Parsing loads no Keras: the handlers select the runtime (inside `train`) before Keras is imported.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` and `demo` to `python -m painter`."""
    train = subparsers.add_parser(
        "train",
        help="train (or resume) a CycleGAN in a workdir",
        description="Train a CycleGAN from a preset or config file. The workdir holds config.json, "
        "checkpoints (one per epoch, the last few kept), history.json, samples/, loss_curves.png "
        "and monet_generator.keras; running the same command again resumes from the last "
        "complete checkpoint.",
    )
    train.add_argument(
        "--config",
        required=True,
        metavar="PRESET",
        help="a preset (kaggle-tpu, gpu, cpu-small, smoke, demo) or a .json/.yaml config file",
    )
    train.add_argument(
        "--data",
        metavar="DIR",
        help="a folder in Kaggle's layout (monet_tfrec/ + photo_tfrec/, or *_jpg/)",
    )
    train.add_argument("--monet", metavar="DIR", help="the paintings (TFRecords or images)")
    train.add_argument("--photo", metavar="DIR", help="the photos (TFRecords or images)")
    train.add_argument("--workdir", required=True, metavar="DIR", help="where the run lives")
    _add_set(train)
    train.set_defaults(func=_train)

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
    _add_set(demo)
    demo.set_defaults(func=_demo)


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config fields, e.g. --set epochs=10 generator_lr=1e-4",
    )


def _flatten(groups: list[list[str]]) -> list[str]:
    return [item for group in groups for item in group]


def _train(args: argparse.Namespace) -> int:
    from painter.config import preset
    from painter.training.train import train

    config = preset(args.config).with_overrides(_flatten(args.overrides))
    # Keras' progress bar on a terminal; in logs (CI, nohup) painter's one line per epoch.
    verbose = 1 if sys.stdout.isatty() else 0
    result = train(
        config, args.workdir, data=args.data, monet=args.monet, photo=args.photo, verbose=verbose
    )
    planned = config.epochs or f"{result.planned_epochs or '?'} planned"
    print(
        f"done: {result.epochs_done}/{planned} epochs in {result.workdir}"
        + (f" (stopped early: {result.stop_reason})" if result.stop_reason else "")
    )
    if result.generator_path is not None:
        print(f"generator: {result.generator_path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import os

    # The demo's output is for people reading it: no TensorFlow C++ info lines (set before TF loads).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from painter.training.demo import run_demo

    run_demo(args.workdir, data=args.data, minutes=args.minutes, overrides=_flatten(args.overrides))
    return 0
