"""Seal and open the allocation, and the commitment (SPEC 6 and 12; RELIABILITY T-1 to T-11).

``allocation.seal``, format version 1::

    MAGIC | version (1 byte) | header length (4 bytes, big-endian) | header | payload

The header is RFC 8785 canonical JSON: trial id, protocol hash, the key-derivation
parameters and bounds, salts, one wrapped data key per unlock path, a key-commitment tag,
the padded length and the payload nonce.  The payload is ChaCha20-Poly1305 over
``length (4 bytes) | plaintext | zeros`` of fixed size, under a key derived from a random
data key, with every byte before it (magic to header) as associated data.  The data key is
wrapped under the passphrase (Argon2id), the printed recovery key and optionally a helper
key (HKDF-SHA256); each wrap binds the trial id and protocol hash as associated data.

Checks made before any key is used may say what is wrong.  Every failure after the key
derivation raises one message, so a wrong passphrase and a damaged file look the same.
A participant who holds the passphrase can still decrypt early outside the tool.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from blindself.errors import SealError
from blindself.randomness import RandomSource

# The PNG-style bytes catch newline translation and 7-bit transfers early.
MAGIC = b"\x89blindself-seal\r\n\x1a\n"
VERSION = 1
MIN_PASSPHRASE_CHARS = 8
MAX_PADDED_LENGTH = 1 << 24
MAX_HEADER_BYTES = 1 << 16
MAX_ID_CHARS = 256

_KEY = 32
_NONCE = 12
_TAG = 16
_SALT = 16
_LEN = 4
_DOMAIN = b"blindself-seal/1 "
_COMMITMENT_TAG = b"blindself-commitment/1\x00"
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

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_KEY_RANDOM = 20  # 160 bits -> 32 symbols
_KEY_CHECK = 3  # 15 check bits: a mistyped key is named before any key is derived
_KEY_SYMBOLS = 32 + _KEY_CHECK
_KEY_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None})
_KEY_FORM = "the recovery key has 35 symbols in groups like XXXXX-XXXXX-...; copy it again"

OPAQUE = (
    "cannot open the seal: wrong passphrase or recovery key, or a damaged seal file; "
    "check the key, or restore allocation.seal from a backup"
)
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


@dataclass(frozen=True)
class Sealed:
    """A sealed file's bytes and the keys to print once; secrets stay out of ``repr``."""

    data: bytes = field(repr=False)
    recovery_key: str = field(repr=False)
    helper_key: str | None = field(repr=False)


@dataclass(frozen=True)
class _Wrap:
    kind: str
    salt: bytes
    nonce: bytes
    wrapped: bytes


@dataclass(frozen=True)
class _Parsed:
    trial_id: str
    protocol_hash: str
    kdf: KdfParams
    wraps: tuple[_Wrap, ...]
    key_commitment: bytes
    nonce: bytes
    padded_length: int
    prefix: bytes = b""  # magic to the end of the header: the payload's associated data
    payload: bytes = b""


def seal(
    plaintext: bytes,
    *,
    passphrase: str,
    trial_id: str,
    protocol_hash: str,
    padded_length: int,
    source: RandomSource,
    kdf: KdfParams = DEFAULT_KDF,
    with_helper_key: bool = False,
) -> Sealed:
    """Encrypt ``plaintext`` padded to ``padded_length``; the file size depends on nothing else.

    The passphrase is NFC-normalised and stripped of leading and trailing whitespace, and
    must then have at least 8 characters.  All salts, nonces and keys come from ``source``.
    """
    _check_public(trial_id, protocol_hash, padded_length)
    if len(plaintext) > padded_length:
        raise ValueError(f"plaintext of {len(plaintext)} bytes exceeds padded_length")
    secret = _passphrase_bytes(passphrase)
    if len(secret.decode("utf-8")) < MIN_PASSPHRASE_CHARS:
        raise SealError(
            f"the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters "
            "(or --generate-passphrase)"
        )
    data_key = source.token_bytes(_KEY)
    nonce = source.token_bytes(_NONCE)
    salt = source.token_bytes(_SALT)
    pass_key = _argon2id(secret, salt, kdf)
    wraps = [_wrap(data_key, "passphrase", salt, pass_key, source, trial_id, protocol_hash)]
    keys: dict[str, bytes] = {}
    for kind in ("recovery", "helper") if with_helper_key else ("recovery",):
        keys[kind] = source.token_bytes(_KEY_RANDOM)
        salt = source.token_bytes(_SALT)
        wrap_key = _hkdf(keys[kind], salt, b"wrap " + kind.encode())
        wraps.append(_wrap(data_key, kind, salt, wrap_key, source, trial_id, protocol_hash))
    header = _header(trial_id, protocol_hash, padded_length, kdf, wraps, _commit(data_key), nonce)
    prefix = _prefix(header)
    block = struct.pack(">I", len(plaintext)) + plaintext + bytes(padded_length - len(plaintext))
    payload = _aead_encrypt(_payload_key(data_key), nonce, block, prefix)
    helper = keys.get("helper")
    return Sealed(
        data=prefix + payload,
        recovery_key=_format_key(keys["recovery"]),
        helper_key=None if helper is None else _format_key(helper),
    )


