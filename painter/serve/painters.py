"""Painters: trained photo -> painting generators, loaded once, each painting one photo at a time.

A painter is named on the command line as `NAME=PATH`, PATH a training workdir (its
`monet_generator.keras`; the demo keeps it under `run/`) or a `.keras` file. Each one is loaded
and tried on a small photo before the server starts, so a missing or incompatible file stops
`serve` with an error naming the file instead of failing on the first visitor's request.

Each painter works through its requests on one worker thread fed by a FIFO queue:
  - one model call at a time: two calls would only compete for the same cores (and memory),
  - requests are painted and answered in the order they arrived (`Painting.arrival` is the
    ticket taken on arrival, `Painting.order` the place in which it was painted),
  - the queue is bounded (`max_waiting`): a flood gets a quick "busy, retry" answer instead of
    piling up uploads in memory.
The whole job runs on that thread (decode, paint, PNG encode), so at most one decoded photo per
painter is in memory at a time, whatever the number of waiting requests.

Uploads are decoded by `decode_photo`, shared by the web page and the HTTP API: any format Pillow
reads, EXIF orientation applied, any colour mode converted to RGB (as `stylize` reads files),
a size cap checked from the header before any pixel is decoded.

Keras is imported only inside `load_painter`, after the runtime is selected.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from painter.data.images import to_rgb
from painter.errors import PainterError
from painter.submission.stylize import DEFAULT_OVERLAP, DEFAULT_TILE, paint, size_multiple
from painter.training.checkpoint import GENERATOR_FILE

DEMO_WORKDIR = Path("demo-workdir")  # what `make demo` writes (python -m painter demo's default)
DEMO_GENERATOR = DEMO_WORKDIR / "run" / GENERATOR_FILE
DEFAULT_MAX_MEGAPIXELS = 24.0  # a 6000x4000 camera photo; ~300 MB of float32 while painted
DEFAULT_MAX_WAITING = 32  # per painter; at ~1 s a large photo, a half-minute wait at worst
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # safe in URLs and file names


class UploadError(PainterError):
    """A request the server refuses: `status` is the HTTP status to answer (4xx: the client can
    fix it; 503: busy, retry), the message says what is wrong and what to do."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Painting:
    """One painted photo: PNG bytes at the photo's own size, and where it stood in the queue."""

    png: bytes
    width: int
    height: int
    painter: str
    arrival: int  # ticket taken when the request reached the painter (1, 2, ...)
    order: int  # place in which it was painted (equals `arrival`: the queue is FIFO)
    seconds: float  # decode + paint + encode, without the wait in the queue


