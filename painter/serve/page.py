"""The web page: a Gradio Blocks page mounted on the server's FastAPI app at "/".

Upload, drop or paste a photo, pick a painter, see and download the painting at the photo's own
size. Painting on the page goes through the same painters (their FIFO queues, `decode_photo` and
its size cap) as the HTTP API; Gradio's own API (`/gradio_api/...`, what gradio_client calls with
api_name="/paint") comes with it.

Offline by construction: analytics and Gradio's version check are off (set before Gradio is
imported), the theme uses the fonts Gradio ships, and `launch()` (which would also try to reach
the internet for share links) is never called: uvicorn serves the app (`server.Server`).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before Gradio loads: it reads it on import

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from painter.serve.painters import choose_painter  # noqa: E402
from painter.serve.uploads import UploadError  # noqa: E402
from painter.serve.worker import Painter  # noqa: E402

KEPT_OUTPUTS = 64  # page paintings kept on disk for download; older ones are deleted
CSS = """
.gradio-container { max-width: 1180px !important; margin: 0 auto !important; }
#title h1 { margin-bottom: 0.2em; }
#status { min-height: 1.6em; }
#paint { align-self: flex-end; min-height: 3.2em; }
"""


def mount_page(
    app: FastAPI,
    painters: dict[str, Painter],
    *,
    url: str,
    note: str | None,
    max_megapixels: float,
    byte_cap: int,
) -> FastAPI:
    """`app` with the page (`build_page`) mounted at "/"; uploads above `byte_cap` are refused."""
    return gr.mount_gradio_app(
        app,
        build_page(painters, url=url, note=note, max_megapixels=max_megapixels),
        path="/",
        theme=_theme(),
        css=CSS,
        footer_links=["api"],
        ssr_mode=False,
        max_file_size=byte_cap,
        show_error=True,
    )


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