def open_seal(
    data: bytes,
    *,
    trial_id: str,
    protocol_hash: str,
    passphrase: str | None = None,
    recovery_key: str | None = None,
) -> bytes:
    """The sealed plaintext, unlocked by the passphrase or by the recovery (or helper) key.

    Raises
    ------
    SealError
        Naming the problem when the file's structure, trial or protocol is wrong; one
        opaque message for every failure after key derivation.
    """
    if (passphrase is None) == (recovery_key is None):
        raise ValueError("give exactly one of passphrase and recovery_key")
    # The typed input is checked first, then the file, and only then is a key derived.
    secret = _passphrase_bytes(passphrase) if passphrase is not None else None
    raw = _parse_key(recovery_key) if recovery_key is not None else b""
    parsed = _parse(data, trial_id, protocol_hash)
    if secret is not None:
        wrap = parsed.wraps[0]
        candidates = [(wrap, _argon2id(secret, wrap.salt, parsed.kdf))]
    else:
        candidates = [(w, _hkdf(raw, w.salt, b"wrap " + w.kind.encode())) for w in parsed.wraps[1:]]
    for wrap, wrap_key in candidates:
        plaintext = _unlock(parsed, wrap, wrap_key, trial_id, protocol_hash)
        if plaintext is not None:
            return plaintext
    raise SealError(OPAQUE)


def _unlock(
    parsed: _Parsed, wrap: _Wrap, wrap_key: bytes, trial_id: str, protocol_hash: str
) -> bytes | None:
    """The plaintext, or None whatever failed: callers must not tell failures apart."""
    ad = _wrap_ad(wrap.kind, trial_id, protocol_hash)
    try:
        data_key = _aead_decrypt(wrap_key, wrap.nonce, wrap.wrapped, ad)
    except InvalidTag:
        return None
    # ChaCha20-Poly1305 is not key-committing: the tag pins the one data key that may open.
    if not hmac.compare_digest(_commit(data_key), parsed.key_commitment):
        return None
    try:
        block = _aead_decrypt(_payload_key(data_key), parsed.nonce, parsed.payload, parsed.prefix)
    except InvalidTag:
        return None
    size = int.from_bytes(block[:_LEN], "big")
    if size > parsed.padded_length or any(block[_LEN + size :]):
        return None
    return block[_LEN : _LEN + size]


def check_seal_structure(data: bytes, *, trial_id: str, protocol_hash: str) -> None:
    """Run the checks that need no key: format, version, length, header, KDF bounds, binding."""
    _parse(data, trial_id, protocol_hash)


def generate_passphrase(source: RandomSource) -> str:
    """A random passphrase of 25 lowercase Crockford symbols in five groups (125 bits)."""
    symbols = "".join(_CROCKFORD[source.randbelow(32)] for _ in range(25)).lower()
    return "-".join(symbols[i : i + 5] for i in range(0, 25, 5))


def commitment(document: bytes) -> str:
    """Hex SHA-256 over a domain tag and the canonical allocation document.

    Examples
    --------
    >>> commitment(b"{}")[:16]
    'f08333e1709c9376'
    """
    return hashlib.sha256(_COMMITMENT_TAG + document).hexdigest()


def sealed_size(
    padded_length: int,
    kdf: KdfParams = DEFAULT_KDF,
    with_helper_key: bool = False,
    *,
    trial_id: str,
    protocol_hash: str,
) -> int:
    """The size in bytes of every seal made with these public parameters."""
    _check_public(trial_id, protocol_hash, padded_length)
    kinds = ("passphrase", "recovery", "helper")[: 3 if with_helper_key else 2]
    blank = [_Wrap(kind, bytes(_SALT), bytes(_NONCE), bytes(_KEY + _TAG)) for kind in kinds]
    header = _header(trial_id, protocol_hash, padded_length, kdf, blank, bytes(_KEY), bytes(_NONCE))
    return len(_prefix(header)) + _LEN + padded_length + _TAG


# -- primitives ---------------------------------------------------------------------------


def _aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, ad)


def _aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, ad)


def _argon2id(
    password: bytes,
    salt: bytes,
    params: KdfParams,
    *,
    length: int = _KEY,
    secret: bytes | None = None,
    ad: bytes | None = None,
) -> bytes:
    kdf = Argon2id(
        salt=salt,
        length=length,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
        secret=secret,
        ad=ad,
    )
    return kdf.derive(password)


def _hkdf(key: bytes, salt: bytes | None, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY, salt=salt, info=_DOMAIN + purpose).derive(
        key
    )


def _payload_key(data_key: bytes) -> bytes:
    return _hkdf(data_key, None, b"payload key")


