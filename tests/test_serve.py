"""`painter serve` without a server: decoding uploads, painter files, the per-painter FIFO queue,
and the command's errors before it starts. (The running server, its HTTP API, the Python client
and a real browser: test_serve_web.py.)"""

from __future__ import annotations

import io
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painter.cli import main
from painter.errors import PainterError
from painter.serve.painters import (
    Painter,
    UploadError,
    decode_photo,
    generator_file,
    load_painter,
    load_painters,
    parse_painter_option,
)


def encode(pixels: np.ndarray, image_format: str = "JPEG", mode: str = "RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").convert(mode).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# -- uploads --------------------------------------------------------------------------------------
def test_decode_photo_reads_uploads_as_a_viewer_shows_them():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees to display": a phone photo held upright
    assert decode_photo(encode(noise(20, 30), exif=exif.tobytes())).shape == (30, 20, 3)
    gray = decode_photo(encode(noise(8, 12), "PNG", mode="L"))
    assert gray.shape == (8, 12, 3) and np.array_equal(gray[..., 0], gray[..., 2])
    transparent = io.BytesIO()
    Image.new("RGBA", (5, 4), (0, 0, 0, 0)).save(transparent, format="PNG")
    assert decode_photo(transparent.getvalue()).min() == 255  # transparency over white
    pixels = noise(6, 9)
    assert np.array_equal(decode_photo(encode(pixels, "PNG")), pixels)


def test_decode_photo_refuses_bad_uploads_saying_what_to_do():
    whole = encode(noise(64, 80))
    cases = [
        (b"", 400, "the upload is empty (0 bytes)"),
        (b"%PDF-1.7 not a photo", 400, "is not an image"),
        (whole[: len(whole) // 2], 400, "truncated or corrupt"),
    ]
    for data, status, message in cases:
        with pytest.raises(UploadError, match=re.escape(message)) as caught:
            decode_photo(data)
        assert caught.value.status == status
    # Above the cap: refused from the header; the message names the size, the cap and the fix.
    big = io.BytesIO()
    Image.new("1", (2000, 1500)).save(big, format="PNG")
    with pytest.raises(UploadError) as caught:
        decode_photo(big.getvalue(), max_megapixels=2.5)
    assert caught.value.status == 413
    assert "2000x1500 = 3.0 megapixels" in str(caught.value)
    assert "cap of 2.5 megapixels" in str(caught.value) and "--max-megapixels" in str(caught.value)
    assert decode_photo(big.getvalue(), max_megapixels=3).shape == (1500, 2000, 3)


# -- painter files --------------------------------------------------------------------------------
def test_parse_painter_option():
    assert parse_painter_option("monet=runs/monet") == ("monet", Path("runs/monet"))
    assert parse_painter_option(" van-gogh = a.keras ") == ("van-gogh", Path("a.keras"))
    for bad in ("runs/monet", "=x.keras", "monet=", "van gogh=x.keras", "../x=y.keras"):
        with pytest.raises(PainterError, match="--painter"):
            parse_painter_option(bad)


def test_generator_file_finds_workdirs_and_names_what_is_missing(tmp_path):
    (tmp_path / "run").mkdir()
    demo_style = tmp_path / "run" / "monet_generator.keras"
    demo_style.write_bytes(b"x")
    assert generator_file(tmp_path) == demo_style  # the demo's layout: WORKDIR/run/
    (tmp_path / "monet_generator.keras").write_bytes(b"x")
    assert generator_file(tmp_path) == tmp_path / "monet_generator.keras"
    assert generator_file(demo_style) == demo_style
    with pytest.raises(PainterError, match=r"painter 'cezanne': .*nowhere does not exist"):
        generator_file(tmp_path / "nowhere", "cezanne")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PainterError, match=r"empty holds no monet_generator.keras"):
        generator_file(tmp_path / "empty")


def test_incompatible_painter_files_are_refused_naming_the_file(tmp_path):
    import keras

    from painter.config import preset
    from painter.models import build_discriminator

    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a keras file")
    with pytest.raises(PainterError, match=r"painter 'monet': cannot load .*garbage\.keras"):
        load_painter("monet", garbage)

    discriminator = tmp_path / "discriminator.keras"
    build_discriminator(preset("smoke"), "monet_discriminator").save(discriminator)
    with pytest.raises(PainterError, match=r"discriminator\.keras turned a 40x32 RGB photo into"):
        load_painter("monet", discriminator)

    inputs = keras.Input((32, 32, 3))  # a fixed-size model cannot paint photos of any size
    fixed = tmp_path / "fixed.keras"
    keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs)).save(fixed)
    with pytest.raises(PainterError, match=r"fixed\.keras cannot paint a 33x32 photo"):
        load_painter("monet", fixed)

    gray_in = keras.Input((None, None, 1))
    gray = tmp_path / "gray.keras"
    keras.Model(gray_in, keras.layers.Conv2D(3, 1)(gray_in)).save(gray)
    with pytest.raises(PainterError, match=r"gray\.keras takes inputs .*not one RGB photo"):
        load_painter("monet", gray)


