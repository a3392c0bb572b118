"""Command-line verbs of the submission area: `submit`, `validate`, `stylize`.

`validate` uses plain zipfile + PIL (no Keras, no TensorFlow: it answers in about a second).
`submit` and `stylize` choose the runtime first, then load the workdir's generator; their
handlers import the writer and stylize when they run, so parsing stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from painter.config import Config
from painter.errors import PainterError
from painter.runtime import select_runtime
from painter.submission.validate import (
    MAX_COUNT,
    MIN_COUNT,
    SUBMISSION_IMAGE_SIZE,
    validate_submission,
)
from painter.training.checkpoint import GENERATOR_FILE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `submit`, `validate` and `stylize` to `python -m painter`."""
    submit = subparsers.add_parser(
        "submit",
        help="paint every photo and write images.zip (batched, streamed, validated)",
        description="Run the workdir's photo->Monet generator over the photos and write the "
        "competition's images.zip: batched inference on every replica, JPEG encoding in parallel, "
        "streamed into the zip under a temporary name, validated, then renamed.",
    )
    submit.add_argument(
        "--workdir", required=True, help=f"training workdir (holds {GENERATOR_FILE})"
    )
    submit.add_argument(
        "--photos", required=True, help="folder of photos (.jpg/.png) or .tfrec files"
    )
    submit.add_argument(
        "--out", default="images.zip", help="the zip to write (default: images.zip)"
    )
    submit.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="images per generator call (default: the config's submission_batch_size)",
    )
    submit.add_argument(
        "--fill-to",
        type=int,
        default=None,
        help="with fewer photos than --min-count, add flipped/rotated test-time "
        "variants until the zip holds this many images",
    )
    submit.add_argument(
        "--min-count", type=int, default=MIN_COUNT, help=f"fewest images allowed ({MIN_COUNT})"
    )
    submit.add_argument(
        "--max-count", type=int, default=MAX_COUNT, help=f"most images allowed ({MAX_COUNT})"
    )
    submit.add_argument(
        "--image-size",
        type=int,
        default=SUBMISSION_IMAGE_SIZE,
        help=f"side of the written images (the competition's {SUBMISSION_IMAGE_SIZE}); a generator "
        "trained at another size paints at its own size, resized in and out",
    )
    submit.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    submit.set_defaults(func=run_submit)

    validate = subparsers.add_parser(
        "validate",
        help="check an images.zip against the competition's rules",
        description="Check a zip: 7,000-10,000 entries, each a decodable 256x256 RGB JPEG, unique "
        "names, nothing else. Exit 0 with a one-line summary, or 1 listing every violation.",
    )
    validate.add_argument("zip", help="the images.zip to check")
    validate.add_argument(
        "--min-count", type=int, default=MIN_COUNT, help=f"fewest images allowed ({MIN_COUNT})"
    )
    validate.add_argument(
        "--max-count", type=int, default=MAX_COUNT, help=f"most images allowed ({MAX_COUNT})"
    )
    validate.add_argument(
        "--image-size",
        type=int,
        default=SUBMISSION_IMAGE_SIZE,
        help=f"required side ({SUBMISSION_IMAGE_SIZE})",
    )
    validate.set_defaults(func=run_validate)

    stylize = subparsers.add_parser(
        "stylize",
        help="paint photos of any size with the workdir's generator",
        description="Paint photos of any size and aspect (EXIF orientation respected, any color "
        "mode) with the workdir's generator; each output has its input's size.",
    )
    stylize.add_argument("images", nargs="+", help="photos to paint")
    stylize.add_argument(
        "--workdir", required=True, help=f"training workdir (holds {GENERATOR_FILE})"
    )
    stylize.add_argument("--out", required=True, help="output folder")
    stylize.add_argument(
        "--tile",
        type=int,
        default=1024,
        help="paint images with a side above this in overlapping tiles (1024)",
    )
    stylize.add_argument("--overlap", type=int, default=64, help="tile overlap in pixels (64)")
    stylize.add_argument(
        "--suffix",
        choices=(".png", ".jpg"),
        default=None,
        help="output format (default: the input's, PNG for other formats)",
    )
    stylize.set_defaults(func=run_stylize)


def run_validate(args: argparse.Namespace) -> int:
    report = validate_submission(
        args.zip, min_count=args.min_count, max_count=args.max_count, image_size=args.image_size
    )
    print(report.summary())
    for violation in report.violations:
        print(f"  {violation}")
    return 0 if report.ok else 1


def run_submit(args: argparse.Namespace) -> int:
    config, runtime = _start(args.workdir)
    from painter.submission import submitter

    photos = Path(args.photos)
    if not photos.exists():
        raise PainterError(f"--photos {photos}: no such file or folder")
    batch_size = args.batch_size or (config.submission_batch_size if config else 64)
    if args.image_size <= 0:
        raise PainterError(f"--image-size must be positive. Received: {args.image_size}")
    if batch_size <= 0:
        raise PainterError(f"--batch-size must be positive. Received: {batch_size}")
    with runtime.scope():
        report = submitter.submit(
            args.workdir,
            photos,
            args.out,
            # a generator trained at 64 px paints at 64 px, resized in and out
            train_size=config.image_size if config is not None else None,
            image_size=args.image_size,
            batch_size=batch_size,
            min_count=args.min_count,
            max_count=args.max_count,
            fill_to=args.fill_to,
            progress=not args.no_progress,
        )
    print(report.summary())
    print(report.validation.summary())
    return 0


def run_stylize(args: argparse.Namespace) -> int:
    _, runtime = _start(args.workdir)
    from painter.submission import submitter
    from painter.submission.stylize import stylize

    with runtime.scope():
        generator = submitter.load_generator(args.workdir)
        written = stylize(
            generator,
            args.images,
            args.out,
            tile=args.tile,
            overlap=args.overlap,
            suffix=args.suffix,
        )
    for path in written:
        print(f"wrote {path}")
    return 0


def _start(workdir: str) -> tuple[Any, Any]:
    """The workdir's config (None if it has no config.json) and the selected runtime, chosen
    before Keras is imported."""
    workdir_path = Path(workdir)
    if not workdir_path.is_dir():
        raise PainterError(f"--workdir {workdir}: no such folder; pass a training workdir")
    config = None
    if (workdir_path / "config.json").is_file():
        config = Config.load(workdir_path / "config.json")
    if config is not None:
        runtime = select_runtime(backend=config.backend, distribution=config.distribution)
    else:
        runtime = select_runtime()
    return config, runtime