def _commit(data_key: bytes) -> bytes:
    return _hkdf(data_key, None, b"key commitment")


def _wrap_ad(kind: str, trial_id: str, protocol_hash: str) -> bytes:
    context = {"context": "blindself-seal/1 key wrap", "kind": kind}
    ad: bytes = rfc8785.dumps({**context, "protocol_sha256": protocol_hash, "trial_id": trial_id})
    return ad


def _wrap(
    data_key: bytes,
    kind: str,
    salt: bytes,
    wrap_key: bytes,
    source: RandomSource,
    trial_id: str,
    protocol_hash: str,
) -> _Wrap:
    nonce = source.token_bytes(_NONCE)
    wrapped = _aead_encrypt(wrap_key, nonce, data_key, _wrap_ad(kind, trial_id, protocol_hash))
    return _Wrap(kind, salt, nonce, wrapped)


# -- header -------------------------------------------------------------------------------


def _header(
    trial_id: str,
    protocol_hash: str,
    padded_length: int,
    kdf: KdfParams,
    wraps: list[_Wrap],
    key_commitment: bytes,
    nonce: bytes,
) -> dict[str, Any]:
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


def _prefix(header: dict[str, Any]) -> bytes:
    raw: bytes = rfc8785.dumps(header)
    return MAGIC + bytes([VERSION]) + struct.pack(">I", len(raw)) + raw


def _parse(data: bytes, trial_id: str, protocol_hash: str) -> _Parsed:
    """Every check that needs no key, in file order."""
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
    expected = end + _LEN + header.padded_length + _TAG
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
    return replace(header, prefix=data[:end], payload=data[end:])


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


def _decode_header(raw: bytes) -> _Parsed:
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
        salt, nonce = _hex(w, "salt", _SALT), _hex(w, "nonce", _NONCE)
        wraps.append(_Wrap(kinds[i], salt, nonce, _hex(w, "wrapped_key", _KEY + _TAG)))
    if not all(_same(w["kdf"], {"name": "hkdf-sha256"}) for w in wraps_json[1:]):
        raise _damaged("unknown key-wrap derivation")
    padded = top["padded_length"]
    if type(padded) is not int or not 0 < padded <= MAX_PADDED_LENGTH:
        raise _damaged("bad padded_length")
    for name in ("trial_id", "protocol_sha256"):
        if not isinstance(top[name], str) or not 0 < len(top[name]) <= MAX_ID_CHARS:
            raise _damaged(f"bad {name}")
    return _Parsed(
        trial_id=top["trial_id"],
        protocol_hash=top["protocol_sha256"],
        kdf=_kdf_from_json(wraps_json[0]["kdf"]),
        wraps=tuple(wraps),
        key_commitment=_hex(top, "key_commitment", _KEY),
        nonce=_hex(top, "nonce", _NONCE),
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


# -- inputs -------------------------------------------------------------------------------


def _check_public(trial_id: str, protocol_hash: str, padded_length: int) -> None:
    for name, value in (("trial_id", trial_id), ("protocol_hash", protocol_hash)):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
            raise ValueError(f"{name} must be a non-empty string of at most {MAX_ID_CHARS} chars")
    if type(padded_length) is not int or not 0 < padded_length <= MAX_PADDED_LENGTH:
        raise ValueError(f"padded_length must be an integer in [1, {MAX_PADDED_LENGTH}]")


def _passphrase_bytes(passphrase: str) -> bytes:
    """NFC, then leading and trailing whitespace stripped; inner whitespace counts."""
    text = unicodedata.normalize("NFC", passphrase).strip()
    if not text:
        raise SealError("the passphrase is empty; type the passphrase chosen at init")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise SealError("the passphrase is not valid text; type it again") from None


def _format_key(raw: bytes) -> str:
    check = int.from_bytes(hashlib.sha256(_DOMAIN + b"key check" + raw).digest()[:2], "big") >> 1
    value = (int.from_bytes(raw, "big") << (5 * _KEY_CHECK)) | check
    symbols = "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(_KEY_SYMBOLS)))
    return "-".join(symbols[i : i + 5] for i in range(0, _KEY_SYMBOLS, 5))


def _parse_key(text: str) -> bytes:
    """Recovery or helper key bytes; case, hyphens, whitespace and O/I/L are forgiven."""
    symbols = "".join(text.split()).upper().translate(_KEY_ALIASES)
    if len(symbols) != _KEY_SYMBOLS or any(c not in _CROCKFORD for c in symbols):
        raise SealError(_KEY_FORM)
    value = 0
    for c in symbols:
        value = value * 32 + _CROCKFORD.index(c)
    raw = (value >> (5 * _KEY_CHECK)).to_bytes(_KEY_RANDOM, "big")
    if _format_key(raw).replace("-", "") != symbols:
        raise SealError(
            "the recovery key has a typo (its check symbols do not match); "
            "compare it with the printed copy"
        )
    return raw
