"""`painter serve` running: the HTTP API (urllib, as curl would), the Python client
(gradio_client), and the page in a real headless Chromium driven by Selenium.

One server for the module, on a free port of 127.0.0.1, with two tiny untrained generators (the
`smoke` preset: 8 filters) and small limits so that tiling and the size cap are exercised with
small photos. Every painting is compared pixel for pixel with `stylize.paint` run directly.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painter.serve.painters import Painter, decode_photo, load_painters
from painter.submission.stylize import paint

TILE, OVERLAP = 128, 16  # photos above 128 px are tiled: exercised with 200 px photos
MAX_MEGAPIXELS = 0.25  # the cap, tested with a 600x500 photo
CHROMIUM_FLAGS = (  # no network: without these Chromium stalls on lookups for its own services
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)
# Direct to 127.0.0.1, whatever proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Served:
    url: str
    painters: dict[str, Painter]

    def expected(self, name: str, data: bytes) -> np.ndarray:
        """What painter `name` must return for an upload: stylize's path, run directly."""
        painter = self.painters[name]
        return paint(
            painter.generator,
            decode_photo(data),
            multiple=painter.multiple,
            tile=TILE,
            overlap=OVERLAP,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import keras

    from painter.config import preset
    from painter.models import build_generator
    from painter.serve.app import Server, build_app
    from painter.serve.net import base_url, bind

    root = tmp_path_factory.mktemp("painters")
    config = preset("smoke")  # 8 filters, 2 residual blocks: milliseconds a photo
    (root / "tiny").mkdir()
    keras.utils.set_random_seed(1)
    build_generator(config, "monet_generator").save(root / "tiny" / "monet_generator.keras")
    config.save(root / "tiny" / "config.json")  # a workdir: its training size is known
    keras.utils.set_random_seed(2)
    build_generator(config, "monet_generator").save(root / "bold.keras")  # a bare file
    painters, _ = load_painters(
        [f"tiny={root / 'tiny'}", f"bold={root / 'bold.keras'}"],
        printer=lambda line: None,
        tile=TILE,
        overlap=OVERLAP,
        max_megapixels=MAX_MEGAPIXELS,
    )
    sock = bind("127.0.0.1", 0)
    server = Server(build_app(painters, url=base_url(sock)), sock).start()
    yield Served(server.url, painters)
    server.stop()
    for painter in painters.values():
        painter.close()


def photo_bytes(
    height: int, width: int, seed: int = 0, image_format: str = "JPEG", **options
) -> bytes:
    """A smooth colourful scene with some noise (JPEG-friendly, unlike pure noise)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(seed)
    base = 127 + 100 * np.sin(x[..., None] / (7 + seed) + y[..., None] / 11 + np.array([0, 1, 2]))
    pixels = np.clip(base + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def request(url: str, data: bytes | None = None, **headers: str) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a GET (data None) or POST, errors included."""
    method = "GET" if data is None else "POST"
    headers.setdefault("Content-Type", "application/octet-stream")
    try:
        with OPENER.open(
            urllib.request.Request(url, data=data, method=method, headers=headers), timeout=60
        ) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def png_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


# -- the HTTP API ---------------------------------------------------------------------------------
def test_painters_lists_each_painter_with_its_training_size(served):
    status, headers, body = request(f"{served.url}/painters")
    assert status == 200 and headers["content-type"] == "application/json"
    listed = json.loads(body)
    assert [(p["name"], p["training_size"]) for p in listed] == [("tiny", 32), ("bold", None)]
    assert listed[1]["file"] == "bold.keras" and listed[0]["size_multiple"] == 4


@pytest.mark.parametrize(
    ("painter", "upload", "size"),
    [
        ("tiny", photo_bytes(37, 53), (53, 37)),  # odd sides: padded and cropped back
        ("bold", photo_bytes(150, 200, seed=1), (200, 150)),  # above the tile size: tiled
        (None, photo_bytes(30, 44, image_format="PNG"), (44, 30)),  # no ?painter: the first
    ],
)
def test_paint_returns_the_painting_as_png_at_the_photo_size(served, painter, upload, size):
    query = f"?painter={painter}" if painter else ""
    expected = served.expected(painter or "tiny", upload)
    status, headers, body = request(f"{served.url}/paint{query}", upload)
    assert status == 200 and headers["content-type"] == "image/png"
    painting = png_pixels(body)
    assert painting.shape == (size[1], size[0], 3)
    assert headers["x-image-size"] == f"{size[0]}x{size[1]}"
    np.testing.assert_array_equal(painting, expected)
    assert np.abs(painting.astype(int) - decode_photo(upload)).mean() > 5  # painted, not echoed


def test_exif_rotated_photos_come_back_upright(served):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees to display"
    upload = photo_bytes(24, 40, exif=exif.tobytes())
    status, _, body = request(f"{served.url}/paint?painter=tiny", upload)
    assert status == 200 and png_pixels(body).shape == (40, 24, 3)


def test_bad_requests_get_json_4xx_with_a_fix_and_the_server_keeps_serving(served):
    whole = photo_bytes(64, 64)
    flat = io.BytesIO()
    Image.new("RGB", (600, 500), (90, 140, 200)).save(flat, format="PNG")
    cases = [
        ("?painter=tiny", b"", {}, 400, "the upload is empty (0 bytes)"),
        ("?painter=tiny", b"<html>hello</html>", {}, 400, "is not an image"),
        ("?painter=tiny", whole[: len(whole) // 2], {}, 400, "truncated or corrupt"),
        ("?painter=picasso", whole, {}, 404, "unknown painter 'picasso': this server has 'tiny'"),
        (
            "?painter=tiny",
            flat.getvalue(),
            {},
            413,
            "600x500 = 0.3 megapixels, above this server's cap of 0.25 megapixels",
        ),
        ("?painter=tiny", bytes(2_100_000), {}, 413, "larger than this server's 2 MB limit"),
        (
            "?painter=tiny",
            whole,
            {"Content-Type": "multipart/form-data; boundary=x"},
            415,
            "not a form upload",
        ),
    ]
    for query, data, headers, status, message in cases:
        got, response_headers, body = request(f"{served.url}/paint{query}", data, **headers)
        assert (got, response_headers["content-type"]) == (status, "application/json"), message
        answer = json.loads(body)
        assert answer["status"] == status and message in answer["error"], answer
        ok, _, painting = request(f"{served.url}/paint?painter=tiny", whole)  # still serving
        assert ok == 200 and png_pixels(painting).shape == (64, 64, 3)


def test_sixteen_requests_at_once_all_come_back_in_order_of_arrival(served):
    uploads = [photo_bytes(48, 64, seed=i) for i in range(16)]
    expected = [served.expected("bold", upload) for upload in uploads]
    start = threading.Barrier(16)
    answers: dict[int, tuple[int, dict, bytes]] = {}

    def send(i: int) -> None:
        start.wait()  # all 16 leave together
        answers[i] = request(f"{served.url}/paint?painter=bold", uploads[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(answers) == list(range(16)) and all(a[0] == 200 for a in answers.values())
    arrivals = {i: int(answers[i][1]["x-arrival"]) for i in answers}
    painted = {i: int(answers[i][1]["x-painted"]) for i in answers}
    first = min(arrivals.values())
    assert sorted(arrivals.values()) == list(range(first, first + 16))  # none lost
    assert painted == arrivals  # painted (and answered) in the order they arrived
    for i, (_, _, body) in answers.items():  # each client got its own photo's painting
        np.testing.assert_array_equal(png_pixels(body), expected[i])


def _rss_megabytes() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:  # the server runs in this process
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc")
def test_memory_stays_flat_over_200_requests(served):
    uploads = [photo_bytes(96, 128, seed=i, image_format="PNG") for i in range(8)]

    def send(count: int) -> None:
        for i in range(count):
            status, _, body = request(f"{served.url}/paint?painter=tiny", uploads[i % 8])
            assert status == 200 and len(body) > 1000

    send(20)  # warm-up: traced functions, allocator arenas, caches reach their size
    before = _rss_megabytes()
    send(200)
    growth = _rss_megabytes() - before
    print(f"RSS {before:.0f} MB after 20 requests, {before + growth:.0f} MB after 200 more")
    # Keeping each request's photo or painting (~0.6 MB as float32) would add > 25 MB.
    assert growth < 12, f"RSS grew {growth:.1f} MB over 200 requests"


def test_a_failing_generator_gets_json_500_and_the_next_request_is_served():
    """Also: the page shows the note (e.g. that the demo's generator is served)."""
    from fastapi.testclient import TestClient

    from painter.serve.app import build_app

    calls = []

    def flaky_generator(batch: np.ndarray) -> np.ndarray:  # fails on its first photo only
        calls.append(batch.shape)
        if len(calls) == 1:
            raise RuntimeError("out of memory (simulated)")
        return -batch

    painter = Painter("flaky", flaky_generator)
    note = "No --painter given: serving the demo's generator (demo-workdir/...)"
    client = TestClient(build_app({"flaky": painter}, note=note), raise_server_exceptions=False)
    assert note in client.get("/config").text  # the page says which generator it serves
    upload = photo_bytes(16, 24)
    failed = client.post("/paint", content=upload)
    assert failed.status_code == 500
    assert failed.json()["error"] == "painting failed: RuntimeError: out of memory (simulated)"
    served = client.post("/paint?painter=flaky", content=upload)
    assert served.status_code == 200 and png_pixels(served.content).shape == (16, 24, 3)
    painter.close()


def test_serve_command_loads_painters_and_serves_on_the_port_it_prints(
    served, monkeypatch, capsys, tmp_path
):
    from painter.cli import main
    from painter.serve.app import Server

    tiny = served.painters["tiny"].path.parent
    answers, urls = [], []

    def serve_briefly(server: Server) -> None:  # instead of serving until Ctrl-C
        server.start()
        urls.append(server.url)
        try:
            answers.append(request(f"{server.url}/painters"))
            answers.append(request(f"{server.url}/paint", photo_bytes(20, 28)))
        finally:
            server.stop()

    monkeypatch.setattr(Server, "serve_forever", serve_briefly)
    assert main(["serve", "--port", "0", "--painter", f"mine={tiny}", "--tile", "256"]) == 0
    printed = capsys.readouterr().out
    assert f"painter 'mine': {tiny / 'monet_generator.keras'} (trained at 32 px)" in printed
    assert f"serving mine at {urls[0]}/ (the page)" in printed and urls[0] != served.url
    (status, _, body), (painted, _, painting) = answers
    assert status == 200 and json.loads(body)[0]["tile"] == 256
    assert painted == 200 and png_pixels(painting).shape == (20, 28, 3)


# -- the Python client ----------------------------------------------------------------------------
def test_gradio_client_paints_with_the_chosen_painter(served, tmp_path):
    from gradio_client import Client, handle_file

    upload = photo_bytes(40, 60, seed=3)
    (tmp_path / "photo.jpg").write_bytes(upload)
    client = Client(served.url, verbose=False, download_files=str(tmp_path / "downloads"))
    painting_path, status = client.predict(
        handle_file(str(tmp_path / "photo.jpg")), "bold", api_name="/paint"
    )
    assert "**bold** painted this 60x40 photo" in status
    assert Path(painting_path).name == "photo-bold.png"
    np.testing.assert_array_equal(
        png_pixels(Path(painting_path).read_bytes()), served.expected("bold", upload)
    )


# -- the page in a real browser -------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail(
            "the browser test needs Debian's Chromium and its driver: run "
            "`apt-get install -y chromium chromium-driver` (make test installs them)",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="painter-chromium-")  # a fresh profile every run
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_page_paints_an_uploaded_photo_with_the_chosen_painter(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    upload = photo_bytes(150, 200, seed=5)  # above the tile size: the page tiles too
    photo = tmp_path / "garden.jpg"
    photo.write_bytes(upload)
    wait = WebDriverWait(browser, 60)
    browser.get(served.url + "/")
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#photo input[type=file]"))
    assert "painter: turn a photo into a painting" in browser.find_element(By.ID, "title").text

    browser.find_element(By.CSS_SELECTOR, "#painter input").click()  # pick the second painter
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "[role=option][aria-label^=bold]"))
    browser.find_element(By.CSS_SELECTOR, "[role=option][aria-label^=bold]").click()
    browser.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(photo))
    wait.until(lambda b: "bold painted this 200x150 photo" in b.find_element(By.ID, "status").text)
    image = browser.find_element(By.CSS_SELECTOR, "#painting img")
    wait.until(lambda b: b.execute_script("return arguments[0].complete", image))
    shown = browser.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight, arguments[0].src]", image
    )
    browser.save_screenshot(str(tmp_path / "serve.png"))
    assert (tmp_path / "serve.png").stat().st_size > 10_000

    assert shown[:2] == [200, 150]  # the painting at the photo's own size
    _, _, body = request(shown[2])  # the very image the page shows (and downloads)
    painting = png_pixels(body)
    np.testing.assert_array_equal(painting, served.expected("bold", upload))
    assert np.abs(painting.astype(int) - decode_photo(upload)).mean() > 5  # not the photo
    assert not np.array_equal(painting, served.expected("tiny", upload))  # the chosen painter
    # Offline by construction: every resource the page loaded came from this server.
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded and all(url.startswith(served.url) for url in loaded), loaded

    junk = tmp_path / "notes.jpg"  # a bad upload: the page says why, the server keeps serving
    junk.write_text("shopping list: eggs, paint")
    browser.find_element(By.CSS_SELECTOR, "#photo button[aria-label='Remove Image']").click()
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#photo input[type=file]"))
    browser.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(junk))
    wait.until(lambda b: "is not an image" in b.find_element(By.TAG_NAME, "body").text)
    assert request(f"{served.url}/painters")[0] == 200
