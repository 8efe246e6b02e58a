"""The shared protocol texts (tests/protocol_texts.py) are the texts the tests and benchmarks
spelled out before they were merged: a protocol's SHA-256 is part of its trial's commitment,
so a changed byte would change every seeded trial built from it.

Each hash below is the SHA-256 of the literal text as it stood in its module before the merge
(tests/helpers.py, tests/reliability/support.py, tests/reliability/test_lifecycle.py,
benchmarks/run.py, bench_web.py, bench_import.py, bench_kernels.py), computed then.
"""

from __future__ import annotations

import hashlib

import protocol_texts as texts
import pytest

from blindself.protocol.loading import parse_protocol

PINNED = {
    "SMALL_PROTOCOL": "747042039486ca9bb0439fef1342379608818c05be54575fe688764a2b7dcd9a",
    "LONG_PROTOCOL": "235325bf8e41a399dc6ef20505d5c4f9b804455bca4b57041f9beb58d824efdc",
    "THREE_ARMS": "3746f1a54f9cb59e7dddf6ab74a0f9b5da9008099c46f715093af0fc4d6b9832",
    "STARTUP_PROTOCOL": "4eb55e73e22c2b11fb81ec34c936e64a1a36f76dd0ef1f3f45269d7359b44fec",
    "WEB_YEAR_PROTOCOL": "c63ee5b8bbe0a0c5319f6303c8a45a4fb68fe725806cb89ee55d4147b0a4306b",
    "IMPORT_PROTOCOL": "547a61991c37f8a34f6d6936133eb1978db4eed61e3fbb93f9799db5e822dad8",
}
YEARS = {
    (26, 1): "40e8b2c38f83078414424443857fdddc772d510becb58702b74c5fae608073bf",
    (26, 5): "2d5870606816a4a895937058187624a540b98ab0c0d00f6874be73a75dbd2e81",
    (3, 2): "0701d5b9c698cdec3b2db4e3eebd87733dcc02dbc919a1bb58bade6dc0712182",
}
FILLED = {
    "SMALL_PROTOCOL": {"blinding": "helper"},
    "LONG_PROTOCOL": {"blocks": 3, "baseline": 1},
    "THREE_ARMS": {"blinding": "self"},
    "IMPORT_PROTOCOL": {"blocks": 3},
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("name", sorted(PINNED))
def test_each_text_is_the_one_its_module_spelled_out(name: str) -> None:
    assert sha(getattr(texts, name)) == PINNED[name]


@pytest.mark.parametrize(("blocks", "outcomes"), sorted(YEARS))
def test_the_year_protocol_is_the_benchmarks_own(blocks: int, outcomes: int) -> None:
    assert sha(texts.year_protocol(blocks, outcomes)) == YEARS[(blocks, outcomes)]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_each_text_is_a_valid_protocol(name: str) -> None:
    text = getattr(texts, name).format(**FILLED.get(name, {}))
    assert parse_protocol(text.encode()).outcomes
