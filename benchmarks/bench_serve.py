"""`python -m painter serve` under load, through its HTTP API, as a script or curl would use it.

Starts the real command in its own process with two untrained painters of the sizes that matter
(weights do not change the speed): the demo's generator (`demo` preset: 16 filters, 3 residual
blocks) and the competition's 256-px ResNet (`kaggle-tpu` preset: 64 filters, 9 blocks; float32,
as a CPU serves it, unless --bf16). Then, one request at a time, POST /paint with a 256x256 and a
1024x1024 JPEG photo and prints latency p50/p95 (and the part spent inside the server: decode,
paint, PNG encode); then 4 clients at once on the 256-px photo and prints requests/s. The server's
RSS is printed before and after.

    python benchmarks/bench_serve.py                  # 5-10 minutes on 2 CPU cores (1024-px ResNet)
    python benchmarks/bench_serve.py --requests 20 --large-requests 5 --clients 4

Latency of a 1024-px photo is dominated by the generator (~16x the pixels of 256 px); requests/s
with 4 clients stays that of one client on a CPU, since a painter paints one photo at a time (by
design: answers in order of arrival, memory bounded) and one call already uses every core.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: quiet logs
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to localhost


def build_painters(folder: Path, bf16: bool) -> dict[str, str]:
    """Save the two generators as .keras files; returns name -> description."""
    from painter.runtime import select_runtime

    select_runtime(verbose=False)
    import keras

    from painter.config import preset
    from painter.models import build_generator

    keras.utils.set_random_seed(0)
    demo = preset("demo")
    build_generator(demo, "monet_generator").save(folder / "demo.keras")
    resnet = preset("kaggle-tpu")
    if not bf16:  # bfloat16 is the TPU's type; CPUs without AMX emulate it slowly
        resnet = resnet.replace(mixed_precision=False)
    build_generator(resnet, "monet_generator").save(folder / "resnet256.keras")
    return {
        "demo": f"demo preset ({demo.generator_filters} filters, {demo.resnet_blocks} blocks)",
        "resnet256": f"kaggle-tpu ResNet ({resnet.generator_filters} filters, 9 blocks"
        f"{', bf16' if bf16 else ''})",
    }


def photo(side: int, seed: int = 0) -> bytes:
    """A smooth colourful scene with noise, as JPEG (camera-like compression ratio)."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    rng = np.random.default_rng(seed)
    base = 127 + 100 * np.sin(x[..., None] / 37 + y[..., None] / 23 + np.array([0, 1, 2]))
    pixels = np.clip(base + rng.normal(0, 8, (side, side, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def start_server(painters: list[str]) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "painter", "serve", "--port", "0"]
    for spec in painters:
        command += ["--painter", spec]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    for line in server.stdout:
        match = re.search(r"serving .* at (http://\S+?)/ ", line)
        if match:
            # keep draining its output so the server never blocks on a full pipe
            threading.Thread(target=server.stdout.read, daemon=True).start()
            return server, match.group(1)
    raise SystemExit(f"the server exited ({server.wait()}) before serving")


def post(url: str, data: bytes) -> tuple[float, float]:
    """(seconds for the whole request, seconds inside the server) of one POST /paint."""
    started = time.perf_counter()
    request = urllib.request.Request(url, data=data, method="POST")
    with OPENER.open(request, timeout=600) as response:
        response.read()
        inside = float(response.headers["X-Paint-Seconds"])
    return time.perf_counter() - started, inside


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return float("nan")


def latency(url: str, data: bytes, count: int) -> tuple[float, float, float, float]:
    """p50 and p95 of the whole request (ms), median time inside the server (ms), and the
    requests/s of this one client sending back to back."""
    post(url, data)  # warm-up: the first call of a new size traces the model
    results = [post(url, data) for _ in range(count)]
    totals = [total * 1e3 for total, _ in results]
    return (
        percentile(totals, 50),
        percentile(totals, 95),
        statistics.median(inside * 1e3 for _, inside in results),
        1e3 * count / sum(totals),
    )


def throughput(url: str, data: bytes, clients: int, per_client: int) -> float:
    barrier = threading.Barrier(clients)

    def client() -> None:
        barrier.wait()
        for _ in range(per_client):
            post(url, data)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return clients * per_client / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=12, help="256-px requests per painter")
    parser.add_argument(
        "--large-requests",
        type=int,
        default=4,
        help="1024-px requests per painter (each takes seconds on a CPU)",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--per-client", type=int, default=4, help="256-px requests per client")
    parser.add_argument("--bf16", action="store_true", help="the ResNet in bfloat16")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        descriptions = build_painters(Path(folder), args.bf16)
        server, url = start_server([f"{name}={folder}/{name}.keras" for name in descriptions])
        try:
            print(
                f"bench_serve: `python -m painter serve` at {url}, pid {server.pid}, "
                f"{os.cpu_count()} CPU cores; server RSS {rss_mb(server.pid):.0f} MB at start"
            )
            small, large = photo(256), photo(1024)
            print(
                f"{'painter':<10} {'generator':<42} {'photo':>9} {'n':>3} {'p50 ms':>8} "
                f"{'p95 ms':>8} {'in server':>10}"
            )
            one_client = {}
            for name, description in descriptions.items():
                for data, side, count in (
                    (small, 256, args.requests),
                    (large, 1024, args.large_requests),
                ):
                    p50, p95, inside, rate = latency(f"{url}/paint?painter={name}", data, count)
                    one_client.setdefault(name, rate)  # the 256-px run's
                    print(
                        f"{name:<10} {description:<42} {side:>4}x{side:<4} {count:>3} "
                        f"{p50:>8.0f} {p95:>8.0f} {inside:>8.0f}ms",
                        flush=True,
                    )
            for name in descriptions:
                rate = throughput(
                    f"{url}/paint?painter={name}", small, args.clients, args.per_client
                )
                print(
                    f"{name:<10} 256x256: {rate:.2f} requests/s with {args.clients} concurrent "
                    f"clients ({args.clients * args.per_client} requests); "
                    f"{one_client[name]:.2f} with one",
                    flush=True,
                )
            print(f"server RSS {rss_mb(server.pid):.0f} MB at the end")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
