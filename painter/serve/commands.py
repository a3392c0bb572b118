"""The `serve` verb: `python -m painter serve --painter NAME=WORKDIR_OR_FILE ...`.

Order, so that every mistake is reported before anything slow happens: parse and find every
painter file, bind the port, select the runtime (before Keras loads), load and try each painter,
then import Gradio and serve until Ctrl-C.
"""

from __future__ import annotations

import argparse

from painter.errors import PainterError
from painter.serve.painters import DEMO_GENERATOR, generator_file, parse_painter_option
from painter.serve.uploads import DEFAULT_MAX_MEGAPIXELS
from painter.serve.worker import DEFAULT_MAX_WAITING
from painter.submission.stylize import DEFAULT_OVERLAP, DEFAULT_TILE
from painter.training.checkpoint import GENERATOR_FILE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `serve` to `python -m painter`."""
    serve = subparsers.add_parser(
        "serve",
        help="a web page and HTTP API that paint uploaded photos",
        description="Serve a web page (upload a photo, pick a painter, download the painting at "
        "the photo's size) and an HTTP API beside it: POST /paint?painter=NAME with the image as "
        "the body returns a PNG; GET /painters lists the painters. Ctrl-C stops it.",
    )
    serve.add_argument(
        "--painter",
        action="append",
        metavar="NAME=WORKDIR_OR_FILE",
        help=f"a painter to serve: a training workdir (its {GENERATOR_FILE}) or a .keras file; "
        f"repeat for several (the first is the default). Default: the demo's {DEMO_GENERATOR} "
        "if `make demo` made it",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=7860,
        help="port to listen on (7860, Gradio's usual; 0 picks a free one)",
    )
    serve.add_argument(
        "--max-megapixels",
        type=float,
        default=DEFAULT_MAX_MEGAPIXELS,
        help=f"refuse larger photos, with a message saying so ({DEFAULT_MAX_MEGAPIXELS:g})",
    )
    serve.add_argument(
        "--tile",
        type=int,
        default=DEFAULT_TILE,
        help=f"paint photos with a side above this in overlapping tiles ({DEFAULT_TILE})",
    )
    serve.add_argument(
        "--overlap",
        type=int,
        default=DEFAULT_OVERLAP,
        help=f"tile overlap in pixels ({DEFAULT_OVERLAP})",
    )
    serve.add_argument(
        "--max-waiting",
        type=int,
        default=DEFAULT_MAX_WAITING,
        help="requests a painter holds at once (painting or queued); more get "
        f"503 'busy, retry' ({DEFAULT_MAX_WAITING})",
    )
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    if args.max_megapixels <= 0:
        raise PainterError(f"--max-megapixels must be positive. Received: {args.max_megapixels}")
    if args.max_waiting < 1:
        raise PainterError(f"--max-waiting must be at least 1. Received: {args.max_waiting}")
    if not 0 <= args.port <= 65535:
        raise PainterError(f"--port must be 0..65535. Received: {args.port}")
    for option in args.painter or ():  # a typo'd path fails now, not after loading Keras
        name, path = parse_painter_option(option)
        generator_file(path, name)

    from painter.serve.net import base_url, bind

    sock = bind(args.host, args.port)
    try:
        from painter.runtime import select_runtime

        runtime = select_runtime()
        from painter.serve.painters import load_painters

        with runtime.scope():
            painters, note = load_painters(
                args.painter,
                printer=lambda line: print(line, flush=True),  # logs piped too
                tile=args.tile,
                overlap=args.overlap,
                max_megapixels=args.max_megapixels,
                max_waiting=args.max_waiting,
            )
        from painter.serve.app import build_app
        from painter.serve.server import Server

        url = base_url(sock)
        server = Server(build_app(painters, url=url, note=note), sock)
    except BaseException:
        sock.close()
        raise
    if note:
        print(note, flush=True)
    print(
        f"serving {', '.join(painters)} at {url}/ (the page), POST {url}/paint?painter=NAME, "
        f"GET {url}/painters; Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        for painter in painters.values():
            painter.close()
    return 0
