"""The uvicorn server running the app on a socket `net.bind` already bound."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from painter.errors import PainterError
from painter.serve.net import base_url


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
