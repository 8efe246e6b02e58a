"""What stands between the network and someone's health diary (docs/design.md T-50).

One object, :class:`Guard`, checked before every request and applied to every response:

* the ``Host`` header must name the address the server is bound to (a DNS-rebinding page
  reaches the server under its own host name, and is refused);
* a device pairs once with a one-time token of 256 bits, exchanged for an HttpOnly,
  SameSite=Strict session cookie; failed tokens are rate-limited per client address (so one
  device cannot lock the person's own out, review F17) and, far more loosely, for everyone
  (a LAN attacker can use many addresses);
* every POST carries the session's CSRF token, and a foreign ``Origin`` or cross-site
  ``Sec-Fetch-Site`` is refused outright;
* responses carry a CSP of ``default-src 'self'``, no CORS header ever, and ``no-store``.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

TOKEN_BYTES = 32  # 256 bits: pairing token, CSRF token and session key alike
MAX_FAILURES = 5  # wrong tokens per client address per window
MAX_FAILURES_ALL = 60  # from all addresses together: a 256-bit token is never guessed anyway
FAILURE_WINDOW = timedelta(minutes=1)

CSP = (
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)
# The stored report is one self-contained file with inline styles and SVG: it may style
# itself, but runs no script, submits no form and loads nothing from elsewhere.
REPORT_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "script-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "object-src 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on our own
    # form posts, which the Origin check must refuse (a sandboxed frame sends null too).
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}

PairResult = Literal["paired", "wrong", "locked", "used"]


def token_text(token_bytes: Callable[[int], bytes]) -> str:
    """A URL-safe text token of :data:`TOKEN_BYTES` random bytes."""
    import base64

    return base64.urlsafe_b64encode(token_bytes(TOKEN_BYTES)).rstrip(b"=").decode("ascii")


def same_secret(offered: str | None, expected: str | None) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if not offered or not expected:
        return False
    return hmac.compare_digest(offered.encode("utf-8", "replace"), expected.encode("utf-8"))


@dataclass
class Guard:
    """The server's security state: allowed hosts, the pairing token, failed attempts."""

    hosts: frozenset[str]  # exact Host header values, e.g. "127.0.0.1:8765"
    pairing_token: str | None
    clock: Callable[[], datetime]
    failures: deque[datetime] = field(default_factory=deque)  # every address
    by_client: dict[str, deque[datetime]] = field(default_factory=dict)

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{h}" for h in self.hosts)

    def host_allowed(self, host: str | None) -> bool:
        return host is not None and host in self.hosts

    def same_origin(self, origin: str | None, fetch_site: str | None) -> bool:
        """Whether a POST comes from our own pages (absent headers: an old browser or curl)."""
        if origin is not None and origin not in self.origins:
            return False
        return fetch_site in (None, "same-origin", "none")

    def locked_for(self, client: str = "") -> int:
        """Seconds until ``client`` may try pairing again (0: it may be tried now)."""
        now = self.clock()
        _expire(self.failures, now)
        for key in [k for k, q in self.by_client.items() if not _expire(q, now)]:
            del self.by_client[key]  # bounded: at most MAX_FAILURES_ALL addresses per window
        mine = self.by_client.get(client, deque())
        waits = [
            _wait(q, now)
            for q, limit in ((mine, MAX_FAILURES), (self.failures, MAX_FAILURES_ALL))
            if len(q) >= limit
        ]
        return max(waits, default=0)

    def pair(self, offered: str | None, client: str = "") -> PairResult:
        """Spend the one-time token; while locked even the right token is refused."""
        if self.locked_for(client):
            return "locked"
        if self.pairing_token is None:
            self._failed(client)
            return "used"
        if not same_secret(offered, self.pairing_token):
            self._failed(client)
            return "wrong"
        self.pairing_token = None
        return "paired"

    def _failed(self, client: str) -> None:
        now = self.clock()
        self.failures.append(now)
        self.by_client.setdefault(client, deque()).append(now)


def _expire(q: deque[datetime], now: datetime) -> int:
    """Drop the failures older than the window; how many are left."""
    while q and now - q[0] >= FAILURE_WINDOW:
        q.popleft()
    return len(q)


def _wait(q: deque[datetime], now: datetime) -> int:
    left = FAILURE_WINDOW - (now - q[0])
    return max(1, int(left.total_seconds() + 0.999))
