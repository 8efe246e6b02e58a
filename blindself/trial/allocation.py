"""The allocation document: what the seal hides and the commitment binds
(docs/design.md#allocation-document-and-commitment).

It holds the protocol hash, trial id, scheme, every container (code, arm, block, period),
a 256-bit secret nonce and no calendar dates.  It is serialised as RFC 8785 canonical
JSON, so reordering keys or whitespace never changes the commitment, while any change
of content does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import rfc8785

from blindself.errors import SealError
from blindself.trial.scheme import Scheme

SCHEMA = "blindself-allocation/1"
NONCE_BYTES = 32
_PAD_QUANTUM = 512


@dataclass(frozen=True)
class Container:
    """One coded container; ``block`` and ``period`` are 1-based, ``period`` None in self mode."""

    code: str
    arm: str
    block: int
    period: int | None


@dataclass(frozen=True)
class AllocationDoc:
    trial_id: str
    protocol_sha256: str
    blinding: str
    scheme: Scheme
    containers: tuple[Container, ...]
    nonce: str

    def canonical(self) -> bytes:
        """RFC 8785 canonical JSON bytes (containers sorted by code)."""
        return rfc8785.dumps(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "trial_id": self.trial_id,
            "protocol_sha256": self.protocol_sha256,
            "blinding": self.blinding,
            "scheme": self.scheme.to_json(),
            "containers": [
                {"code": c.code, "arm": c.arm, "block": c.block, "period": c.period}
                for c in sorted(self.containers, key=lambda c: c.code)
            ],
            "nonce": self.nonce,
        }

    def arm_of(self, code: str) -> str:
        for c in self.containers:
            if c.code == code:
                return c.arm
        raise KeyError(code)

    @property
    def code_to_arm(self) -> dict[str, str]:
        return {c.code: c.arm for c in self.containers}


def parse_allocation(data: bytes) -> AllocationDoc:
    """Parse opened seal plaintext; refuse anything that is not a v1 allocation."""
    try:
        doc = json.loads(data.decode("utf-8"))
        if doc.get("schema") != SCHEMA:
            raise SealError("the sealed allocation has an unknown format; upgrade blindself")
        return AllocationDoc(
            trial_id=str(doc["trial_id"]),
            protocol_sha256=str(doc["protocol_sha256"]),
            blinding=str(doc["blinding"]),
            scheme=Scheme.from_json(doc["scheme"]),
            containers=tuple(
                Container(str(c["code"]), str(c["arm"]), int(c["block"]), c["period"])
                for c in doc["containers"]
            ),
            nonce=str(doc["nonce"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SealError("the sealed allocation is damaged; restore a backup") from exc


def padded_length(scheme: Scheme, trial_id: str, protocol_sha256: str, blinding: str) -> int:
    """A plaintext size computed from public parameters only.

    Every container is costed with the longest arm name and the widest period number, so the
    bound holds for any draw; rounding up to a fixed quantum leaves slack for the encoding.
    """
    longest = max(scheme.arms, key=len)
    worst = AllocationDoc(
        trial_id=trial_id,
        protocol_sha256=protocol_sha256,
        blinding=blinding,
        scheme=scheme,
        containers=tuple(
            Container("X" * 5, longest, scheme.n_periods, scheme.n_periods)
            for _ in range(scheme.n_periods)
        ),
        nonce="0" * (2 * NONCE_BYTES),
    )
    size = len(worst.canonical())
    return (size // _PAD_QUANTUM + 2) * _PAD_QUANTUM
