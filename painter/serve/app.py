"""The web page (Gradio) and the plain HTTP API, one FastAPI app served by uvicorn.

Routes:
  GET  /                      the page: upload, drop or paste a photo, pick a painter, see and
                              download the painting at the photo's own size
  POST /paint?painter=NAME    body: the image file's bytes -> image/png (the painting, same size);
                              NAME defaults to the first painter
  GET  /painters              JSON list: name, training_size, file, size_multiple, tile
  /gradio_api/...             Gradio's own API (what gradio_client calls: api_name="/paint")
Errors from /paint and /painters are JSON `{"error": message, "status": code}` with a 4xx status
(413 too large, 404 unknown painter, 415 a form upload, 400 the rest; 503 busy, retry), and the
server keeps serving.

Offline by construction: analytics and Gradio's version check are off (set before Gradio is
imported), the theme uses the fonts Gradio ships, and `launch()` (which would also try to reach
the internet for share links) is never called: uvicorn serves the app directly.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before Gradio loads: it reads it on import

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402

from painter.errors import PainterError  # noqa: E402
from painter.serve.net import base_url  # noqa: E402
from painter.serve.painters import Painter, Painting, UploadError  # noqa: E402

KEPT_OUTPUTS = 64  # page paintings kept on disk for download; older ones are deleted
DRAIN_FACTOR = 8  # an oversized body is read (not kept) up to 8x the cap: the client sees the 413
CSS = """
.gradio-container { max-width: 1180px !important; margin: 0 auto !important; }
#title h1 { margin-bottom: 0.2em; }
#status { min-height: 1.6em; }
#paint { align-self: flex-end; min-height: 3.2em; }
"""


def upload_byte_cap(max_megapixels: float) -> int:
    """Largest request body accepted: 4 bytes a pixel at the pixel cap (an uncompressed RGBA PNG
    or BMP at the cap fits) plus 1 MB of headers and metadata. Photos are far smaller."""
    return int(max_megapixels * 1e6 * 4) + (1 << 20)


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


def build_app(
    painters: dict[str, Painter],
    *,
    url: str = "http://127.0.0.1:7860",
    note: str | None = None,
) -> FastAPI:
    """The FastAPI app: the HTTP API's routes, then the Gradio page mounted at "/".

    Args:
        painters: name -> Painter, in dropdown order (the first is the default).
        url: where the server is reached (shown in the page's curl example).
        note: a line shown under the title (e.g. that the demo's generator is served).
    """
    if not painters:
        raise PainterError("no painters to serve")
    max_megapixels = max(p.max_megapixels for p in painters.values())
    byte_cap = upload_byte_cap(max_megapixels)
    app = FastAPI(title="painter", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, error: UploadError) -> JSONResponse:
        headers = {"Retry-After": "5"} if error.status == 503 else None
        return JSONResponse(
            {"error": str(error), "status": error.status}, status_code=error.status, headers=headers
        )

    @app.exception_handler(Exception)
    async def painting_failed(request: Request, error: Exception) -> JSONResponse:
        # Not the client's fault (say, out of memory on a huge photo): still JSON, and the
        # server keeps serving the next request.
        return JSONResponse(
            {"error": f"painting failed: {type(error).__name__}: {error}", "status": 500},
            status_code=500,
        )

    @app.get("/painters")
    async def list_painters() -> list[dict[str, Any]]:
        return [painter.describe() for painter in painters.values()]

    @app.post("/paint")
    async def paint_upload(request: Request, painter: str | None = None) -> Response:
        chosen = choose_painter(painters, painter)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise UploadError(
                "send the image file's bytes as the request body (curl --data-binary "
                "@photo.jpg), not a form upload (curl -F)",
                status=415,
            )
        data = await _read_body(request, byte_cap)
        # The ticket is taken here, in the event loop's order of arrival, and the painter's
        # FIFO worker paints in ticket order; the handler only waits (no thread held).
        painting = await asyncio.wrap_future(chosen.submit(data))
        return Response(painting.png, media_type="image/png", headers=_painting_headers(painting))

    blocks = build_page(painters, url=url, note=note, max_megapixels=max_megapixels)
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        theme=_theme(),
        css=CSS,
        footer_links=["api"],
        ssr_mode=False,
        max_file_size=byte_cap,
        show_error=True,
    )


async def _read_body(request: Request, byte_cap: int) -> bytes:
    """The request body; 413 when it is larger than `byte_cap`. Bytes past the cap are read and
    dropped (up to DRAIN_FACTOR times the cap) rather than answered at once: most clients
    (urllib, requests) send the whole body before reading the answer, and would see a broken
    pipe instead of the message. A client that asks first (`Expect: 100-continue`, as curl does
    for large bodies) is answered before it sends anything."""
    too_large = UploadError(
        f"the upload is larger than this server's {byte_cap / 1e6:.0f} MB limit: send a photo "
        "(JPEG or PNG) below it, or start the server with a larger --max-megapixels",
        status=413,
    )
    declared = request.headers.get("content-length", "")
    if (
        declared.isdigit()
        and int(declared) > byte_cap
        and request.headers.get("expect", "").lower() == "100-continue"
    ):
        raise too_large
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received <= byte_cap:
            body += chunk
        elif received > DRAIN_FACTOR * byte_cap:
            break  # a flood: stop reading; the client may see the connection close
    if received > byte_cap:
        raise too_large
    return bytes(body)


def _painting_headers(painting: Painting) -> dict[str, str]:
    return {
        "X-Painter": painting.painter,
        "X-Image-Size": f"{painting.width}x{painting.height}",
        "X-Arrival": str(painting.arrival),  # the ticket taken on arrival
        "X-Painted": str(painting.order),  # the order it was painted in (== X-Arrival)
        "X-Paint-Seconds": f"{painting.seconds:.4f}",
    }


def _theme() -> gr.themes.Base:
    # The default theme's fonts ship with Gradio (nothing fetched from Google Fonts).
    return gr.themes.Default(primary_hue="blue", secondary_hue="amber", neutral_hue="slate")


def _untouched_upload(payload: Any) -> str | None:
    """The photo input's preprocessing: the uploaded file's path, untouched.

    Gradio's own opens the file with Pillow and fails with a bare "Error" on a broken upload;
    painter decodes it instead (`decode_photo`), with the HTTP API's size cap, EXIF handling and
    messages. (Set on the instance: a gr.Image subclass would make Gradio write a .pyi stub next
    to this file.)"""
    if payload is None or getattr(payload, "path", None) is None:
        return None
    return str(payload.path)


def build_page(
    painters: dict[str, Painter],
    *,
    url: str,
    note: str | None,
    max_megapixels: float,
) -> gr.Blocks:
    """The Gradio page: title, explanation, painter dropdown, photo and painting side by side."""
    downloads = _OutputFolder(KEPT_OUTPUTS)
    first = next(iter(painters))

    def paint_photo(photo: str | None, name: str) -> tuple[str | None, str]:
        if photo is None:
            return None, "Upload, drop or paste a photo to paint it."
        try:
            painting = choose_painter(painters, name).paint_bytes(Path(photo).read_bytes())
        except UploadError as error:
            # a user mistake, not a server fault: a toast on the page, no traceback in the log
            raise gr.Error(
                str(error), title="Cannot paint this photo", print_exception=False
            ) from None
        except Exception as error:  # noqa: BLE001  (shown on the page instead of a bare "Error")
            raise gr.Error(
                f"painting failed: {type(error).__name__}: {error}", title="Painting failed"
            ) from error
        path = downloads.write(f"{Path(photo).stem}-{painting.painter}.png", painting.png)
        return str(path), (
            f"**{painting.painter}** painted this {painting.width}x{painting.height} photo in "
            f"{painting.seconds:.2f} s. The painting has the photo's size: download it with the "
            "button on its top right."
        )

    example = next(iter(painters))
    with gr.Blocks(
        title="painter: photo to painting", analytics_enabled=False, delete_cache=(900, 3600)
    ) as page:
        gr.Markdown(
            "# painter: turn a photo into a painting\n"
            "A CycleGAN generator trained with painter repaints your photo in its painter's "
            "style. Upload, drop or paste a photo, choose a painter, and the painting appears "
            f"beside it, at your photo's own size (up to {max_megapixels:g} megapixels; large "
            "photos are painted in tiles).",
            elem_id="title",
        )
        if note:
            gr.Markdown(f"**Note.** {note}", elem_id="note")
        with gr.Row(equal_height=False):
            painter_choice = gr.Dropdown(
                choices=[(painter.label(), name) for name, painter in painters.items()],
                value=first,
                label="Painter",
                elem_id="painter",
                scale=4,
                info="the generators this server loaded (--painter NAME=WORKDIR_OR_FILE)",
            )
            button = gr.Button("Paint", variant="primary", elem_id="paint", scale=1)
        with gr.Row(equal_height=True):
            photo = gr.Image(
                type="filepath",
                image_mode=None,
                sources=["upload", "clipboard"],
                label="Your photo",
                elem_id="photo",
                height=440,
            )
            # Replacing a method on one instance is deliberate (see _untouched_upload); mypy
            # rejects any assignment to a method, even a compatible one.
            photo.preprocess = _untouched_upload  # type: ignore[method-assign]
            painting = gr.Image(
                type="filepath",
                format="png",
                label="Painting",
                elem_id="painting",
                height=440,
                interactive=False,
                buttons=["download", "fullscreen"],
            )
        status = gr.Markdown(elem_id="status")
        with gr.Accordion("From a script", open=False):
            gr.Markdown(
                f"```\ncurl --data-binary @photo.jpg '{url}/paint?painter={example}' "
                f"-o painting.png\ncurl {url}/painters\n```\n"
                "Errors come back as JSON with a 4xx status and a message. From Python, "
                "`gradio_client.Client(url).predict(handle_file('photo.jpg'), "
                f"'{example}', api_name='/paint')`."
            )
        # Paint on the button (the event gradio_client calls: api_name="/paint"), and whenever
        # the photo or the painter changes. No Gradio-side limit: each painter's own FIFO queue
        # orders and bounds the work.
        inputs, outputs = [photo, painter_choice], [painting, status]
        button.click(paint_photo, inputs, outputs, api_name="paint", concurrency_limit=None)
        for change in (photo.change, painter_choice.change):
            # api_name=False: no public endpoint of its own. Gradio 6 accepts it at runtime
            # (Blocks.set_event_trigger makes it a private one) but annotates `str | None`.
            change(
                paint_photo,
                inputs,
                outputs,
                api_name=False,  # type: ignore[arg-type]
                concurrency_limit=None,
            )
    return page


class _OutputFolder:
    """A temporary folder holding the page's last `keep` paintings (what Gradio serves for
    download); older files are deleted so a long-running server does not fill the disk."""

    def __init__(self, keep: int) -> None:
        # removed when the server's app is dropped or the process exits
        self._folder = tempfile.TemporaryDirectory(
            prefix="painter-serve-", ignore_cleanup_errors=True
        )
        self.root = Path(self._folder.name)
        self.keep = keep
        self._written: deque[Path] = deque()
        self._lock = threading.Lock()
        self._count = 0

    def write(self, name: str, data: bytes) -> Path:
        with self._lock:
            self._count += 1
            folder = self.root / f"{self._count:06d}"  # one folder each: the name stays as given
            folder.mkdir()
            path = folder / name
            path.write_bytes(data)
            self._written.append(path)
            while len(self._written) > self.keep:
                old = self._written.popleft()
                old.unlink(missing_ok=True)
                old.parent.rmdir()
            return path


class Server:
    """uvicorn serving `app` on an already bound socket; `serve_forever()` in the foreground
    (the CLI: Ctrl-C stops it), or `start()`/`stop()` on a background thread (tests, benchmark)."""

    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        self.sock = sock
        self.url = base_url(sock)
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self._run()

    def _run(self) -> None:
        self._server.run(sockets=[self.sock])

    def start(self, timeout: float = 60.0) -> Server:
        self._thread = threading.Thread(target=self._run, name="painter-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise PainterError(f"the server on {self.url} did not start within {timeout:g}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sock.close()
