"""Tests for blindself.protocol.loading: loading and validating a protocol
(docs/design.md#protocol).

Every validation error is one line that names the file, the key and what is allowed;
a representative set is asserted verbatim.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import math
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blindself.errors import BlindselfError, ProtocolError
from blindself.protocol.loading import MAX_PROTOCOL_BYTES, load_protocol, parse_protocol
from blindself.protocol.model import Protocol

BASE = """\
[trial]
title = "Test trial"
question = "Does it work?"

[[arms]]
name = "active"
kind = "active"
label = "the substance"
dose = 0.1
unit = "g"

[[arms]]
name = "placebo"
kind = "placebo"
label = "inert capsule"

[design]
kind = "blocks"
block = ["active", "placebo"]
blocks = 6
period_days = 2
dosing = "daily"
baseline_days = 3
washout_days = 1
blinding = "helper"

[[outcomes]]
name = "mood"
question = "How was your mood?"
scale = [1, 10]
better = "higher"
primary = true
mcid = 1.0

[[outcomes]]
name = "anxiety"
scale = [0, 4]
better = "lower"

[checkin]
guess = true

[analysis]
alpha = 0.05
"""


def variant(*edits: tuple[str, str], extra: str = "") -> str:
    """BASE with each (old, new) replaced exactly once, plus ``extra`` appended."""
    text = BASE
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text + extra


def parse(text: str) -> Protocol:
    return parse_protocol(text.encode())


def error(text: str | bytes, source: str = "protocol.toml") -> str:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(ProtocolError) as info:
        parse_protocol(raw, source)
    message = str(info.value)
    assert "\n" not in message and len(message.splitlines()) == 1, message
    assert message.startswith(f"{source}: "), message
    return message


# -- the base protocol and defaults ---------------------------------------------------------


def test_base_parses_with_all_fields() -> None:
    p = parse(BASE)
    assert p.title == "Test trial"
    assert p.question == "Does it work?"
    assert p.description == ""
    assert p.timezone is None
    assert p.arm_names == ("active", "placebo")
    assert p.arm("active").dose == 0.1
    assert p.arm("active").unit == "g"
    assert p.arm("placebo").label == "inert capsule"
    assert p.arm("placebo").dose is None and p.arm("placebo").unit is None
    d = p.design
    assert (d.kind, d.block, d.blocks, d.counts) == ("blocks", ("active", "placebo"), 6, ())
    assert (d.period_days, d.dosing, d.baseline_days, d.washout_days) == (2, "daily", 3, 1)
    assert (d.blinding, d.max_run) == ("helper", None)
    assert p.primary.name == "mood"
    assert p.outcome("anxiety").scale == (0.0, 4.0)
    assert p.outcome("anxiety").better == "lower"
    assert p.outcome("anxiety").question == "How was your anxiety today?"
    assert not p.outcome("anxiety").primary
    assert p.source == "protocol.toml"


def test_lookups_of_unknown_names_raise_key_error() -> None:
    p = parse(BASE)
    with pytest.raises(KeyError):
        p.arm("none")
    with pytest.raises(KeyError):
        p.outcome("sleep")


def test_defaults_of_optional_sections_and_keys() -> None:
    minimal = """\
