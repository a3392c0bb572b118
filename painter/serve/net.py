"""Sockets for `serve`: bind the port before anything slow, and say where the server is."""

from __future__ import annotations

import socket

from painter.errors import PainterError


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free port), so a busy port is a clear error
    before the server starts instead of a uvicorn traceback."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        raise PainterError(
            f"cannot listen on {host}:{port} ({error}): pass another --port (0 picks a free one) "
            "or a --host address of this machine"
        ) from None
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"  # reachable from this machine; the page works on every interface
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
