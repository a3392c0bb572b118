"""`python -m painter <verb>`: the command line over every capability.

Each area registers its own verbs (`register(subparsers)` in its `commands` module) so this file
only dispatches. Handlers return an exit code; a PainterError becomes `error: ...` and exit 1,
never a bare traceback. Keras is imported by handlers only, after the runtime is chosen.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from painter import __version__
from painter.errors import PainterError

# Areas in the order `--help` lists them.
COMMAND_MODULES = (
    "painter.data.commands",  # data inspect | convert | preview
    "painter.training.commands",  # train
    "painter.demo.commands",  # demo (above training and submission: it uses both)
    "painter.submission.commands",  # submit, validate, stylize
    "painter.evaluate.commands",  # evaluate
    "painter.kaggle.commands",  # kaggle build
    "painter.serve.commands",  # serve (the web page and HTTP API)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m painter",
        description="Turn photos into paintings with a CycleGAN: data, training, submission, "
        "evaluation and the Kaggle notebook.",
    )
    parser.add_argument("--version", action="version", version=f"painter {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PainterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished work (checkpoints, written files) is kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
