"""The ``allocation.seal`` file format, version 1 (docs/design.md#seal-file; threats T-1 to T-11
there).

Layout::

    MAGIC | version (1 byte) | header length (4 bytes, big-endian) | header | payload

The header is RFC 8785 canonical JSON: trial id, protocol hash, the key-derivation
parameters and bounds, salts, one wrapped data key per unlock path, a key-commitment tag,
the padded length and the payload nonce.  The payload is ChaCha20-Poly1305 over
``length (4 bytes) | plaintext | zeros`` of fixed size.

This module builds and checks everything that needs no key and no cryptography: it sees only
public bytes, never a passphrase, key or plaintext.  :mod:`blindself.trial.seal.crypto` does the
crypto.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, NamedTuple

import rfc8785

from blindself.errors import SealError

# The PNG-style bytes catch newline translation and 7-bit transfers early.
MAGIC = b"\x89blindself-seal\r\n\x1a\n"
VERSION = 1
MAX_PADDED_LENGTH = 1 << 24
MAX_HEADER_BYTES = 1 << 16
MAX_ID_CHARS = 256

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
SALT_BYTES = 16
LENGTH_BYTES = 4  # the plaintext length at the start of the padded block

_AEAD = "chacha20-poly1305"
_ARGON2_VERSION = 0x13
_PREFIX = len(MAGIC) + 1 + 4

# Reader-side bounds, checked before Argon2id runs (no OOM or hang on an edited header).
# The header repeats them for a reader of the file; they are never taken from it.
_BOUNDS = {"memory_kib": (8, 1 << 20), "iterations": (1, 10), "lanes": (1, 16)}
_MAX_COST = 1 << 22  # memory_kib * iterations: about 4 GiB of block passes
_BOUNDS_JSON = {
    **{name: list(pair) for name, pair in _BOUNDS.items()},
    "memory_kib_x_iterations": [8, _MAX_COST],
}

_TRUNCATED = "the seal file is truncated; restore allocation.seal from a backup"


def _kdf_problem(memory_kib: Any, iterations: Any, lanes: Any) -> str | None:
    values = {"memory_kib": memory_kib, "iterations": iterations, "lanes": lanes}
    for name, value in values.items():
        low, high = _BOUNDS[name]
        if type(value) is not int or not low <= value <= high:
            return f"{name}={value!r:.40} is not an integer in [{low}, {high}]"
    if memory_kib < 8 * lanes:
        return "memory_kib must be at least 8 * lanes"
    if memory_kib * iterations > _MAX_COST:
        return f"memory_kib * iterations exceeds {_MAX_COST}"
    return None


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost: memory in KiB, passes and lanes (RFC 9106 ``m``, ``t``, ``p``)."""

    memory_kib: int = 65536
    iterations: int = 3
    lanes: int = 1

    def __post_init__(self) -> None:
        problem = _kdf_problem(self.memory_kib, self.iterations, self.lanes)
        if problem:
            raise ValueError(f"KdfParams: {problem}")


DEFAULT_KDF = KdfParams()
TEST_KDF = KdfParams(memory_kib=8, iterations=1, lanes=1)


def weak_kdf_warning(kdf: KdfParams) -> str | None:
    """Say so when a seal's Argon2id cost is below the production parameters (docs/design.md T-47).

    The cost is the same for every allocation, so the warning reveals nothing about it.
    """
    if kdf.memory_kib >= DEFAULT_KDF.memory_kib and kdf.iterations >= DEFAULT_KDF.iterations:
        return None
    factor = (DEFAULT_KDF.memory_kib * DEFAULT_KDF.iterations) // max(
        1, kdf.memory_kib * kdf.iterations
    )
    return (
        f"the seal uses test-strength key derivation (Argon2id {kdf.memory_kib} KiB x "
        f"{kdf.iterations} pass, production {DEFAULT_KDF.memory_kib} KiB x "
        f"{DEFAULT_KDF.iterations}): guessing its passphrase is about {factor:,} times cheaper; "
        "it was made with BLINDSELF_TEST_KDF=1, which is for tests only"
    )


class Wrap(NamedTuple):
    """One unlock path: the data key encrypted under a key from ``kind`` and ``salt``."""

    kind: str
    salt: bytes
    nonce: bytes
    wrapped: bytes


