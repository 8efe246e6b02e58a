"""Running the app: the bound address, the pairing URL, and waitress until Ctrl-C.

Waitress (a maintained, pure-Python production WSGI server) rather than Werkzeug's
development server: it bounds request sizes and idle connections, exposes no traceback,
and writes no access log, so nothing of a check-in reaches the terminal.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blindself.errors import BlindselfError, TrialStateError
from blindself.services.context import Context

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8765
# One worker thread: one person checks in, one request at a time is enough
# (docs/design.md#web-app-serve).
THREADS = 1


@dataclass
class Server:
    """A bound server: its pairing URL, and ``run()`` serving until interrupted."""

    url: str
    host: str
    port: int
    _server: Any

    def run(self) -> None:
        self._server.run()  # waitress returns after KeyboardInterrupt (Ctrl-C)

    def close(self) -> None:
        self._server.close()


def lan_address() -> str:
    """This machine's address on its local network (the interface of the default route).

    Connecting a UDP socket sends nothing; it only asks the kernel which source address
    it would use.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # a documentation address (RFC 5737): never routed anywhere
            addr = str(s.getsockname()[0])
    except OSError as exc:
        raise TrialStateError(
            f"no local network address found ({exc.strerror or exc}); connect to a network, "
            "or drop --lan to serve this computer only"
        ) from exc
    if addr.startswith("127.") or addr == "0.0.0.0":  # noqa: S104 (a value compared, not bound)
        raise TrialStateError("no local network address found; drop --lan")
    return addr


def make_server(
    trial_dir: Path,
    *,
    port: int,
    lan: bool,
    context: Context,
    token_bytes: Callable[[int], bytes],
    address: str | None = None,
) -> Server:
    """Bind the socket and build the app; the server answers only at the bound address."""
    from waitress.server import create_server

    from blindself.services.daily import trial_status
    from blindself.web.app import create_app, pairing_token

    trial_status(trial_dir, context)  # refuse a folder that is not a trial before binding
    host = address or (lan_address() if lan else LOOPBACK)
    sock = _bind(host, port)
    bound = int(sock.getsockname()[1])
    hosts = {f"{host}:{bound}"}
    if host == LOOPBACK:
        hosts.add(f"localhost:{bound}")  # "localhost" cannot be rebound to another address
    app = create_app(trial_dir, context=context, token_bytes=token_bytes, hosts=hosts)
    logging.getLogger("waitress").setLevel(logging.ERROR)
    server = create_server(
        app,
        sockets=[sock],
        threads=THREADS,
        ident="blindself",
        url_scheme="http",
        connection_limit=20,
        channel_timeout=60,
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        clear_untrusted_proxy_headers=True,
    )
    url = f"http://{host}:{bound}/pair?token={pairing_token(app)}"
    return Server(url=url, host=host, port=bound, _server=server)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise BlindselfError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "choose another port with --port N (0 picks a free one)"
        ) from exc
    return sock


def log_to(stream: Any) -> None:
    """Pairing events (never check-in content) to ``stream``, one line each."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log = logging.getLogger("blindself.web")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