def test_serve_command_fails_before_serving(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no demo-workdir/ here
    assert main(["serve", "--port", "0"]) == 1
    assert "no painter to serve: pass --painter NAME=WORKDIR_OR_FILE" in capsys.readouterr().err
    assert main(["serve", "--port", "0", "--painter", "monet=missing.keras"]) == 1
    assert "painter 'monet': missing.keras does not exist" in capsys.readouterr().err
    (tmp_path / "broken.keras").write_bytes(b"")
    assert main(["serve", "--port", "0", "--painter", "monet=broken.keras"]) == 1
    assert "cannot load broken.keras" in capsys.readouterr().err
    assert main(["serve", "--painter", "a=x", "--painter", "b=y", "--max-megapixels", "0"]) == 1
    assert "--max-megapixels must be positive" in capsys.readouterr().err


def test_without_painters_the_demo_generator_is_served_and_said_so(tmp_path):
    demo = tmp_path / "demo-workdir" / "run" / "monet_generator.keras"
    with pytest.raises(PainterError, match="run `make demo` first"):
        load_painters(None, demo_generator=demo)
    demo.parent.mkdir(parents=True)
    tiny_generator().save(demo)
    painters, note = load_painters(None, demo_generator=demo, printer=lambda line: None)
    assert list(painters) == ["monet"] and painters["monet"].path == demo
    assert "serving the demo's generator" in note and str(demo) in note


def tiny_generator():
    import keras

    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(inputs))


# -- the queue ------------------------------------------------------------------------------------
class SlowGenerator:
    """A callable "generator" that records how many calls overlap and which photo each call
    painted (a photo's constant pixel value identifies it)."""

    def __init__(self, seconds: float = 0.01) -> None:
        self.seconds = seconds
        self.active = 0
        self.most_active = 0
        self.painted: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.release.wait()
        time.sleep(self.seconds)
        self.painted.append(int(round((batch[0, 0, 0, 0] + 1) * 127.5)))
        with self._lock:
            self.active -= 1
        return -batch


def test_painter_paints_one_photo_at_a_time_in_order_of_arrival():
    generator = SlowGenerator()
    painter = Painter("slow", generator)
    uploads = [encode(np.full((8, 12, 3), 10 * i, np.uint8), "PNG") for i in range(16)]
    start = threading.Barrier(16)
    futures: dict[int, object] = {}

    def send(i: int) -> None:
        start.wait()  # all 16 at once
        futures[i] = painter.submit(uploads[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    paintings = {i: future.result(timeout=30) for i, future in futures.items()}
    painter.close()
    assert generator.most_active == 1  # one model call at a time
    by_arrival = sorted(paintings, key=lambda i: paintings[i].arrival)
    assert [paintings[i].arrival for i in by_arrival] == list(range(1, 17))  # none lost
    assert [paintings[i].order for i in by_arrival] == list(range(1, 17))  # painted FIFO
    assert generator.painted == [10 * i for i in by_arrival]
    for i, painting in paintings.items():  # each answer is its own photo's painting
        pixels = np.asarray(Image.open(io.BytesIO(painting.png)))
        assert pixels.shape == (8, 12, 3) and (pixels == 255 - 10 * i).all()


def test_painter_queue_is_bounded_and_recovers():
    generator = SlowGenerator(seconds=0)
    generator.release.clear()  # hold the first call: the queue fills behind it
    painter = Painter("slow", generator, max_waiting=2)
    upload = encode(np.zeros((4, 4, 3), np.uint8), "PNG")
    waiting = [painter.submit(upload), painter.submit(upload)]
    with pytest.raises(UploadError, match=r"'slow' is busy \(2 photos waiting\)") as caught:
        painter.submit(upload)
    assert caught.value.status == 503
    generator.release.set()
    assert all(future.result(timeout=10).width == 4 for future in waiting)
    assert painter.paint_bytes(upload).arrival == 3
    with pytest.raises(UploadError, match="not an image"):
        painter.paint_bytes(b"junk")  # an error inside the job frees its place
    assert painter.paint_bytes(upload).arrival == 5
    painter.close()


def test_tile_options_are_checked_when_the_painter_is_made():
    with pytest.raises(PainterError, match="--tile must exceed twice --overlap"):
        Painter("slow", SlowGenerator(), tile=64, overlap=32)
