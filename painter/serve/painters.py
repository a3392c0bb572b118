"""Painters: trained photo -> painting generators, loaded once, checked, and chosen by name.

A painter is named on the command line as `NAME=PATH`, PATH a training workdir (its
`monet_generator.keras`; the demo keeps it under `run/`) or a `.keras` file. Each one is loaded
and tried on a small photo before the server starts, so a missing or incompatible file stops
`serve` with an error naming the file instead of failing on the first visitor's request. A loaded
generator is wrapped as a `worker.Painter` (its FIFO queue); uploads are decoded by
`uploads.decode_photo`. Both are importable from here too, with the rest of a painter's API.

Keras is imported only inside `load_painter`, after the runtime is selected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from painter.errors import PainterError
from painter.serve.uploads import UploadError, decode_photo
from painter.serve.worker import Painter, Painting
from painter.submission.stylize import paint, size_multiple
from painter.training.checkpoint import GENERATOR_FILE

# Painter, Painting, UploadError and decode_photo have their homes in worker.py and uploads.py;
# a painter's whole API stays importable from here, where the tests import it.
__all__ = [
    "DEMO_GENERATOR",
    "DEMO_WORKDIR",
    "NAME_PATTERN",
    "Painter",
    "Painting",
    "UploadError",
    "check_generator",
    "choose_painter",
    "decode_photo",
    "generator_file",
    "load_painter",
    "load_painters",
    "parse_painter_option",
    "training_size",
]

DEMO_WORKDIR = Path("demo-workdir")  # what `make demo` writes (python -m painter demo's default)
DEMO_GENERATOR = DEMO_WORKDIR / "run" / GENERATOR_FILE
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # safe in URLs and file names


def parse_painter_option(value: str) -> tuple[str, Path]:
    """`--painter NAME=PATH` -> (NAME, PATH); raises PainterError saying the expected form."""
    name, separator, path = value.partition("=")
    name, path = name.strip(), path.strip()
    if not separator or not name or not path:
        raise PainterError(
            f"--painter {value!r}: expected NAME=WORKDIR_OR_FILE, e.g. "
            f"--painter monet=demo-workdir or --painter monet=runs/monet/{GENERATOR_FILE}"
        )
    if not NAME_PATTERN.match(name):
        raise PainterError(
            f"--painter {value!r}: the name {name!r} must be letters, digits, '_', '-' or '.' "
            "(it appears in URLs: /paint?painter=NAME), e.g. monet or van-gogh"
        )
    return name, Path(path).expanduser()


def generator_file(path: str | Path, name: str = "painter") -> Path:
    """The .keras file behind PATH: the file itself, WORKDIR/monet_generator.keras, or the demo's
    WORKDIR/run/monet_generator.keras. Raises PainterError naming what was looked for."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for candidate in (path / GENERATOR_FILE, path / "run" / GENERATOR_FILE):
            if candidate.is_file():
                return candidate
        raise PainterError(
            f"painter {name!r}: {path} holds no {GENERATOR_FILE} (looked in {path} and "
            f"{path / 'run'}): train first (`python -m painter train --workdir {path}`) or pass "
            "the workdir of a finished run or a .keras file"
        )
    raise PainterError(
        f"painter {name!r}: {path} does not exist: pass a training workdir or its "
        f"{GENERATOR_FILE} (`make demo` writes {DEMO_GENERATOR})"
    )


def training_size(generator_path: Path) -> int | None:
    """The image size in the config.json beside the generator (training writes both), if any."""
    config_path = generator_path.parent / "config.json"
    if not config_path.is_file():
        return None
    from painter.config import Config

    try:
        return int(Config.load(config_path).image_size)
    except (PainterError, ValueError, TypeError, OSError):
        return None  # a config from another painter version: the size is only informative


