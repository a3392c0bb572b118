"""`python -m painter data inspect | convert | preview`.

Handlers import TensorFlow (never Keras) when they run, so parsing the command line stays light.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `data` and its verbs to `python -m painter`."""
    data = subparsers.add_parser(
        "data",
        help="inspect, convert and preview training data",
        description="Look at, convert and preview training images (TFRecords or image folders).",
    )
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])
    verbs = data.add_subparsers(dest="data_command", metavar="<verb>")

    inspect = verbs.add_parser(
        "inspect",
        help="print a JSON summary of data (exit 1 if anything is wrong)",
        description="Print ONE JSON object: images per target, files with record counts, image "
        "shapes and problems found. Exit 1 when a path is bad or a problem is found.",
    )
    inspect.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="TFRecord/image files or folders, or Kaggle's gan-getting-started folder",
    )
    inspect.add_argument(
        "--image-size", type=int, default=None, help="also flag images smaller than this crop"
    )
    inspect.add_argument(
        "--quick", action="store_true", help="read headers only; do not decode pixels"
    )
    inspect.set_defaults(func=_inspect)

    convert = verbs.add_parser(
        "convert",
        help="write an image folder as TFRecords in the competition's format",
        description="Image folder -> TFRecords named like Kaggle's (photo00-352.tfrec). RGB JPEGs "
        "already at the size are stored byte for byte; others are converted, resized (shorter "
        "side), "
        "centre-cropped and re-encoded. A rerun keeps finished files.",
    )
    convert.add_argument("src", metavar="SRC", help="folder of JPEG/PNG images")
    convert.add_argument("out", metavar="OUT", help="output folder")
    convert.add_argument(
        "--target", required=True, help="the `target` feature, e.g. photo or monet"
    )
    convert.add_argument(
        "--records-per-file",
        type=int,
        default=352,
        help="records per file (default 352, like Kaggle's photo files)",
    )
    convert.add_argument("--image-size", type=int, default=256, help="square size (default 256)")
    convert.add_argument(
        "--skip-bad-records",
        action="store_true",
        help="skip unreadable images (counted and listed) instead of stopping",
    )
    convert.set_defaults(func=_convert)

    preview = verbs.add_parser(
        "preview",
        help="draw augmented samples next to their originals",
        description="Save a PNG grid: random images from PATH, each with augmented versions.",
    )
    preview.add_argument("path", metavar="PATH", help="TFRecords or image folder (or file)")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.add_argument("--count", type=int, default=8, help="images (rows), default 8")
    preview.add_argument(
        "--config",
        default="kaggle-tpu",
        help="preset name or .json/.yaml config (default kaggle-tpu)",
    )
    preview.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field (repeatable)",
    )
    preview.add_argument("--seed", type=int, default=0, help="which images and which draws")
    preview.add_argument(
        "--skip-bad-records",
        action="store_true",
        help="skip unreadable records instead of stopping",
    )
    preview.set_defaults(func=_preview)


def _inspect(args: argparse.Namespace) -> int:
    from painter.data.inspect import inspect_paths

    summary = inspect_paths(args.paths, image_size=args.image_size, decode=not args.quick)
    print(json.dumps(summary, indent=2))
    if not summary["ok"]:
        first = summary["problems"][0]
        print(
            f"error: {len(summary['problems'])} problem(s) found; first: {first['where']}: "
            f"{first['problem']}",
            file=sys.stderr,
        )
        return 1
    return 0


def _convert(args: argparse.Namespace) -> int:
    from painter.data.tfrecord import write_tfrecords

    report = write_tfrecords(
        args.src,
        args.out,
        args.target,
        args.records_per_file,
        image_size=args.image_size,
        skip_bad_records=args.skip_bad_records,
        log=lambda message: print(message, flush=True),
    )
    print(
        f"{report.records} records in {len(report.files)} file(s) in {args.out}: "
        f"{len(report.written)} written, {len(report.kept)} kept from an earlier run; "
        f"{report.copied} JPEGs stored as they were, {report.reencoded} re-encoded"
    )
    if report.read.skipped:
        print(f"skipped {len(report.read.skipped)} bad image(s): {report.read.summary()}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from painter.config import preset
    from painter.data.preview import save_preview
    from painter.errors import PainterError

    config = preset(args.config).with_overrides(args.set)
    if args.skip_bad_records:
        config = config.replace(skip_bad_records=True)
    if args.count <= 0:
        raise PainterError(f"--count must be positive. Received: {args.count}")
    path = save_preview(args.path, args.out, config=config, count=args.count, seed=args.seed)
    print(f"wrote {path}")
    return 0