def decode_photo(data: bytes, *, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """Upload bytes -> uint8 [H, W, 3], displayed the way a viewer shows them.

    Raises UploadError (400 empty, not an image, truncated or corrupt; 413 above the cap)."""
    if not data:
        raise UploadError(
            "the upload is empty (0 bytes): choose a photo file (JPEG, PNG, WebP, ...) and send "
            "its bytes as the request body, e.g. `curl --data-binary @photo.jpg ...`"
        )
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UploadError(
            f"the upload ({len(data):,} bytes, starting {data[:12]!r}) is not an image: choose a "
            "photo file (JPEG, PNG, WebP, ...)"
        ) from None
    with image:
        width, height = image.size
        megapixels = width * height / 1e6
        if megapixels > max_megapixels:
            # Checked from the header, before decoding: a 100-megapixel upload never reaches memory.
            scale = math.sqrt(max_megapixels / megapixels)
            raise UploadError(
                f"the photo is {width}x{height} = {megapixels:.1f} megapixels, above this server's "
                f"cap of {max_megapixels:g} megapixels: downscale it (e.g. to "
                f"{int(width * scale)}x{int(height * scale)}) or start the server with a larger "
                "--max-megapixels",
                status=413,
            )
        try:
            image.load()
            return np.asarray(to_rgb(image), dtype=np.uint8)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            # Pillow says "image file is truncated (N bytes not processed)" for a cut-off JPEG.
            raise UploadError(
                f"the {image.format or 'image'} upload ({width}x{height}, {len(data):,} bytes) is "
                f"truncated or corrupt ({error}): upload the complete file again"
            ) from None


class Painter:
    """A generator behind a FIFO queue served by one worker thread.

    Args:
        name: what the page's dropdown and `?painter=` call it.
        generator: photo -> painting model (float32 [-1, 1]; a keras model or any callable).
        path: the file it was loaded from (shown in messages).
        training_size: the side it was trained at, if known (from the workdir's config.json).
        tile, overlap: photos with a side above `tile` are painted in overlapping tiles.
        max_megapixels: uploads above this are refused (413) before decoding.
        max_waiting: requests queued or painting at once; beyond it, UploadError 503.
    """

    def __init__(
        self,
        name: str,
        generator: Any,
        *,
        path: Path | None = None,
        training_size: int | None = None,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
        max_waiting: int = DEFAULT_MAX_WAITING,
    ) -> None:
        if overlap < 4 or tile <= 2 * overlap:
            raise PainterError(
                f"--tile must exceed twice --overlap, and --overlap be at least 4 pixels. "
                f"Received: tile={tile}, overlap={overlap}"
            )
        self.name = name
        self.generator = generator
        self.path = path
        self.training_size = training_size
        self.multiple = size_multiple(generator)
        self.tile = tile
        self.overlap = overlap
        self.max_megapixels = max_megapixels
        self.max_waiting = max_waiting
        # One worker: ThreadPoolExecutor's work queue is FIFO, so jobs run in submission order.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"painter-{name}")
        self._lock = threading.Lock()  # makes "take a ticket" and "join the queue" one step
        self._tickets = itertools.count(1)
        self._painted = itertools.count(1)
        self._waiting = 0

    def describe(self) -> dict[str, Any]:
        """What `GET /painters` lists for this painter."""
        return {
            "name": self.name,
            "training_size": self.training_size,
            "file": self.path.name if self.path else None,
            "size_multiple": self.multiple,
            "tile": self.tile,
        }

    def label(self) -> str:
        """The dropdown's text: the name and the size it was trained at."""
        if self.training_size:
            return f"{self.name} (trained at {self.training_size} px)"
        return self.name

    def submit(self, data: bytes) -> Future[Painting]:
        """Queue an upload (image file bytes); the future gives its Painting or raises
        UploadError. Raises UploadError(503) at once when `max_waiting` requests are ahead."""
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise UploadError(
                    f"painter {self.name!r} is busy ({self._waiting} photos waiting): try again "
                    "in a few seconds",
                    status=503,
                )
            self._waiting += 1
            ticket = next(self._tickets)
            return self._worker.submit(self._job, data, ticket)

    def paint_bytes(self, data: bytes) -> Painting:
        """Queue an upload and wait for its painting (the page's handler and tests use it)."""
        return self.submit(data).result()

    def _job(self, data: bytes, ticket: int) -> Painting:
        started = time.perf_counter()
        try:
            photo = decode_photo(data, max_megapixels=self.max_megapixels)
            painting = paint(
                self.generator, photo, multiple=self.multiple, tile=self.tile, overlap=self.overlap
            )
            buffer = io.BytesIO()
            # compress_level 1: ~5x faster than the default 6 for a few % larger files
            Image.fromarray(painting, mode="RGB").save(buffer, format="PNG", compress_level=1)
            height, width = painting.shape[:2]
            return Painting(
                buffer.getvalue(),
                width,
                height,
                self.name,
                ticket,
                next(self._painted),
                time.perf_counter() - started,
            )
        finally:
            with self._lock:
                self._waiting -= 1

    def close(self) -> None:
        """Stop the worker after the requests already queued."""
        self._worker.shutdown(wait=True)


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