class ParsedSeal(NamedTuple):
    """A seal file whose structure checked out; ``prefix`` is the payload's associated data."""

    trial_id: str
    protocol_hash: str
    kdf: KdfParams
    wraps: tuple[Wrap, ...]
    key_commitment: bytes
    nonce: bytes
    padded_length: int
    prefix: bytes = b""  # magic to the end of the header: the payload's associated data
    payload: bytes = b""


def header_document(
    trial_id: str,
    protocol_hash: str,
    padded_length: int,
    kdf: KdfParams,
    wraps: list[Wrap],
    key_commitment: bytes,
    nonce: bytes,
) -> dict[str, Any]:
    """The header as a JSON-ready dict; the first wrap is the passphrase's."""
    argon = {"name": "argon2id", "version": _ARGON2_VERSION, "bounds": _BOUNDS_JSON}
    params = {"memory_kib": kdf.memory_kib, "iterations": kdf.iterations, "lanes": kdf.lanes}
    return {
        "aead": _AEAD,
        "key_commitment": key_commitment.hex(),
        "nonce": nonce.hex(),
        "padded_length": padded_length,
        "protocol_sha256": protocol_hash,
        "trial_id": trial_id,
        "wraps": [
            {
                "kind": w.kind,
                "kdf": {**argon, **params} if w.kind == "passphrase" else {"name": "hkdf-sha256"},
                "nonce": w.nonce.hex(),
                "salt": w.salt.hex(),
                "wrapped_key": w.wrapped.hex(),
            }
            for w in wraps
        ],
    }


def seal_prefix(header: dict[str, Any]) -> bytes:
    """Magic, version, header length and canonical header: every byte before the payload."""
    raw: bytes = rfc8785.dumps(header)
    return MAGIC + bytes([VERSION]) + struct.pack(">I", len(raw)) + raw


def parse_seal(data: bytes, trial_id: str, protocol_hash: str) -> ParsedSeal:
    """Every check that needs no key, in file order.

    Raises
    ------
    SealError
        Naming what is wrong: format, version, length, header, KDF bounds or binding.
    """
    if not data:
        raise SealError("the seal file is empty; restore allocation.seal from a backup")
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):
            raise SealError(_TRUNCATED)
        raise SealError("not a blindself seal file; give the allocation.seal of the trial")
    if len(data) < _PREFIX:
        raise SealError(_TRUNCATED)
    version = data[len(MAGIC)]
    if version > VERSION:
        raise SealError(
            f"this seal was written by a newer blindself (seal format {version}); "
            "upgrade blindself to open it"
        )
    if version != VERSION:
        raise SealError(f"unknown seal format version {version}; restore a backup")
    (header_length,) = struct.unpack(">I", data[_PREFIX - 4 : _PREFIX])
    if not 0 < header_length <= MAX_HEADER_BYTES:
        raise _damaged("bad length")
    end = _PREFIX + header_length
    if len(data) < end:
        raise SealError(_TRUNCATED)
    header = _decode_header(data[_PREFIX:end])
    expected = end + LENGTH_BYTES + header.padded_length + TAG_BYTES
    if len(data) < expected:
        raise SealError(_TRUNCATED)
    if len(data) > expected:
        raise SealError(
            f"the seal file has {len(data) - expected} extra bytes at its end; "
            "restore allocation.seal from a backup"
        )
    if header.trial_id != trial_id:
        raise SealError("this seal belongs to another trial; use the allocation.seal of this trial")
    if header.protocol_hash != protocol_hash:
        raise SealError(
            "the protocol was edited since init (its hash does not match the seal); "
            "restore the frozen protocol.toml"
        )
    return header._replace(prefix=data[:end], payload=data[end:])


def check_public(trial_id: str, protocol_hash: str, padded_length: int) -> None:
    """Refuse public parameters a reader would refuse (``ValueError``: a caller's bug)."""
    for name, value in (("trial_id", trial_id), ("protocol_hash", protocol_hash)):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
            raise ValueError(f"{name} must be a non-empty string of at most {MAX_ID_CHARS} chars")
    if type(padded_length) is not int or not 0 < padded_length <= MAX_PADDED_LENGTH:
        raise ValueError(f"padded_length must be an integer in [1, {MAX_PADDED_LENGTH}]")


# -- header decoding ----------------------------------------------------------------------


def _damaged(reason: str) -> SealError:
    return SealError(
        f"the seal header is damaged ({reason}); restore allocation.seal from a backup"
    )


