"""The FastAPI app: the plain HTTP API, and the web page (`page.py`) mounted beside it.

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

The app is served by uvicorn (`server.Server`, importable from here too), never by Gradio's
`launch()`: see page.py for how the page stays offline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from painter.errors import PainterError
from painter.serve.page import mount_page
from painter.serve.painters import choose_painter
from painter.serve.server import Server
from painter.serve.uploads import UploadError, upload_byte_cap
from painter.serve.worker import Painter, Painting

__all__ = ["Server", "build_app"]

DRAIN_FACTOR = 8  # an oversized body is read (not kept) up to 8x the cap: the client sees the 413


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

    return mount_page(
        app, painters, url=url, note=note, max_megapixels=max_megapixels, byte_cap=byte_cap
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