[trial]
title = "t"
question = "q"
[[arms]]
name = "a"
kind = "active"
[[arms]]
name = "p"
kind = "placebo"
[design]
block = ["a", "p"]
blocks = 1
[[outcomes]]
name = "mood"
primary = true
"""
    p = parse(minimal)
    assert p.arm("a").label == "a"  # the label defaults to the name
    d = p.design
    assert (d.kind, d.period_days, d.dosing, d.baseline_days, d.washout_days) == (
        "blocks",
        1,
        "daily",
        0,
        0,
    )
    assert (d.blinding, d.max_run) == ("helper", None)
    assert p.outcome("mood").scale == (1.0, 10.0)
    assert p.outcome("mood").better == "higher"
    assert p.outcome("mood").mcid is None
    c = p.checkin
    assert (c.guess, c.guess_first, c.days, c.day_starts) == (True, True, "all", time(4, 0))
    a = p.analysis
    assert (a.alpha, a.alternative, a.correction, a.missing, a.statistic) == (
        0.05,
        "two-sided",
        "holm",
        "pairwise",
        "mean-difference",
    )
    assert p.stop_rules == ()


def test_sha256_is_of_the_raw_bytes() -> None:
    raw = BASE.encode()
    p = parse_protocol(raw)
    assert p.sha256 == hashlib.sha256(raw).hexdigest()
    # a comment changes the bytes and the hash, not the content
    commented = parse_protocol(b"# my trial\n" + raw)
    assert commented.sha256 == hashlib.sha256(b"# my trial\n" + raw).hexdigest()
    assert commented.sha256 != p.sha256
    assert commented.design == p.design and commented.outcomes == p.outcomes
    # known answer, independent of hashlib: `sha256sum` (GNU coreutils 9) over these bytes
    tiny = variant(('title = "Test trial"', 'title = "x"')).encode()
    assert parse_protocol(tiny).sha256 == (
        "fda1819b2f1b68d905d82a5bf8f33d3264df57bcdf5199b385653592193a4abe"
    )


# -- shipped templates ------------------------------------------------------------------


def _templates() -> list[Path]:
    root = importlib.resources.files("blindself.protocols")
    return sorted(Path(str(f)) for f in root.iterdir() if f.name.endswith(".toml"))


def test_templates_are_shipped() -> None:
    names = {p.name for p in _templates()}
    repo = {p.name for p in (Path(__file__).parents[1] / "protocols").glob("*.toml")}
    assert names == repo
    assert len(names) >= 7


@pytest.mark.parametrize("path", _templates(), ids=lambda p: p.name)
def test_every_template_loads(path: Path) -> None:
    p = load_protocol(path)
    assert p.source == path.name
    assert p.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert p.title and p.question and p.description
    assert sum(o.primary for o in p.outcomes) == 1
    kinds = {p.arm(a).kind for a in (p.design.block or tuple(n for n, _ in p.design.counts))}
    assert {"active", "placebo"} <= kinds
    if p.design.blinding == "self":
        assert p.design.max_run is None


# -- reading files ------------------------------------------------------------------------


def test_load_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "my-trial.toml"
    f.write_text(variant(('dosing = "daily"', 'dosing = "hourly"')))
    with pytest.raises(ProtocolError, match=r'^my-trial\.toml: design\.dosing is "hourly"; '):
        load_protocol(f)


def test_load_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProtocolError) as info:
        load_protocol(missing)
    assert (
        str(info.value) == f"{missing}: no such protocol file (list templates: blindself templates)"
    )
    with pytest.raises(ProtocolError) as info:
        load_protocol(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a protocol file"


def test_size_limit_is_one_megabyte(tmp_path: Path) -> None:
    raw = BASE.encode()
    at_limit = raw + b"#" + b"x" * (MAX_PROTOCOL_BYTES - len(raw) - 2) + b"\n"
    assert len(at_limit) == MAX_PROTOCOL_BYTES
    f = tmp_path / "big.toml"
    f.write_bytes(at_limit)
    assert load_protocol(f).sha256 == hashlib.sha256(at_limit).hexdigest()
    f.write_bytes(at_limit + b"\n")
    with pytest.raises(ProtocolError) as info:
        load_protocol(f)
    assert str(info.value) == f"{f}: larger than 1 MB; a protocol is a short TOML file"


def test_not_utf8(tmp_path: Path) -> None:
    latin1 = variant(('title = "Test trial"', 'title = "Café"')).encode("latin-1")
    assert error(latin1) == "protocol.toml: not UTF-8 text; save the protocol as UTF-8"
    f = tmp_path / "latin.toml"
    f.write_bytes(latin1)
    with pytest.raises(ProtocolError, match=r"^latin\.toml: not UTF-8 text"):
        load_protocol(f)
    # UTF-8 itself is fine, including outside ASCII
    assert parse(variant(('title = "Test trial"', 'title = "Café ☕"'))).title == "Café ☕"


@pytest.mark.parametrize(
    "text",
    [
        "[trial\ntitle = 1",
        'title = "unterminated',
        "a = 1\na = 2",
        BASE + "\n[trial]\n",  # a table defined twice
        "= 3",
    ],
)
def test_malformed_toml(text: str) -> None:
    message = error(text)
    assert message.startswith("protocol.toml: not valid TOML (")
    assert message.endswith("); fix the syntax")


def test_deep_nesting_is_a_protocol_error() -> None:
    # tomllib recurses per level; this used to escape as RecursionError.
    depth = 5000
    assert error("a = " + "[" * depth + "]" * depth) == (
        "protocol.toml: nested too deeply to be a protocol; fix the syntax"
    )
    assert error("a = " + "{b = " * depth + "1" + "}" * depth).endswith("fix the syntax")


# -- exact messages -----------------------------------------------------------------------

EXACT: list[tuple[str, str, str]] = [
    # (id, protocol text, expected message)
    (
        "unknown-arm-in-block",
        variant(('block = ["active", "placebo"]', 'block = ["actve", "placebo"]')),
        'protocol.toml: design.block names arm "actve", which is not defined '
        "(defined: active, placebo)",
    ),
    (
        "non-string-arm-in-block",
        variant(('block = ["active", "placebo"]', 'block = ["active", 2]')),
        "protocol.toml: design.block names arm 2, which is not defined (defined: active, placebo)",
    ),
    (
        "unknown-key-design",
        variant(("blocks = 6", "blocks = 6\nblok = 2")),
        "protocol.toml: design.blok is not a known key (allowed: baseline_days, blinding, "
        "block, blocks, counts, dosing, kind, max_run, period_days, washout_days)",
    ),
    (
        "unknown-key-top-level",
        "foo = 1\n" + BASE,
        "protocol.toml: foo is not a known key (allowed: analysis, arms, checkin, design, "
        "outcomes, stop_rules, trial)",
    ),
    (
        "unknown-quoted-key-with-newline",
        variant(("blocks = 6", 'blocks = 6\n"a\\nb" = 2')),
        'protocol.toml: design."a\\nb" is not a known key (allowed: baseline_days, blinding, '
        "block, blocks, counts, dosing, kind, max_run, period_days, washout_days)",
    ),
    (
        "unknown-key-arm",
        variant(('unit = "g"', 'unit = "g"\ncolour = "red"')),
        "protocol.toml: arms[0].colour is not a known key (allowed: dose, kind, label, name, unit)",
    ),
    (
        "unknown-section",
        BASE + "\n[instruments]\nx = 1\n",
        "protocol.toml: instruments is not a known key (allowed: analysis, arms, checkin, "
        "design, outcomes, stop_rules, trial)",
    ),
    (
        "missing-trial",
        variant(('[trial]\ntitle = "Test trial"\nquestion = "Does it work?"\n', "")),
        "protocol.toml: [trial] is missing; add the section",
    ),
    (
        "trial-not-a-table",
        'trial = "x"\n'
        + variant(('[trial]\ntitle = "Test trial"\nquestion = "Does it work?"\n', "")),
        "protocol.toml: trial must be a table ([trial])",
    ),
    (
        "title-wrong-type",
        variant(('title = "Test trial"', "title = 3")),
        "protocol.toml: trial.title must be a string, not 3",
    ),
    (
        "question-missing",
        variant(('question = "Does it work?"\n', "")),
        "protocol.toml: trial.question is missing; it must be a string",
    ),
    (
        "blocks-string",
        variant(("blocks = 6", 'blocks = "6"')),
        'protocol.toml: design.blocks is "6"; it must be a whole number 1-500',
    ),
    (
        "blocks-bool",
        variant(("blocks = 6", "blocks = true")),
        "protocol.toml: design.blocks is true; it must be a whole number 1-500",
    ),
    (
        "blocks-zero",
        variant(("blocks = 6", "blocks = 0")),
        "protocol.toml: design.blocks is 0; it must be a whole number 1-500",
    ),
    (
        "blocks-missing",
        variant(("blocks = 6\n", "")),
        "protocol.toml: design.blocks is missing; it must be a whole number 1-500",
    ),
    (
        "period-days-float",
        variant(("period_days = 2", "period_days = 2.5")),
        "protocol.toml: design.period_days is 2.5; it must be a whole number 1-90",
    ),
    (
        "washout-negative",
        variant(("washout_days = 1", "washout_days = -1")),
        "protocol.toml: design.washout_days is -1; it must be a whole number 0-90",
    ),
    (
        "baseline-too-long",
        variant(("baseline_days = 3", "baseline_days = 366")),
        "protocol.toml: design.baseline_days is 366; it must be a whole number 0-365",
    ),
    (
        "guess-string",
        variant(("guess = true", 'guess = "yes"')),
        'protocol.toml: checkin.guess is "yes"; it must be true or false',
    ),
    (
        "primary-int",
        variant(("primary = true", "primary = 1")),
        "protocol.toml: outcomes[0].primary is 1; it must be true or false",
    ),
    (
        "alpha-string",
        variant(("alpha = 0.05", 'alpha = "0.05"')),
        'protocol.toml: analysis.alpha is "0.05"; it must be a number',
    ),
    (
        "alpha-range",
        variant(("alpha = 0.05", "alpha = 0.5")),
        "protocol.toml: analysis.alpha is 0.5; it must lie between 0 and 0.5, e.g. 0.05",
    ),
    (
        "dose-inf",
        variant(("dose = 0.1", "dose = inf")),
        "protocol.toml: arms[0].dose is inf; it must be a number",
    ),
    (
        "dose-nan",
        variant(("dose = 0.1", "dose = nan")),
        "protocol.toml: arms[0].dose is nan; it must be a number",
    ),
    (
        "unit-falsy-non-string",
        variant(('unit = "g"', "unit = 0")),
        "protocol.toml: arms[0].unit must be a string, not 0",
    ),
    (
        "kind-choice",
        variant(('kind = "blocks"', 'kind = "latin"')),
        'protocol.toml: design.kind is "latin"; allowed: blocks, complete',
    ),
    (
        "arm-kind-missing",
        variant(('kind = "placebo"\n', "")),
        "protocol.toml: arms[1].kind is missing; allowed: active, placebo, none",
    ),
    (
        "arm-kind-wrong",
        variant(('kind = "placebo"', 'kind = "sham"')),
        'protocol.toml: arms[1].kind is "sham"; allowed: active, placebo, none',
    ),
    (
        "arms-table",
        variant(
            ('[[arms]]\nname = "placebo"\nkind = "placebo"\nlabel = "inert capsule"\n', "")
        ).replace("[[arms]]", "[arms]"),
        "protocol.toml: arms must be an array of tables ([[arms]])",
    ),
    (
        "arms-missing",
        variant(
            (
                '[[arms]]\nname = "active"\nkind = "active"\nlabel = "the substance"\n'
                'dose = 0.1\nunit = "g"\n',
                "",
            ),
            ('[[arms]]\nname = "placebo"\nkind = "placebo"\nlabel = "inert capsule"\n', ""),
        ),
        "protocol.toml: [[arms]] is missing; define at least an active and a placebo arm",
    ),
    (
        "arm-name-unsure",
        variant(
            ('name = "placebo"', 'name = "unsure"'), ('"active", "placebo"]', '"active", "unsure"]')
        ),
        'protocol.toml: arms[1].name may not be "unsure" (it is the don\'t-know guess)',
    ),
    (
        "arm-name-repeated",
        variant(('name = "placebo"', 'name = "active"')),
        'protocol.toml: arms[1].name repeats arm "active"; arm names must be unique',
    ),
    (
        "arm-name-upper-case",
        variant(('name = "active"', 'name = "Active"')),
        'protocol.toml: arms[0].name is "Active"; use 1-32 lower-case letters, digits, '
        "'-' or '_', starting with a letter",
    ),
    (
        "arm-name-trailing-newline",
        variant(('name = "active"', 'name = "active\\n"')),
        'protocol.toml: arms[0].name is "active\\n"; use 1-32 lower-case letters, digits, '
        "'-' or '_', starting with a letter",
    ),
    (
        "no-active-kind",
        variant(('kind = "active"', 'kind = "none"')),
        'protocol.toml: [[arms]] needs at least one arm of kind "active" and one of kind "placebo"',
    ),
    (
        "two-placebos",
        variant(extra='[[arms]]\nname = "sham"\nkind = "placebo"\n'),
        'protocol.toml: [[arms]] may hold at most one "placebo" and one "none" arm',
    ),
    (
        "block-too-short",
        variant(('block = ["active", "placebo"]', 'block = ["active"]')),
        'protocol.toml: design.block must list the arms of one block, e.g. ["active", "placebo"]',
    ),
    (
        "block-never-placebo",
        variant(('block = ["active", "placebo"]', 'block = ["active", "active"]')),
        'protocol.toml: design never allocates an arm of kind "placebo"',
    ),
    (
        "blocks-with-counts",
        variant(("blocks = 6", "blocks = 6\ncounts = {active = 1, placebo = 1}")),
        'protocol.toml: design.counts is for kind = "complete"; blocks use design.block',
    ),
    (
        "too-many-periods",
        variant(
            ("blocks = 6", "blocks = 500"),
            (
                'block = ["active", "placebo"]',
                'block = ["active", "placebo", "active", "placebo", "active"]',
            ),
        ),
        "protocol.toml: design allocates 2500 periods; at most 2000 are supported",
    ),
    (
        "max-run-self",
        variant(('blinding = "helper"', 'blinding = "self"\nmax_run = 2')),
        'protocol.toml: design.max_run cannot be honoured with blinding = "self" (a physical '
        'shuffle ignores it); remove it or use blinding = "helper"',
    ),
    (
        "max-run-zero",
        variant(('blinding = "helper"', 'blinding = "helper"\nmax_run = 0')),
        "protocol.toml: design.max_run is 0; it must be a whole number 1-1000",
    ),
    (
        "blinding-choice",
        variant(('blinding = "helper"', 'blinding = "double"')),
        'protocol.toml: design.blinding is "double"; allowed: self, helper',
    ),
    (
        "scale-reversed",
        variant(("scale = [1, 10]", "scale = [10, 1]")),
        "protocol.toml: outcomes[0].scale is [10, 1]; give [lowest, highest], e.g. [1, 10]",
    ),
    (
        "scale-equal",
        variant(("scale = [1, 10]", "scale = [5, 5]")),
        "protocol.toml: outcomes[0].scale is [5, 5]; give [lowest, highest], e.g. [1, 10]",
    ),
    (
        # F23: ratings past 2**53 - 1 cannot be recorded, so such a scale cannot be used
        "scale-huge",
        variant(("scale = [1, 10]", "scale = [-1e300, 1e300]")),
        "protocol.toml: outcomes[0].scale is [-1e+300, 1e+300]; its ends must lie within "
        "+-9007199254740991 (the largest rating a check-in can hold)",
    ),
    (
        "scale-three",
        variant(("scale = [1, 10]", "scale = [1, 5, 10]")),
        "protocol.toml: outcomes[0].scale is [1, 5, 10]; give [lowest, highest], e.g. [1, 10]",
    ),
    (
        "scale-string",
        variant(("scale = [1, 10]", 'scale = [1, "10"]')),
        'protocol.toml: outcomes[0].scale is [1, "10"]; give [lowest, highest], e.g. [1, 10]',
    ),
    (
        "scale-bool",
        variant(("scale = [1, 10]", "scale = [false, true]")),
        "protocol.toml: outcomes[0].scale is [false, true]; give [lowest, highest], e.g. [1, 10]",
    ),
    (
        "scale-infinite",
        variant(("scale = [1, 10]", "scale = [1, inf]")),
        "protocol.toml: outcomes[0].scale is [1, inf]; give [lowest, highest], e.g. [1, 10]",
    ),
    (
        "scale-not-a-list",
        variant(("scale = [1, 10]", "scale = 10")),
        "protocol.toml: outcomes[0].scale is 10; give [lowest, highest], e.g. [1, 10]",
    ),
    (
        "two-primaries",
        variant(('better = "lower"', 'better = "lower"\nprimary = true')),
        "protocol.toml: outcomes mark exactly one outcome primary = true (found several)",
    ),
    (
        "no-primary",
        variant(("primary = true\n", "")),
        "protocol.toml: outcomes mark exactly one outcome primary = true (found none)",
    ),
    (
        "outcome-repeated",
        variant(('name = "anxiety"', 'name = "mood"')),
        'protocol.toml: outcomes[1].name repeats outcome "mood"; names must be unique',
    ),
    (
        "outcomes-missing",
        BASE.split("[[outcomes]]")[0] + "[checkin]\n",
        "protocol.toml: [[outcomes]] is missing; define at least one outcome to rate",
    ),
    (
        "mcid-zero",
        variant(("mcid = 1.0", "mcid = 0")),
        "protocol.toml: outcomes[0].mcid must be a positive number of rating points",
    ),
    (
        "better-choice",
        variant(('better = "higher"', 'better = "up"')),
        'protocol.toml: outcomes[0].better is "up"; allowed: higher, lower',
    ),
    (
        "checkin-days",
        variant(("guess = true", 'guess = true\ndays = "weekends"')),
        'protocol.toml: checkin.days is "weekends"; allowed: all, dose',
    ),
    (
        "alternative",
        variant(("alpha = 0.05", 'alpha = 0.05\nalternative = "less"')),
        'protocol.toml: analysis.alternative is "less"; allowed: two-sided, greater',
    ),
    (
        "statistic",
        variant(("alpha = 0.05", 'alpha = 0.05\nstatistic = "median"')),
        'protocol.toml: analysis.statistic is "median"; allowed: mean-difference, trend-adjusted',
    ),
    (
        "long-value-truncated",
        variant(('kind = "blocks"', 'kind = "' + "x" * 60 + '"')),
        'protocol.toml: design.kind is "' + "x" * 36 + "...; allowed: blocks, complete",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [e[1:] for e in EXACT], ids=[e[0] for e in EXACT])
def test_exact_message(text: str, expected: str) -> None:
    assert error(text) == expected


def test_spec_example_message_verbatim() -> None:
    # docs/design.md#protocol gives this line as the example of a validation error.
    text = variant(('block = ["active", "placebo"]', 'block = ["actve", "placebo"]'))
    assert error(text) == (
        'protocol.toml: design.block names arm "actve", which is not defined '
        "(defined: active, placebo)"
    )


def test_messages_name_the_source() -> None:
    text = variant(('block = ["active", "placebo"]', 'block = ["actve", "placebo"]'))
    assert error(text, "trial/protocol.toml").startswith(
        'trial/protocol.toml: design.block names arm "actve"'
    )


def test_error_is_a_blindself_error() -> None:
    with pytest.raises(BlindselfError) as info:
        parse(variant(("blocks = 6", "blocks = 0")))
    assert info.value.exit_code == 1


# -- complete designs -------------------------------------------------------------------

COMPLETE = ('kind = "blocks"\nblock = ["active", "placebo"]\nblocks = 6', 'kind = "complete"')


def test_complete_design_with_counts() -> None:
    p = parse(
        variant(
            (COMPLETE[0], 'kind = "complete"\ncounts = {placebo = 7, active = 5, none = 0}'),
            extra='[[arms]]\nname = "none"\nkind = "none"\n',
        )
    )
    d = p.design
    assert d.kind == "complete"
    # counts keep the file's order
    assert d.counts == (("placebo", 7), ("active", 5), ("none", 0))
    assert (d.block, d.blocks) == ((), 1)


@pytest.mark.parametrize(
    ("design", "expected"),
    [
        (
            'kind = "complete"',
            "protocol.toml: design.counts must give periods per arm, "
            "e.g. {active = 10, placebo = 10}",
        ),
        (
            'kind = "complete"\ncounts = {}',
            "protocol.toml: design.counts must give periods per arm, "
            "e.g. {active = 10, placebo = 10}",
        ),
        (
            'kind = "complete"\ncounts = [10, 10]',
            "protocol.toml: design.counts must give periods per arm, "
            "e.g. {active = 10, placebo = 10}",
        ),
        (
            'kind = "complete"\ncounts = {actve = 3, placebo = 3}',
            'protocol.toml: design.counts names arm "actve", which is not defined '
            "(defined: active, placebo, none)",
        ),
        (
            'kind = "complete"\ncounts = {active = -1, placebo = 3}',
            "protocol.toml: design.counts.active is -1; it must be a whole number 0-1000",
        ),
        (
            'kind = "complete"\ncounts = {active = 3, placebo = "3"}',
            'protocol.toml: design.counts.placebo is "3"; it must be a whole number 0-1000',
        ),
        (
            'kind = "complete"\ncounts = {active = 3, placebo = 0}',
            'protocol.toml: design never allocates an arm of kind "placebo"',
        ),
        (
            'kind = "complete"\ncounts = {active = 3, placebo = 3}\nblock = ["active", "placebo"]',
            'protocol.toml: design.block is for kind = "blocks"; complete designs use design.counts',
        ),
        (
            'kind = "complete"\ncounts = {active = 3, placebo = 3}\nblocks = 3',
            'protocol.toml: design.blocks is for kind = "blocks"; '
            "complete designs use design.counts",
        ),
        (
            'kind = "complete"\ncounts = {active = 1000, placebo = 1000, none = 1}',
            "protocol.toml: design allocates 2001 periods; at most 2000 are supported",
        ),
    ],
    ids=[
        "no-counts",
        "empty-counts",
        "counts-list",
        "unknown-arm",
        "negative",
        "string",
        "no-placebo",
        "with-block",
        "with-blocks",
        "too-many",
    ],
)
def test_complete_design_errors(design: str, expected: str) -> None:
    text = variant((COMPLETE[0], design), extra='[[arms]]\nname = "none"\nkind = "none"\n')
    assert error(text) == expected


def test_max_run_with_helper_is_kept() -> None:
    p = parse(variant(('blinding = "helper"', 'blinding = "helper"\nmax_run = 3')))
    assert p.design.max_run == 3


def test_blocks_may_repeat_an_arm_and_use_none() -> None:
    p = parse(
        variant(
            ('block = ["active", "placebo"]', 'block = ["none", "placebo", "active", "active"]'),
            extra='[[arms]]\nname = "none"\nkind = "none"\n',
        )
    )
    assert p.design.block == ("none", "placebo", "active", "active")


# -- dosing, timezone, day_starts -------------------------------------------------------


@pytest.mark.parametrize(
    "dosing",
    [
        "daily",
        "every-other-day",
        "fadiman",
        "stamets",
        "weekdays:mon,tue,thu,fri",
        "weekdays:sun",
        "weekdays:fri,mon",
        "weekdays:mon,tue,wed,thu,fri,sat,sun",
    ],
)
def test_dosing_accepted(dosing: str) -> None:
    assert parse(variant(('dosing = "daily"', f'dosing = "{dosing}"'))).design.dosing == dosing


@pytest.mark.parametrize(
    "dosing",
    [
        "Daily",
        "fadimann",
        "weekdays:",
        "weekdays",
        "weekdays:mon,mon",
        "weekdays:Mon",
        "weekdays:mon, tue",
        "weekdays:monday",
        "weekdays:mon,",
        "weekdays:mon;tue",
        "",
    ],
)
def test_dosing_refused(dosing: str) -> None:
    message = error(variant(('dosing = "daily"', f'dosing = "{dosing}"')))
    assert message == (
        f'protocol.toml: design.dosing is "{dosing}"; allowed: daily, every-other-day, '
        "fadiman, stamets, or weekdays:mon,tue,... (days from mon,tue,wed,thu,fri,sat,sun)"
    )


def test_dosing_wrong_type() -> None:
    assert error(variant(('dosing = "daily"', "dosing = 3"))) == (
        "protocol.toml: design.dosing must be a string, not 3"
    )


@pytest.mark.parametrize("tz", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires"])
def test_timezone_accepted(tz: str) -> None:
    text = variant(('question = "Does it work?"', f'question = "Does it work?"\ntimezone = "{tz}"'))
    assert parse(text).timezone == tz


@pytest.mark.parametrize(
    "tz",
    [
        "Mars/Olympus",
        "Europe/Berlin ",
        "",
        "America",  # a directory of zones: used to raise IsADirectoryError
        "x" * 300,  # used to raise OSError "File name too long"
        "../etc/passwd",
        "/etc/localtime",
        "Europe//Berlin",
        "zone.tab",
    ],
)
def test_timezone_refused(tz: str) -> None:
    text = variant(('question = "Does it work?"', f'question = "Does it work?"\ntimezone = "{tz}"'))
    shown = f'"{tz}"' if len(tz) <= 38 else f'"{tz}'[:37] + "..."
    assert error(text) == (
        f'protocol.toml: trial.timezone is {shown}; give an IANA zone such as "Europe/Berlin"'
    )


def test_timezone_wrong_type() -> None:
    text = variant(('question = "Does it work?"', 'question = "Does it work?"\ntimezone = 1'))
    assert error(text) == "protocol.toml: trial.timezone must be a string, not 1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("04:00", time(4, 0)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("12:30", time(12, 30)),
    ],
)
def test_day_starts_accepted(raw: str, expected: time) -> None:
    text = variant(("guess = true", f'guess = true\nday_starts = "{raw}"'))
    assert parse(text).checkin.day_starts == expected


@pytest.mark.parametrize(
    "raw",
    ["4:00", "24:00", "04:60", "04:00:00", " 04:00", "04:00 ", "0400", "04h00", "", "0\u0664:00"],
)
def test_day_starts_refused(raw: str) -> None:
    text = variant(("guess = true", f'guess = true\nday_starts = "{raw}"'))
    assert error(text) == (
        f'protocol.toml: checkin.day_starts is "{raw}"; give a time HH:MM, e.g. "04:00"'
    )


def test_day_starts_wrong_type() -> None:
    text = variant(("guess = true", "guess = true\nday_starts = 04:00:00"))
    assert error(text) == (
        "protocol.toml: checkin.day_starts must be a string, not datetime.time(4, 0)"
    )


# -- stop rules -------------------------------------------------------------------------


def test_stop_rules_parse_with_defaults() -> None:
    rules = """
