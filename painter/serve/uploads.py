"""Uploads: photo bytes from the web page or the HTTP API -> uint8 [H, W, 3], or a refusal.

`decode_photo` is shared by the page and the API: any format Pillow reads, EXIF orientation
applied, any colour mode converted to RGB (as `stylize` reads files), a size cap checked from the
header before any pixel is decoded. `UploadError` carries the HTTP status the server answers with.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, UnidentifiedImageError

from painter.data.images import to_rgb
from painter.errors import PainterError

DEFAULT_MAX_MEGAPIXELS = 24.0  # a 6000x4000 camera photo; ~300 MB of float32 while painted


class UploadError(PainterError):
    """A request the server refuses: `status` is the HTTP status to answer (4xx: the client can
    fix it; 503: busy, retry), the message says what is wrong and what to do."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def upload_byte_cap(max_megapixels: float) -> int:
    """Largest request body accepted: 4 bytes a pixel at the pixel cap (an uncompressed RGBA PNG
    or BMP at the cap fits) plus 1 MB of headers and metadata. Photos are far smaller."""
    return int(max_megapixels * 1e6 * 4) + (1 << 20)


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
