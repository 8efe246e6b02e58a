"""Seal and open the allocation, and the commitment (docs/design.md#seal-file; threats T-1 to T-11
there).

The file layout and every check that needs no key live in :mod:`blindself.trial.seal.format`.
The payload is ChaCha20-Poly1305 over ``length (4 bytes) | plaintext | zeros`` of fixed
size, under a key derived from a random data key, with every byte before it (magic to
header) as associated data.  The data key is wrapped under the passphrase (Argon2id), the
printed recovery key and optionally a helper key (HKDF-SHA256); each wrap binds the trial id
and protocol hash as associated data.

Checks made before any key is used may say what is wrong.  Every failure after the key
derivation raises one message, so a wrong passphrase and a damaged file look the same.
A participant who holds the passphrase can still decrypt early outside the tool.

This is the only module that imports :mod:`cryptography`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import unicodedata
from dataclasses import dataclass, field

import rfc8785
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from blindself.errors import SealError
from blindself.randomness import RandomSource
from blindself.trial.seal.format import (
    DEFAULT_KDF,
    KEY_BYTES,
    LENGTH_BYTES,
    MAGIC,
    MAX_HEADER_BYTES,
    MAX_ID_CHARS,
    MAX_PADDED_LENGTH,
    NONCE_BYTES,
    SALT_BYTES,
    TAG_BYTES,
    TEST_KDF,
    VERSION,
    KdfParams,
    ParsedSeal,
    Wrap,
    check_public,
    header_document,
    parse_seal,
    seal_prefix,
    weak_kdf_warning,
)

__all__ = [
    "DEFAULT_KDF",
    "MAGIC",
    "MAX_HEADER_BYTES",
    "MAX_ID_CHARS",
    "MAX_PADDED_LENGTH",
    "MIN_PASSPHRASE_CHARS",
    "OPAQUE",
    "TEST_KDF",
    "VERSION",
    "KdfParams",
    "Sealed",
    "check_seal_structure",
    "commitment",
    "generate_passphrase",
    "open_seal",
    "passphrase_problem",
    "seal",
    "sealed_size",
    "weak_kdf_warning",
]

MIN_PASSPHRASE_CHARS = 8

_DOMAIN = b"blindself-seal/1 "
_COMMITMENT_TAG = b"blindself-commitment/1\x00"

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

# Their names before the format moved to sealformat; tests forge seal files with them.
_header = header_document
_prefix = seal_prefix


@dataclass(frozen=True)
class Sealed:
    """A sealed file's bytes and the keys to print once; secrets stay out of ``repr``."""

    data: bytes = field(repr=False)
    recovery_key: str = field(repr=False)
    helper_key: str | None = field(repr=False)


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
    check_public(trial_id, protocol_hash, padded_length)
    if len(plaintext) > padded_length:
        raise ValueError(f"plaintext of {len(plaintext)} bytes exceeds padded_length")
    problem = passphrase_problem(passphrase)
    if problem is not None:
        raise SealError(problem)
    secret = _passphrase_bytes(passphrase)
    data_key = source.token_bytes(KEY_BYTES)
    nonce = source.token_bytes(NONCE_BYTES)
    salt = source.token_bytes(SALT_BYTES)
    pass_key = _argon2id(secret, salt, kdf)
    wraps = [_wrap(data_key, "passphrase", salt, pass_key, source, trial_id, protocol_hash)]
    keys: dict[str, bytes] = {}
    for kind in ("recovery", "helper") if with_helper_key else ("recovery",):
        keys[kind] = source.token_bytes(_KEY_RANDOM)
        salt = source.token_bytes(SALT_BYTES)
        wrap_key = _hkdf(keys[kind], salt, b"wrap " + kind.encode())
        wraps.append(_wrap(data_key, kind, salt, wrap_key, source, trial_id, protocol_hash))
    header = header_document(
        trial_id, protocol_hash, padded_length, kdf, wraps, _commit(data_key), nonce
    )
    prefix = seal_prefix(header)
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
    parsed = parse_seal(data, trial_id, protocol_hash)
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
    parsed: ParsedSeal, wrap: Wrap, wrap_key: bytes, trial_id: str, protocol_hash: str
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
    size = int.from_bytes(block[:LENGTH_BYTES], "big")
    if size > parsed.padded_length or any(block[LENGTH_BYTES + size :]):
        return None
    return block[LENGTH_BYTES : LENGTH_BYTES + size]


def check_seal_structure(data: bytes, *, trial_id: str, protocol_hash: str) -> KdfParams:
    """Run the checks that need no key: format, version, length, header, KDF bounds, binding.

    Returns the seal's key-derivation cost (see ``weak_kdf_warning``).
    """
    return parse_seal(data, trial_id, protocol_hash).kdf


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
    check_public(trial_id, protocol_hash, padded_length)
    kinds = ("passphrase", "recovery", "helper")[: 3 if with_helper_key else 2]
    blank = [
        Wrap(kind, bytes(SALT_BYTES), bytes(NONCE_BYTES), bytes(KEY_BYTES + TAG_BYTES))
        for kind in kinds
    ]
    header = header_document(
        trial_id, protocol_hash, padded_length, kdf, blank, bytes(KEY_BYTES), bytes(NONCE_BYTES)
    )
    return len(seal_prefix(header)) + LENGTH_BYTES + padded_length + TAG_BYTES


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
    length: int = KEY_BYTES,
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
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_DOMAIN + purpose
    ).derive(key)


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
) -> Wrap:
    nonce = source.token_bytes(NONCE_BYTES)
    wrapped = _aead_encrypt(wrap_key, nonce, data_key, _wrap_ad(kind, trial_id, protocol_hash))
    return Wrap(kind, salt, nonce, wrapped)


# -- inputs -------------------------------------------------------------------------------


def passphrase_problem(passphrase: str) -> str | None:
    """Why ``seal`` would refuse this passphrase, in one sentence; None when it is fine.

    The one rule, asked by ``init``'s prompt before the confirmation prompt (issue 16) and
    enforced by ``seal``.
    """
    text = unicodedata.normalize("NFC", passphrase).strip()
    if len(text) < MIN_PASSPHRASE_CHARS:
        return (
            f"the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters, "
            "not counting spaces at either end (or --generate-passphrase)"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "the passphrase is not valid text; type it again"
    return None


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