[[stop_rules]]
outcome = "anxiety"
threshold = 4
days = 3
message = "Stop and call your doctor."

[[stop_rules]]
outcome = "mood"
threshold = 1.5
"""
    p = parse(BASE + rules)
    first, second = p.stop_rules
    assert (first.outcome, first.threshold, first.days) == ("anxiety", 4.0, 3)
    assert first.message == "Stop and call your doctor."
    assert (second.outcome, second.threshold, second.days) == ("mood", 1.5, 1)
    assert second.message == "Stop taking the substance and seek advice."


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            '[[stop_rules]]\noutcome = "anxeity"\nthreshold = 4\n',
            'protocol.toml: stop_rules[0].outcome names outcome "anxeity", which is not defined',
        ),
        (
            '[[stop_rules]]\noutcome = "anxiety"\n',
            "protocol.toml: stop_rules[0].threshold is missing; "
            "give the rating that triggers the rule",
        ),
        (
            '[[stop_rules]]\noutcome = "anxiety"\nthreshold = "high"\n',
            'protocol.toml: stop_rules[0].threshold is "high"; it must be a number',
        ),
        (
            '[[stop_rules]]\noutcome = "anxiety"\nthreshold = 4\ndays = 0\n',
            "protocol.toml: stop_rules[0].days is 0; it must be a whole number 1-365",
        ),
        (
            '[[stop_rules]]\noutcome = "anxiety"\nthreshold = 4\nwhen = "always"\n',
            "protocol.toml: stop_rules[0].when is not a known key "
            "(allowed: days, message, outcome, threshold)",
        ),
        (
            "[[stop_rules]]\nthreshold = 4\n",
            "protocol.toml: stop_rules[0].outcome is missing; it must be a string",
        ),
        (
            '[stop_rules]\noutcome = "anxiety"\n',
            "protocol.toml: [[stop_rules]] must be an array of tables",
        ),
        ("stop_rules = [1]\n", "protocol.toml: stop_rules[0] must be a table ([[stop_rules]])"),
    ],
    ids=[
        "unknown-outcome",
        "no-threshold",
        "string-threshold",
        "zero-days",
        "unknown-key",
        "no-outcome",
        "table",
        "not-a-table",
    ],
)
def test_stop_rule_errors(rules: str, expected: str) -> None:
    text = rules + BASE if rules.startswith("stop_rules =") else BASE + rules
    assert error(text) == expected


# -- fuzzing: only ProtocolError, one line ---------------------------------------------


def _check_only_protocol_error(raw: bytes) -> None:
    try:
        p = parse_protocol(raw)
    except ProtocolError as exc:
        message = str(exc)
        assert message.startswith("protocol.toml: ")
        assert len(message.splitlines()) == 1, message
    else:
        assert isinstance(p, Protocol)
        assert p.sha256 == hashlib.sha256(raw).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(raw: bytes) -> None:
    _check_only_protocol_error(raw)


FRAGMENTS = [
    "[trial]\n",
    "[design]\n",
    "[[arms]]\n",
    "[[outcomes]]\n",
    "[checkin]\n",
    "[analysis]\n",
    "[[stop_rules]]\n",
    'title = "t"\n',
    'question = "q"\n',
    'name = "active"\n',
    'name = "placebo"\n',
    'kind = "active"\n',
    'kind = "placebo"\n',
    'kind = "complete"\n',
    'block = ["active", "placebo"]\n',
    "counts = {active = 2, placebo = 2}\n",
    "blocks = 2\n",
    'dosing = "weekdays:mon,thu"\n',
    'timezone = "Europe/Berlin"\n',
    'day_starts = "04:00"\n',
    "primary = true\n",
    "scale = [1, 10]\n",
    "max_run = 1\n",
    'blinding = "self"\n',
    'outcome = "mood"\n',
    "threshold = 3\n",
    "=",
    "[",
    "]",
    '"',
    "\n",
    " = inf\n",
    "x = 1979-05-27\n",
    "\x00",
    "é",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_fuzz_toml_fragments(parts: list[str]) -> None:
    _check_only_protocol_error("".join(parts).encode())


# A structured fuzzer: the base protocol as data, mutated, written back as TOML.

BASE_DOC: dict[str, Any] = {
    "trial": {"title": "t", "question": "q", "timezone": "UTC"},
    "arms": [
        {"name": "active", "kind": "active", "dose": 0.1, "unit": "g"},
        {"name": "placebo", "kind": "placebo"},
        {"name": "none", "kind": "none"},
    ],
    "design": {
        "kind": "blocks",
        "block": ["active", "placebo"],
        "blocks": 3,
        "counts": {"active": 2, "placebo": 2},
        "period_days": 2,
        "dosing": "fadiman",
        "baseline_days": 1,
        "washout_days": 0,
        "blinding": "helper",
        "max_run": 2,
    },
    "outcomes": [
        {"name": "mood", "scale": [1, 10], "better": "higher", "primary": True, "mcid": 1},
        {"name": "anxiety", "scale": [0, 4], "better": "lower"},
    ],
    "checkin": {"guess": True, "guess_first": False, "days": "dose", "day_starts": "05:30"},
    "analysis": {"alpha": 0.05, "alternative": "greater", "correction": "bh"},
    "stop_rules": [{"outcome": "anxiety", "threshold": 4, "days": 2}],
}

SCALARS = (
    st.text(max_size=12)
    | st.sampled_from(["active", "placebo", "none", "unsure", "complete", "self", "weekdays:mon"])
    | st.integers(-3, 2100)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _dump_str(text: str) -> str:
    # JSON string escapes are TOML basic-string escapes; DEL must be escaped in TOML.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _dump_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else _dump_str(key)


def _dump_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _dump_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_dump_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{_dump_key(k)} = {_dump_value(x)}" for k, x in v.items()) + "}"


def dump_toml(doc: dict[str, Any]) -> str:
    """A tiny TOML writer: scalars first, then tables and arrays of tables."""
    lines = [f"{_dump_key(k)} = {_dump_value(v)}" for k, v in doc.items() if not _is_section(v)]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"[{_dump_key(k)}]")
            lines += [f"{_dump_key(kk)} = {_dump_value(vv)}" for kk, vv in v.items()]
        elif _is_section(v):
            for item in v:
                lines.append(f"[[{_dump_key(k)}]]")
                lines += [f"{_dump_key(kk)} = {_dump_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


def _is_section(v: Any) -> bool:
    return isinstance(v, dict) or (
        isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
    )


@st.composite
def mutated_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc = json.loads(json.dumps(BASE_DOC))
    if draw(st.booleans()):
        doc["design"].pop("counts")
    else:
        doc["design"]["kind"] = "complete"
        for k in ("block", "blocks"):
            doc["design"].pop(k)
    for _ in range(draw(st.integers(0, 3))):
        section = draw(st.sampled_from(sorted(doc)))
        target = doc[section]
        if isinstance(target, list) and target:
            target = target[draw(st.integers(0, len(target) - 1))]
        if not isinstance(target, dict):
            doc[section] = draw(VALUES)
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        keys = sorted(target)
        if action == "add" or not keys:
            target[draw(st.text(min_size=1, max_size=6))] = draw(VALUES)
        elif action == "delete":
            del target[draw(st.sampled_from(keys))]
        else:
            target[draw(st.sampled_from(keys))] = draw(VALUES)
    return doc


def test_tiny_toml_writer_round_trips_the_base() -> None:
    import tomllib

    assert tomllib.loads(dump_toml(BASE_DOC)) == BASE_DOC
    doc = json.loads(json.dumps(BASE_DOC))
    doc["design"].pop("counts")
    assert parse(dump_toml(doc)).design.dosing == "fadiman"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_docs())
def test_fuzz_mutated_protocols(doc: dict[str, Any]) -> None:
    _check_only_protocol_error(dump_toml(doc).encode())


def test_the_scale_bound_is_what_a_check_in_holds() -> None:
    from blindself.protocol.plan import MAX_RATING
    from blindself.trial.checkins import MAX_EXACT

    assert MAX_RATING == MAX_EXACT == 9007199254740991
