"""A stand-in for Kaggle's API server, for running the real `kaggle` CLI offline.

The CLI (kaggle 2.2.x) posts JSON to `http://localhost/api/v1/<Service>/<Method>` when
`KAGGLE_API_ENVIRONMENT=LOCALHOST`; with `http_proxy` pointing here the request arrives at this
server (as a proxy request: the path is the full URL). Every request is recorded; `SaveKernel` is
answered as Kaggle answers a successful push (ref, url, versionNumber, error="").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RecordedRequest:
    method: str
    url: str  # as sent (a proxy request carries the full URL)
    path: str  # the URL's path, e.g. /api/v1/kernels.KernelsApiService/SaveKernel
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON


class KaggleStub:
    """`with KaggleStub() as stub:` serves on 127.0.0.1 at a free port (`stub.address`);
    `stub.requests` lists what arrived; `stub.save_kernel_requests()` the pushes."""

    def __init__(self, version_number: int = 1) -> None:
        self.requests: list[RecordedRequest] = []
        self.version_number = version_number
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw
                path = urlsplit(self.path).path
                stub.requests.append(
                    RecordedRequest("POST", self.path, path, dict(self.headers.items()), body)
                )
                if path.endswith("/kernels.KernelsApiService/SaveKernel"):
                    slug = (body or {}).get("slug", "owner/kernel")
                    self._reply(
                        200,
                        {
                            "ref": f"/code/{slug}",
                            "url": f"https://www.kaggle.com/code/{slug}",
                            "versionNumber": stub.version_number,
                            "error": "",
                            "invalidTags": [],
                            "invalidDatasetSources": [],
                            "invalidCompetitionSources": [],
                            "invalidKernelSources": [],
                            "invalidModelSources": [],
                        },
                    )
                else:
                    self._reply(404, {"code": 404, "message": f"the stub does not serve {path}"})

            def do_GET(self) -> None:  # noqa: N802
                stub.requests.append(
                    RecordedRequest(
                        "GET", self.path, urlsplit(self.path).path, dict(self.headers.items()), None
                    )
                )
                self._reply(404, {"code": 404, "message": "the stub serves POST only"})

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def save_kernel_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/SaveKernel")]

    def __enter__(self) -> KaggleStub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def kaggle_cli_env(stub: KaggleStub, home: str) -> dict[str, str]:
    """Environment for the real `kaggle` CLI to talk to `stub`, with throwaway credentials in
    `home` (nothing of the user's ~/.kaggle is read)."""
    proxy_settings = ("KAGGLE_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(proxy_settings)}
    env.update(
        {
            "HOME": home,
            "KAGGLE_CONFIG_DIR": home,
            "KAGGLE_USERNAME": "painter-test",
            "KAGGLE_KEY": "0123456789abcdef",
            "KAGGLE_API_ENVIRONMENT": "LOCALHOST",  # http://localhost/api/v1/<Service>/<Method>
            "HTTP_PROXY": stub.address,  # ... which the proxy setting routes to the stub
            "http_proxy": stub.address,
            "NO_PROXY": "",
            "no_proxy": "",
        }
    )
    return env


def push_with_kaggle_cli(
    folder: str | os.PathLike, home: str | os.PathLike, *extra_args: str
) -> tuple[subprocess.CompletedProcess, KaggleStub]:
    """Run the real `kaggle kernels push -p folder` (the venv's CLI) against a fresh stub."""
    cli = Path(sys.executable).with_name("kaggle")
    with KaggleStub() as stub:
        done = subprocess.run(
            [str(cli), "kernels", "push", "-p", str(folder), *extra_args],
            env=kaggle_cli_env(stub, str(home)),
            capture_output=True,
            text=True,
            timeout=120,
        )
    return done, stub