def _refuse(token: str) -> Any:
    raise ValueError(f"number form {token!r} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _decode_header(raw: bytes) -> ParsedSeal:
    try:
        doc = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse,
            parse_constant=_refuse,
        )
        canonical = rfc8785.dumps(doc)
    except (ValueError, RecursionError) as exc:
        raise _damaged("not valid JSON") from exc
    if canonical != raw:
        raise _damaged("not canonical JSON")
    top = _fields(doc, "header", _HEADER_FIELDS)
    if not _same(top["aead"], _AEAD):
        raise _damaged("unknown cipher")
    wraps_json = top["wraps"]
    kinds = ["passphrase", "recovery", "helper"]
    if not isinstance(wraps_json, list) or not 2 <= len(wraps_json) <= 3:
        raise _damaged("wrong number of key wraps")
    wraps = []
    for i, item in enumerate(wraps_json):
        w = _fields(item, "key wrap", _WRAP_FIELDS)
        if w["kind"] != kinds[i]:
            raise _damaged("unexpected key wrap")
        salt, nonce = _hex(w, "salt", SALT_BYTES), _hex(w, "nonce", NONCE_BYTES)
        wraps.append(Wrap(kinds[i], salt, nonce, _hex(w, "wrapped_key", KEY_BYTES + TAG_BYTES)))
    if not all(_same(w["kdf"], {"name": "hkdf-sha256"}) for w in wraps_json[1:]):
        raise _damaged("unknown key-wrap derivation")
    padded = top["padded_length"]
    if type(padded) is not int or not 0 < padded <= MAX_PADDED_LENGTH:
        raise _damaged("bad padded_length")
    for name in ("trial_id", "protocol_sha256"):
        if not isinstance(top[name], str) or not 0 < len(top[name]) <= MAX_ID_CHARS:
            raise _damaged(f"bad {name}")
    return ParsedSeal(
        trial_id=top["trial_id"],
        protocol_hash=top["protocol_sha256"],
        kdf=_kdf_from_json(wraps_json[0]["kdf"]),
        wraps=tuple(wraps),
        key_commitment=_hex(top, "key_commitment", KEY_BYTES),
        nonce=_hex(top, "nonce", NONCE_BYTES),
        padded_length=padded,
    )


_HEADER_FIELDS = frozenset(
    {"aead", "key_commitment", "nonce", "padded_length", "protocol_sha256", "trial_id", "wraps"}
)
_WRAP_FIELDS = frozenset({"kind", "kdf", "nonce", "salt", "wrapped_key"})
_ARGON_FIELDS = frozenset({"name", "version", "bounds", "memory_kib", "iterations", "lanes"})


def _fields(obj: Any, what: str, expected: frozenset[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _damaged(f"{what} is not an object")
    unknown = sorted(set(obj) - expected)
    if unknown:
        raise _damaged(
            f"unknown field {unknown[0][:40]!r} in {what}; if a newer blindself wrote it, upgrade"
        )
    missing = sorted(expected - set(obj))
    if missing:
        raise _damaged(f"missing field {missing[0]!r} in {what}")
    return obj


def _same(value: Any, expected: Any) -> bool:
    """Equal as JSON (``True == 1`` in Python, not in JSON)."""
    same: bool = rfc8785.dumps(value) == rfc8785.dumps(expected)
    return same


def _hex(obj: dict[str, Any], name: str, size: int) -> bytes:
    value = obj[name]
    if not isinstance(value, str) or len(value) != 2 * size:
        raise _damaged(f"bad {name}")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise _damaged(f"bad {name}") from None
    if raw.hex() != value:
        raise _damaged(f"bad {name}")
    return raw


def _kdf_from_json(obj: Any) -> KdfParams:
    kdf = _fields(obj, "key derivation", _ARGON_FIELDS)
    if not (_same(kdf["name"], "argon2id") and _same(kdf["version"], _ARGON2_VERSION)):
        raise _damaged("unknown key derivation")
    if not _same(kdf["bounds"], _BOUNDS_JSON):
        raise _damaged("unexpected key-derivation bounds")
    problem = _kdf_problem(kdf["memory_kib"], kdf["iterations"], kdf["lanes"])
    if problem:
        raise SealError(
            f"the seal asks for a key derivation outside the accepted bounds ({problem}); "
            "the file was edited: restore allocation.seal from a backup"
        )
    return KdfParams(kdf["memory_kib"], kdf["iterations"], kdf["lanes"])
