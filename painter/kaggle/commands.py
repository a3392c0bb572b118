"""`python -m painter kaggle build | check`: the pushable notebook and its kernel-metadata.json."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `kaggle build` and `kaggle check` to `python -m painter`."""
    kaggle = subparsers.add_parser(
        "kaggle",
        help="build the Kaggle notebook (painter embedded) and its kernel-metadata.json",
        description="The notebook carries the painter package (Kaggle uploads only the notebook "
        "and runs it with internet off).",
    )
    verbs = kaggle.add_subparsers(dest="kaggle_command", metavar="<verb>")

    build = verbs.add_parser(
        "build",
        help="write a folder for `kaggle kernels push -p DIR`, or refresh notebook.ipynb",
        description="Embed the current painter package into the notebook. With --out: write "
        "DIR/notebook.ipynb and DIR/kernel-metadata.json (push with `kaggle kernels push -p DIR`). "
        "With --in-place: refresh the repository's notebook.ipynb after painter/ changed.",
    )
    target = build.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="DIR", help="folder to write the pushable kernel into")
    target.add_argument(
        "--in-place",
        action="store_true",
        help="re-embed the package into the notebook itself (outputs cleared)",
    )
    build.add_argument(
        "--id",
        dest="kernel_id",
        metavar="OWNER/SLUG",
        help="your kernel's id (default: the placeholder "
        "YOUR-KAGGLE-USERNAME/painter-monet-cyclegan)",
    )
    build.add_argument(
        "--title",
        help="kernel title; must resolve to the slug (default: the slug's words, capitalised)",
    )
    build.add_argument(
        "--notebook",
        metavar="PATH",
        help="the notebook to embed into (default: the repository's notebook.ipynb)",
    )
    build.set_defaults(func=_build)

    check = verbs.add_parser(
        "check",
        help="exit 1 when a notebook's embedded painter differs from painter/, it holds outputs, "
        "or the kernel-metadata.json beside it lacks a setting a submission run needs",
    )
    check.add_argument(
        "notebook", nargs="?", metavar="NOTEBOOK", help="default: the repository's notebook.ipynb"
    )
    check.set_defaults(func=_check)

    kaggle.set_defaults(func=lambda args: kaggle.print_help() or 2)


def _build(args: argparse.Namespace) -> int:
    from painter.kaggle import build

    if args.in_place:
        if args.kernel_id or args.title:
            from painter.errors import PainterError

            raise PainterError(
                "--id and --title go with --out (the id lives in "
                "kernel-metadata.json); --in-place only refreshes the notebook."
            )
        result = build.refresh_in_place(args.notebook)
        print(
            f"{result.notebook}: painter {result.package.version} embedded "
            f"({len(result.package.files)} files, sha256 {result.package.sha256[:12]})"
        )
        return 0
    result = build.build(
        args.out, kernel_id=args.kernel_id, title=args.title, notebook_path=args.notebook
    )
    print(
        f"{result.notebook}: painter {result.package.version} embedded "
        f"({len(result.package.files)} files, sha256 {result.package.sha256[:12]})"
    )
    assert result.metadata is not None  # build() always writes it (refresh_in_place() does not)
    kernel_id = json.loads(result.metadata.read_text())["id"]
    print(f"{result.metadata}: id {kernel_id}")
    print(f"push it: kaggle kernels push -p {result.notebook.parent}")
    return 0


def _check(args: argparse.Namespace) -> int:
    import sys

    from painter.kaggle import build

    report = build.check_notebook(args.notebook)
    if not report.ok:
        for problem in report.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    embedded = report.embedded
    assert embedded is not None  # a report without problems has read the embedded package
    metadata = report.notebook.parent / build.METADATA_NAME
    print(
        f"{report.notebook}: embeds the current painter {embedded.version} "
        f"(sha256 {embedded.sha256[:12]}); outputs cleared"
        + (f"; {metadata.name} fine" if metadata.is_file() else "")
    )
    return 0
