"""`python -m painter train` (the demo's verb is in `painter.demo`).

Parsing loads no Keras (nor anything slow to import): the handlers import what they run, and
select the runtime (inside `train`) before Keras is imported. A command-line handler is the layer
above every area: `train` reserves the time to write
images.zip with the submission's measured estimate (`painter.submission.submission_reserve`).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` to `python -m painter`."""
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
    add_set_option(train)
    train.set_defaults(func=_train)


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """`--set KEY=VALUE ...` (repeatable): config overrides, read with `flatten(args.overrides)`."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config fields, e.g. --set epochs=10 generator_lr=1e-4",
    )


def flatten(groups: list[list[str]]) -> list[str]:
    """The `--set` groups as one list of KEY=VALUE strings."""
    return [item for group in groups for item in group]


def _train(args: argparse.Namespace) -> int:
    from painter.config import preset
    from painter.submission.submitter import submission_reserve
    from painter.training.train import train

    config = preset(args.config).with_overrides(flatten(args.overrides))
    # Keras' progress bar on a terminal; in logs (CI, nohup) painter's one line per epoch.
    verbose = 1 if sys.stdout.isatty() else 0
    result = train(
        config,
        args.workdir,
        data=args.data,
        monet=args.monet,
        photo=args.photo,
        submission_estimate=submission_reserve(config),
        verbose=verbose,
    )
    planned = config.epochs or f"{result.planned_epochs or '?'} planned"
    print(
        f"done: {result.epochs_done}/{planned} epochs in {result.workdir}"
        + (f" (stopped early: {result.stop_reason})" if result.stop_reason else "")
    )
    if result.generator_path is not None:
        print(f"generator: {result.generator_path}")
    return 0
