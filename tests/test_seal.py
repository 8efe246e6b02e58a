"""The seal: unlock paths, one opaque failure, tampering, size, vectors (docs/design.md T-1..11)."""

from __future__ import annotations

import hashlib
import json
import re
import struct
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rfc8785

from blindself.errors import SealError
from blindself.randomness import GeneratorSource, SystemRandomSource
from blindself.trial.seal import crypto as seal_mod
from blindself.trial.seal.crypto import (
    OPAQUE,
    Sealed,
    check_seal_structure,
    commitment,
    generate_passphrase,
    open_seal,
    seal,
    sealed_size,
)
from blindself.trial.seal.format import DEFAULT_KDF, MAGIC, TEST_KDF, KdfParams

DATA = Path(__file__).parent / "data" / "seal"
TRIAL = "trial-x"
PROTO = hashlib.sha256(b"protocol x").hexdigest()
PASS = "correct horse battery"
KEY_RE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{5}-){6}[0-9A-HJKMNP-TV-Z]{5}$")


def source(seed: int = 1) -> GeneratorSource:
    return GeneratorSource(np.random.default_rng(seed))


def make(
    plaintext: bytes = b'{"allocation":"x"}',
    *,
    seed: int = 1,
    padded: int = 64,
    kdf: KdfParams = TEST_KDF,
    helper: bool = False,
    passphrase: str = PASS,
    trial: str = TRIAL,
) -> Sealed:
    return seal(
        plaintext,
        passphrase=passphrase,
        trial_id=trial,
        protocol_hash=PROTO,
        padded_length=padded,
        source=source(seed),
        kdf=kdf,
        with_helper_key=helper,
    )


def unseal(data: bytes, **kwargs: Any) -> bytes:
    return open_seal(data, **{"trial_id": TRIAL, "protocol_hash": PROTO, **kwargs})


def split(data: bytes) -> tuple[dict[str, Any], bytes]:
    start = len(MAGIC) + 5
    (length,) = struct.unpack(">I", data[start - 4 : start])
    return json.loads(data[start : start + length]), data[start + length :]


def join(header: dict[str, Any] | bytes, payload: bytes, *, version: int = 1) -> bytes:
    raw = header if isinstance(header, bytes) else rfc8785.dumps(header)
    return MAGIC + bytes([version]) + struct.pack(">I", len(raw)) + raw + payload


def refused(data: bytes, **kwargs: Any) -> str:
    """The message open_seal refuses ``data`` with (passphrase PASS unless told otherwise)."""
    with pytest.raises(SealError) as info:
        unseal(data, **({"passphrase": PASS} | kwargs))
    return str(info.value)