def load_painter(name: str, path: str | Path, **options: Any) -> Painter:
    """Load PATH's generator (after `select_runtime`), check that it paints, wrap it as a Painter.

    The check paints a small non-square photo: a file that is not a photo -> painting generator
    (a discriminator, a classifier, a fixed-size model) fails here, named, before the server
    starts. `options` are Painter's keyword arguments. Raises PainterError."""
    source = generator_file(path, name)
    import keras

    import painter.models  # noqa: F401  (registers painter's layers for loading)

    try:
        generator = keras.saving.load_model(source, compile=False)
    except Exception as error:  # noqa: BLE001  (Keras raises many types for a file it cannot read)
        raise PainterError(
            f"painter {name!r}: cannot load {source} ({type(error).__name__}: {error}); pass a "
            f".keras generator written by `python -m painter train` ({GENERATOR_FILE})"
        ) from None
    check_generator(name, source, generator)
    return Painter(name, generator, path=source, training_size=training_size(source), **options)


def check_generator(name: str, source: Path, generator: Any) -> None:
    """Paint a small non-square photo with `generator`; PainterError unless the painting is an
    RGB image of the photo's size. Also compiles the model's predict step before the first
    visitor arrives."""
    inputs = getattr(generator, "inputs", None) or []
    if len(inputs) != 1 or tuple(inputs[0].shape)[-1:] != (3,):
        shapes = [tuple(tensor.shape) for tensor in inputs]
        raise PainterError(
            f"painter {name!r}: {source} takes inputs {shapes}, not one RGB photo "
            "[batch, height, width, 3]: pass a photo -> painting generator (monet_generator.keras)"
        )
    multiple = size_multiple(generator)
    height = multiple * max(1, math.ceil(32 / multiple))
    width = height + multiple  # non-square: a model that swaps or fixes the sides fails here
    photo = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    try:
        painting = paint(generator, photo, multiple=multiple)
    except Exception as error:  # noqa: BLE001  (any failure means the file cannot serve)
        raise PainterError(
            f"painter {name!r}: {source} cannot paint a {width}x{height} photo "
            f"({type(error).__name__}: {error}); pass a fully convolutional photo -> painting "
            "generator (monet_generator.keras)"
        ) from None
    if painting.shape != photo.shape:
        raise PainterError(
            f"painter {name!r}: {source} turned a {width}x{height} RGB photo into an array of "
            f"shape {painting.shape}: not a photo -> painting generator (a discriminator?); pass "
            f"a workdir's {GENERATOR_FILE}"
        )


def load_painters(
    options: list[str] | None,
    *,
    demo_generator: Path = DEMO_GENERATOR,
    printer: Callable[[str], None] = print,
    **painter_options: Any,
) -> tuple[dict[str, Painter], str | None]:
    """Every `--painter NAME=PATH` loaded and checked, in order (the first is the default).

    With none, the demo's generator if `make demo` has made it (the returned note says so, for the
    page); else PainterError saying what to pass. Every file is found before any is loaded, so a
    typo in the last one fails in a second, not after loading the others."""
    note = None
    if options:
        specs = [parse_painter_option(option) for option in options]
    elif demo_generator.is_file():
        specs = [("monet", demo_generator)]
        note = (
            f"No --painter given: serving the demo's generator ({demo_generator}, made by "
            "`make demo`: trained for minutes on generated scenes, so expect a change of "
            "palette, not Monet)."
        )
    else:
        raise PainterError(
            "no painter to serve: pass --painter NAME=WORKDIR_OR_FILE (e.g. --painter "
            f"monet=runs/monet), or run `make demo` first to make {demo_generator}"
        )
    names = [name for name, _ in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PainterError(f"--painter names must differ; repeated: {', '.join(duplicates)}")
    files = [(name, generator_file(path, name)) for name, path in specs]
    painters = {}
    for name, source in files:
        painters[name] = load_painter(name, source, **painter_options)
        size = painters[name].training_size
        printer(f"painter {name!r}: {source}" + (f" (trained at {size} px)" if size else ""))
    return painters, note


def choose_painter(painters: dict[str, Painter], name: str | None) -> Painter:
    """The painter called `name` (the first one when None); UploadError 404 naming the choices."""
    if name is None or name == "":
        return next(iter(painters.values()))
    if name not in painters:
        raise UploadError(
            f"unknown painter {name!r}: this server has {', '.join(repr(n) for n in painters)} "
            "(GET /painters lists them); pass one as ?painter=NAME",
            status=404,
        )
    return painters[name]