@pytest.fixture
def forbid_kdf(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it once the test's seals are made: from then on Argon2id running fails the test."""

    def boom(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("Argon2id ran")

    return lambda: monkeypatch.setattr(seal_mod, "_argon2id", boom)


# -- round trips and unlock paths (T-1, T-2) ------------------------------------------------


@pytest.mark.parametrize("path", ["passphrase", "recovery", "helper"])
def test_each_unlock_path_opens(path: str) -> None:
    sealed = make(b"the allocation", helper=True)
    key = {"passphrase": PASS, "recovery": sealed.recovery_key, "helper": sealed.helper_key}[path]
    kwargs = {"passphrase": key} if path == "passphrase" else {"recovery_key": key}
    assert unseal(sealed.data, **kwargs) == b"the allocation"


def test_empty_and_full_plaintexts_round_trip() -> None:
    assert unseal(make(b"", padded=8).data, passphrase=PASS) == b""
    assert unseal(make(b"\x00" * 8, padded=8).data, passphrase=PASS) == b"\x00" * 8


def test_keys_are_crockford_groups_and_helper_only_when_asked() -> None:
    plain, with_helper = make(), make(helper=True)
    assert plain.helper_key is None
    keys = [plain.recovery_key, with_helper.recovery_key, with_helper.helper_key]
    assert all(key is not None and KEY_RE.match(key) for key in keys)
    assert with_helper.recovery_key != with_helper.helper_key


def test_recovery_key_input_is_normalised() -> None:
    sealed = make()
    key = sealed.recovery_key
    # Crockford decoding forgives case, O for 0 and I/L for 1; hyphens and whitespace go.
    typed = key.lower().replace("-", " ").replace("0", "o").replace("1", "L")
    assert unseal(sealed.data, recovery_key=f"  {typed}\n") == b'{"allocation":"x"}'
    assert unseal(sealed.data, recovery_key=key.replace("-", "")) == b'{"allocation":"x"}'


def test_recovery_key_typo_and_bad_form_are_named_before_any_key_is_used() -> None:
    sealed = make()
    key = sealed.recovery_key
    typo = ("1" if key[0] != "1" else "2") + key[1:]
    with pytest.raises(SealError, match="typo"):
        unseal(sealed.data, recovery_key=typo)
    for bad in ("", key[:-1], key + "X", key.replace(key[0], "U", 1)):
        with pytest.raises(SealError, match="35 symbols"):
            unseal(sealed.data, recovery_key=bad)


def test_wrong_passphrase_and_wrong_keys_give_one_opaque_message() -> None:
    sealed = make(helper=True)
    other = make(seed=2, helper=True)
    messages = {
        refused(sealed.data, passphrase="correct horse batterY"),
        refused(sealed.data, passphrase=None, recovery_key=other.recovery_key),
        refused(sealed.data, passphrase=None, recovery_key=other.helper_key),
        refused(make().data, passphrase=None, recovery_key=sealed.helper_key),  # no helper wrap
    }
    assert messages == {OPAQUE}
    assert PASS not in OPAQUE


def test_nfc_and_nfd_passphrases_are_the_same_passphrase() -> None:
    nfc = unicodedata.normalize("NFC", "Café crème brûlée, Åsa")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert unseal(make(passphrase=nfc).data, passphrase=nfd) == b'{"allocation":"x"}'
    assert unseal(make(passphrase=nfd).data, passphrase=nfc) == b'{"allocation":"x"}'


def test_whitespace_policy_strips_the_ends_only() -> None:
    sealed = make(passphrase="  correct horse  ")
    assert unseal(sealed.data, passphrase="correct horse") == b'{"allocation":"x"}'
    assert unseal(sealed.data, passphrase="\tcorrect horse\n") == b'{"allocation":"x"}'
    assert refused(sealed.data, passphrase="correct  horse") == OPAQUE


def test_short_passphrase_refused_at_seal_and_empty_refused_before_the_kdf(
    forbid_kdf: Callable[[], None],
) -> None:
    with pytest.raises(SealError, match="at least 8"):
        seal(
            b"x",
            passphrase="  1234567  ",
            trial_id=TRIAL,
            protocol_hash=PROTO,
            padded_length=8,
            source=source(),
            kdf=TEST_KDF,
        )
    forbid_kdf()
    with pytest.raises(SealError, match="empty"):
        unseal(b"irrelevant", passphrase="   ")  # not even parsed: the input is checked first


def test_eight_characters_is_enough() -> None:
    assert unseal(make(passphrase="12345678").data, passphrase="12345678") == b'{"allocation":"x"}'


def test_exactly_one_unlock_input() -> None:
    data = make().data
    with pytest.raises(ValueError):
        unseal(data)
    with pytest.raises(ValueError):
        unseal(data, passphrase=PASS, recovery_key=make().recovery_key)


def test_sealed_repr_hides_the_secrets() -> None:
    sealed = make(helper=True)
    assert sealed.recovery_key not in repr(sealed)
    assert str(sealed.helper_key) not in repr(sealed)


# -- tampering (T-3 to T-6, T-8) ------------------------------------------------------------


@pytest.mark.parametrize("path", ["passphrase", "recovery"])
def test_every_single_bit_flip_is_refused(path: str) -> None:
    sealed = make(b"small", padded=16)
    key = {"passphrase": PASS} if path == "passphrase" else {"recovery_key": sealed.recovery_key}
    payload_start = len(sealed.data) - (4 + 16 + 16)
    data = bytearray(sealed.data)
    for bit in range(8 * len(data)):
        data[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SealError) as info:
            unseal(bytes(data), **key)
        if bit // 8 >= payload_start:
            assert str(info.value) == OPAQUE
        data[bit // 8] ^= 1 << (bit % 8)
    assert bytes(data) == sealed.data


def test_truncation_at_every_length_is_refused(forbid_kdf: Callable[[], None]) -> None:
    data = make(b"small", padded=16).data
    forbid_kdf()
    with pytest.raises(SealError, match="empty"):
        check_seal_structure(b"", trial_id=TRIAL, protocol_hash=PROTO)
    for length in range(1, len(data)):
        with pytest.raises(SealError, match="truncated"):
            unseal(data[:length], passphrase=PASS)


@pytest.mark.parametrize("extra", [b"\x00", b"\x01" * 16, b"copy"])
def test_appended_bytes_are_refused(forbid_kdf: Callable[[], None], extra: bytes) -> None:
    data = make().data
    tail = data if extra == b"copy" else extra
    forbid_kdf()
    assert f"{len(tail)} extra bytes" in refused(data + tail)


def test_kdf_parameters_edited_down_fail_after_the_kdf() -> None:
    sealed = make(kdf=KdfParams(memory_kib=64, iterations=2, lanes=1))
    header, payload = split(sealed.data)
    header["wraps"][0]["kdf"].update(memory_kib=8, iterations=1)
    edited = join(header, payload)
    check_seal_structure(edited, trial_id=TRIAL, protocol_hash=PROTO)  # structurally fine
    assert refused(edited) == OPAQUE


@pytest.mark.parametrize(
    "edit",
    [
        {"memory_kib": 16 * 1024 * 1024},  # 16 GiB
        {"memory_kib": 1 << 20, "iterations": 10},  # each in bounds, the product is not
        {"iterations": 1000},
        {"lanes": 0},
        {"lanes": 64},
        {"memory_kib": 16, "lanes": 4},  # Argon2 needs 8 KiB per lane
        {"memory_kib": 4},
        {"memory_kib": -65536},
        {"memory_kib": "65536"},
        {"iterations": True},
    ],
)
def test_kdf_parameters_out_of_bounds_are_refused_before_the_kdf(
    forbid_kdf: Callable[[], None], edit: dict[str, Any]
) -> None:
    header, payload = split(make().data)
    header["wraps"][0]["kdf"].update(edit)
    forbid_kdf()
    assert "outside the accepted bounds" in refused(join(header, payload))


def test_kdf_bounds_in_the_header_are_not_taken_from_it(forbid_kdf: Callable[[], None]) -> None:
    header, payload = split(make().data)
    header["wraps"][0]["kdf"]["bounds"]["memory_kib"] = [8, 1 << 30]
    header["wraps"][0]["kdf"]["memory_kib"] = 1 << 24
    forbid_kdf()
    assert "bounds" in refused(join(header, payload))


def test_seal_of_another_trial_or_an_edited_protocol_is_named_before_the_kdf(
    forbid_kdf: Callable[[], None],
) -> None:
    data = make(trial="trial-y").data
    forbid_kdf()
    assert "belongs to another trial" in refused(data)
    with pytest.raises(SealError, match="protocol was edited since init"):
        open_seal(data, trial_id="trial-y", protocol_hash="0" * 64, passphrase=PASS)


@pytest.mark.parametrize("field", ["trial_id", "protocol_sha256"])
def test_binding_edited_in_the_header_gives_the_opaque_message(field: str) -> None:
    sealed = make(helper=True)
    header, payload = split(sealed.data)
    header[field] = "forged"
    target = {"trial_id": "forged"} if field == "trial_id" else {"protocol_hash": "forged"}
    data = join(header, payload)
    for key in ({"passphrase": PASS}, {"recovery_key": sealed.recovery_key}):
        with pytest.raises(SealError) as info:
            open_seal(data, **({"trial_id": TRIAL, "protocol_hash": PROTO} | target | key))
        assert str(info.value) == OPAQUE


def _edits() -> list[tuple[str, Any, str]]:
    """(name, change to the header, expected message part)."""

    def field(name: str, value: Any) -> Any:
        return lambda h: h.update({name: value})

    def wrap(name: str, value: Any) -> Any:
        return lambda h: h["wraps"][0].update({name: value})

    return [
        ("unknown field", field("comment", "hi"), "unknown field 'comment'"),
        ("missing field", lambda h: h.pop("nonce"), "missing field 'nonce'"),
        ("unknown wrap field", wrap("x", 1), "unknown field 'x' in key wrap"),
        ("uppercase hex", lambda h: h.update(nonce=h["nonce"].upper()), "bad nonce"),
        ("short salt", wrap("salt", "00"), "bad salt"),
        ("other cipher", field("aead", "aes-256-gcm"), "unknown cipher"),
        ("other kdf", lambda h: h["wraps"][0]["kdf"].update(name="scrypt"), "key derivation"),
        ("one wrap", lambda h: h.update(wraps=h["wraps"][:1]), "number of key wraps"),
        ("swapped wraps", lambda h: h["wraps"].reverse(), "unexpected key wrap"),
        ("huge padding", field("padded_length", 1 << 40), "bad padded_length"),
        ("empty trial", field("trial_id", ""), "bad trial_id"),
        ("header is a list", lambda h: h.clear(), "missing field"),
    ]


@pytest.mark.parametrize(("name", "change", "expected"), _edits(), ids=[e[0] for e in _edits()])
def test_malformed_headers_are_named(
    forbid_kdf: Callable[[], None], name: str, change: Any, expected: str
) -> None:
    header, payload = split(make().data)
    change(header)
    forbid_kdf()
    message = refused(join(header, payload))
    assert expected in message and "damaged" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"b":1, "a":2}', "not canonical JSON"),
        (b'{"b":1,"a":2}', "not canonical JSON"),
        (b'{"a":1,"a":1}', "not valid JSON"),
        (b'{"a":1.5}', "not valid JSON"),
        (b'{"a":NaN}', "not valid JSON"),
        (b'{"a":"\xff"}', "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
        (b"[1]", "header is not an object"),
    ],
)
def test_header_json_must_be_canonical(
    forbid_kdf: Callable[[], None], raw: bytes, expected: str
) -> None:
    _, payload = split(make().data)
    forbid_kdf()
    assert expected in refused(join(raw, payload))


def test_canonical_header_reordered_or_reindented_is_refused(
    forbid_kdf: Callable[[], None],
) -> None:
    header, payload = split(make().data)
    pretty = json.dumps(header, indent=1).encode()
    forbid_kdf()
    assert "not canonical" in refused(join(pretty, payload))


def test_versions_magic_and_header_length(forbid_kdf: Callable[[], None]) -> None:
    data = make().data
    header, payload = split(data)
    forbid_kdf()
    newer = refused(join(header, payload, version=2))
    assert "newer blindself" in newer and "upgrade" in newer
    assert "unknown seal format version 0" in refused(join(header, payload, version=0))
    assert "not a blindself seal" in refused(b"PK\x03\x04" + bytes(200))
    assert "not a blindself seal" in refused(b"\x89blindself-seaL" + bytes(200))
    start = len(MAGIC) + 1
    for length in (0, (1 << 16) + 1, (1 << 32) - 1):
        bad = data[:start] + struct.pack(">I", length) + data[start + 4 :]
        assert "bad length" in refused(bad)


def test_check_seal_structure_agrees_with_open_seal(forbid_kdf: Callable[[], None]) -> None:
    data = make().data
    forbid_kdf()
    check_seal_structure(data, trial_id=TRIAL, protocol_hash=PROTO)
    with pytest.raises(SealError, match="another trial"):
        check_seal_structure(data, trial_id="other", protocol_hash=PROTO)


# -- the checks after the KDF are live: seals forged by someone holding the data key --------


def forge(block: bytes, *, commit_key: bytes | None = None) -> bytes:
    """A seal whose payload block and key-commitment tag the test chooses."""
    src = source(7)
    data_key = src.token_bytes(32)
    salt = src.token_bytes(16)
    wrap_key = seal_mod._argon2id(PASS.encode(), salt, TEST_KDF)
    wraps = [seal_mod._wrap(data_key, "passphrase", salt, wrap_key, src, TRIAL, PROTO)]
    raw = src.token_bytes(20)
    salt = src.token_bytes(16)
    wrap_key = seal_mod._hkdf(raw, salt, b"wrap recovery")
    wraps.append(seal_mod._wrap(data_key, "recovery", salt, wrap_key, src, TRIAL, PROTO))
    nonce = src.token_bytes(12)
    tag = seal_mod._commit(commit_key or data_key)
    header = seal_mod._header(TRIAL, PROTO, len(block) - 4, TEST_KDF, wraps, tag, nonce)
    prefix = seal_mod._prefix(header)
    return prefix + seal_mod._aead_encrypt(seal_mod._payload_key(data_key), nonce, block, prefix)


def test_forge_helper_builds_an_openable_seal() -> None:
    assert unseal(forge(b"\x00\x00\x00\x02hi\x00\x00"), passphrase=PASS) == b"hi"


@pytest.mark.parametrize(
    ("block", "commit_key"),
    [
        (b"\x00\x00\x00\x02hi\x00\x00", bytes(32)),  # key-commitment tag of another key
        (b"\x00\x00\x00\x02hi\x00\x01", None),  # non-zero padding
        (b"\x00\x00\x00\x05hi\x00\x00", None),  # length prefix beyond padded_length
    ],
)
def test_post_kdf_checks_refuse_with_the_opaque_message(
    block: bytes, commit_key: bytes | None
) -> None:
    assert refused(forge(block, commit_key=commit_key)) == OPAQUE


# -- size and freshness (T-10, T-11) --------------------------------------------------------


def test_one_size_for_every_plaintext() -> None:
    rng = np.random.default_rng(10)
    src = source(11)
    padded = 200
    sizes, header_sizes = set(), set()
    for length in [0, padded, *rng.integers(0, padded + 1, size=998)]:
        plaintext = bytes(rng.integers(0, 256, size=int(length), dtype=np.uint8))
        data = seal(
            plaintext,
            passphrase=PASS,
            trial_id=TRIAL,
            protocol_hash=PROTO,
            padded_length=padded,
            source=src,
            kdf=TEST_KDF,
        ).data
        sizes.add(len(data))
        header_sizes.add(len(rfc8785.dumps(split(data)[0])))
    assert sizes == {sealed_size(padded, TEST_KDF, trial_id=TRIAL, protocol_hash=PROTO)}
    assert len(header_sizes) == 1


def test_sealed_size_with_helper_key() -> None:
    expected = sealed_size(64, TEST_KDF, with_helper_key=True, trial_id=TRIAL, protocol_hash=PROTO)
    assert len(make(helper=True).data) == expected
    assert expected > sealed_size(64, TEST_KDF, trial_id=TRIAL, protocol_hash=PROTO)


def test_plaintext_longer_than_padded_length_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds padded_length"):
        make(b"x" * 65, padded=64)


@pytest.mark.parametrize("padded", [0, -1, (1 << 24) + 1])
def test_padded_length_must_be_in_range(padded: int) -> None:
    with pytest.raises(ValueError, match="padded_length"):
        make(b"", padded=padded)


@pytest.mark.parametrize(
    "params", [{"memory_kib": 4}, {"lanes": 0}, {"iterations": True}, {"memory_kib": 1 << 21}]
)
def test_kdf_params_are_checked_when_made(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="KdfParams"):
        KdfParams(**params)


def test_same_plaintext_sealed_twice_shares_no_random_value() -> None:
    first, second = (
        seal(
            b"same",
            passphrase=PASS,
            trial_id=TRIAL,
            protocol_hash=PROTO,
            padded_length=16,
            source=SystemRandomSource(),
            kdf=TEST_KDF,
        )
        for _ in range(2)
    )
    assert first.data != second.data and first.recovery_key != second.recovery_key
    (h1, p1), (h2, p2) = split(first.data), split(second.data)
    assert h1["nonce"] != h2["nonce"] and h1["key_commitment"] != h2["key_commitment"] and p1 != p2
    for w1, w2 in zip(h1["wraps"], h2["wraps"], strict=True):
        assert w1["salt"] != w2["salt"] and w1["nonce"] != w2["nonce"]
        assert w1["wrapped_key"] != w2["wrapped_key"]


def test_generator_source_makes_sealing_deterministic() -> None:
    assert make(seed=3).data == make(seed=3).data
    assert make(seed=3).data != make(seed=4).data


# -- passphrase generation and commitment ---------------------------------------------------


def test_generated_passphrase_is_strong_typable_and_usable() -> None:
    src = source(5)
    phrases = [generate_passphrase(src) for _ in range(50)]
    assert all(
        re.fullmatch(r"([0-9a-hjkmnp-tv-z]{5}-){4}[0-9a-hjkmnp-tv-z]{5}", p) for p in phrases
    )
    assert 32**25 >= 2**100  # 25 symbols of 5 bits each
    assert len(set(phrases)) == 50
    assert unseal(make(passphrase=phrases[0]).data, passphrase=phrases[0]) == b'{"allocation":"x"}'


def test_commitment_known_answer() -> None:
    # printf 'blindself-commitment/1\0{}' | sha256sum
    expected = "f08333e1709c93769dccf5791a52ff8060ed823e0b91c86c93172728833be43e"
    assert commitment(b"{}") == expected


def test_commitment_binds_content_not_key_order_or_whitespace() -> None:
    doc: dict[str, Any] = {"containers": [{"arm": "a", "code": "K7M2X"}], "nonce": "11" * 32}
    canonical = rfc8785.dumps(doc)
    reordered = json.dumps(dict(reversed(doc.items())), indent=2)
    assert commitment(rfc8785.dumps(json.loads(reordered))) == commitment(canonical)
    flipped: dict[str, Any] = {**doc, "containers": [{"arm": "b", "code": "K7M2X"}]}
    assert commitment(rfc8785.dumps(flipped)) != commitment(canonical)
    assert commitment(rfc8785.dumps({**doc, "nonce": "12" * 32})) != commitment(canonical)


# -- known-answer vectors (T-9) -------------------------------------------------------------

KAT = json.loads((DATA / "kat.json").read_text(encoding="utf-8"))


def _hex_or_none(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


@pytest.mark.parametrize("vector", KAT["argon2id"]["vectors"], ids=lambda v: v["source"][:40])
def test_argon2id_vectors(vector: dict[str, Any]) -> None:
    params = KdfParams(vector["memory_kib"], vector["iterations"], vector["lanes"])
    tag = seal_mod._argon2id(
        bytes.fromhex(vector["password_hex"]),
        bytes.fromhex(vector["salt_hex"]),
        params,
        length=vector["tag_length"],
        secret=_hex_or_none(vector["secret_hex"]),
        ad=_hex_or_none(vector["ad_hex"]),
    )
    assert tag.hex() == vector["tag_hex"]


@pytest.mark.parametrize("vector", KAT["chacha20_poly1305"]["vectors"], ids=["rfc8439-2.8.2"])
def test_chacha20_poly1305_vector(vector: dict[str, Any]) -> None:
    key, nonce, aad = (bytes.fromhex(vector[k]) for k in ("key_hex", "nonce_hex", "aad_hex"))
    plaintext = vector["plaintext"].encode("ascii")
    sealed = seal_mod._aead_encrypt(key, nonce, plaintext, aad)
    assert sealed.hex() == vector["ciphertext_hex"] + vector["tag_hex"]
    assert seal_mod._aead_decrypt(key, nonce, sealed, aad) == plaintext


def test_jcs_vectors() -> None:
    serialization, sorting = KAT["jcs"]["vectors"]
    out = rfc8785.dumps(json.loads(serialization["input_json"]))
    assert out == serialization["expected"].encode("utf-8")
    assert out.hex() == serialization["expected_utf8_hex"]
    out = rfc8785.dumps(json.loads(sorting["input_json"]))
    assert list(json.loads(out)) == sorting["expected_key_order"]


# -- golden v1 files: every later version must open them ------------------------------------

GOLDEN = json.loads((DATA / "golden-v1.json").read_text(encoding="utf-8"))


def _golden(kind: str) -> tuple[dict[str, Any], bytes]:
    entry = next(f for f in GOLDEN["files"] if f["file"] == f"golden-v1-{kind}.seal")
    data = (DATA / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["file_sha256"]  # never regenerated
    return entry, data


def _open_golden(data: bytes, **key: str) -> bytes:
    ids = {"trial_id": GOLDEN["trial_id"], "protocol_hash": GOLDEN["protocol_hash"]}
    return open_seal(data, **ids, **key)


def test_golden_v1_opens_by_every_path() -> None:
    entry, data = _golden("test-kdf")
    expected = GOLDEN["plaintext"].encode("utf-8")
    assert _open_golden(data, passphrase=GOLDEN["passphrase"]) == expected
    assert _open_golden(data, recovery_key=entry["recovery_key"]) == expected
    assert _open_golden(data, recovery_key=entry["helper_key"]) == expected
    assert len(data) == sealed_size(
        entry["padded_length"],
        KdfParams(**entry["kdf"]),
        with_helper_key=True,
        trial_id=GOLDEN["trial_id"],
        protocol_hash=GOLDEN["protocol_hash"],
    )


def test_golden_v1_nfd_passphrase_opens() -> None:
    _, data = _golden("test-kdf")
    nfd = unicodedata.normalize("NFD", GOLDEN["passphrase"])
    assert _open_golden(data, passphrase=nfd) == GOLDEN["plaintext"].encode("utf-8")


@pytest.mark.slow
def test_golden_v1_with_default_kdf_opens() -> None:
    entry, data = _golden("default-kdf")
    assert entry["kdf"] == {"memory_kib": 65536, "iterations": 3, "lanes": 1}
    assert split(data)[0]["wraps"][0]["kdf"]["memory_kib"] == DEFAULT_KDF.memory_kib
    expected = GOLDEN["plaintext"].encode("utf-8")
    assert _open_golden(data, passphrase=GOLDEN["passphrase"]) == expected
    assert _open_golden(data, recovery_key=entry["recovery_key"]) == expected
