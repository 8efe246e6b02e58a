"""Questionnaire instruments: reading a shipped instrument file, and scoring its answers
(docs/design.md#instruments).

An instrument file (``blindself/protocol/instruments/NAME.toml``) carries the items exactly
as published, the options with their published values, the scoring rule, the missing-item
rule, the interpretation bands and the licence statement, each with its source.  A protocol
names it with ``instrument = "NAME"`` in an ``[[outcomes]]`` table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

from blindself.protocol.fields import FieldReader, show
from blindself.protocol.model import Band, Choice, Instrument, Item

_KEYS = {
    "name",
    "title",
    "version",
    "reference",
    "instructions",
    "scoring",
    "better",
    "scoring_source",
    "options",
    "items",
    "missing",
    "bands",
    "licence",
}


def shipped_instruments() -> tuple[str, ...]:
    """The names of the instruments blindself ships."""
    from importlib import resources

    folder = resources.files("blindself.protocol.instruments")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def load_instrument(name: str) -> Instrument:
    """A shipped instrument by name; KeyError if blindself ships none of that name."""
    from importlib import resources

    if name not in shipped_instruments():
        raise KeyError(name)
    raw = resources.files("blindself.protocol.instruments").joinpath(f"{name}.toml").read_bytes()
    return InstrumentReader(f"instruments/{name}.toml").instrument(tomllib.loads(raw.decode()))


def instrument_for_rule(rule: str) -> Instrument:
    """The shipped instrument whose scoring version is ``rule`` (e.g. ``"gad7/1"``); KeyError
    if none is."""
    instrument = load_instrument(rule.partition("/")[0])
    if instrument.scoring_version != rule:
        raise KeyError(rule)
    return instrument


class InstrumentReader(FieldReader):
    """Reads one instrument file; every error names the key and what is allowed."""

    def instrument(self, doc: dict[str, Any]) -> Instrument:
        self.no_unknown(doc, "", _KEYS)
        options = self._options(doc.get("options"))
        items = self._items(doc.get("items"))
        missing = self.table(doc, "missing", {"rule", "max_missing", "source"}, True)
        licence = self.table(doc, "licence", {"statement", "url"}, True)
        scoring = self.choice(doc, "scoring", "", ("sum", "mean"), "")
        return Instrument(
            name=self.name(doc, "name", ""),
            title=self.string(doc, "title", ""),
            version=self.integer(doc, "version", "", None, 1, 1000),
            reference=self.string(doc, "reference", ""),
            instructions=self.string(doc, "instructions", ""),
            options=options,
            items=items,
            scoring=scoring,  # type: ignore[arg-type]
            better=self.choice(doc, "better", "", ("higher", "lower"), ""),  # type: ignore[arg-type]
            rule=self.choice(missing, "rule", "missing", ("prorate", "mean-of-answered"), ""),  # type: ignore[arg-type]
            max_missing=self.integer(missing, "max_missing", "missing", None, 0, len(items) - 1),
            bands=self._bands(doc.get("bands")),
            licence=self.string(licence, "statement", "licence"),
            licence_url=self.string(licence, "url", "licence"),
        )

    def _options(self, value: Any) -> tuple[Choice, ...]:
        if not isinstance(value, list) or len(value) < 2:
            raise self.fail("options", "must list at least two {value, label} options")
        out = []
        for i, o in enumerate(value):
            prefix = f"options[{i}]"
            if not isinstance(o, dict):
                raise self.fail(prefix, "must be a table {value = N, label = TEXT}")
            self.no_unknown(o, prefix, {"value", "label"})
            out.append(
                Choice(
                    self.integer(o, "value", prefix, None, -100, 100),
                    self.string(o, "label", prefix),
                )
            )
        values = [c.value for c in out]
        if values != list(range(values[0], values[0] + len(values))):
            raise self.fail("options", f"values {show(values)} must be consecutive and ascending")
        return tuple(out)

    def _items(self, value: Any) -> tuple[Item, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("items", "must list the items, each {text = TEXT}")
        out = []
        for i, it in enumerate(value):
            prefix = f"items[{i}]"
            if not isinstance(it, dict):
                raise self.fail(prefix, "must be a table {text = TEXT, reversed = BOOL}")
            self.no_unknown(it, prefix, {"text", "reversed"})
            out.append(
                Item(self.string(it, "text", prefix), self.boolean(it, "reversed", prefix, False))
            )
        return tuple(out)

    def _bands(self, value: Any) -> tuple[Band, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail("bands", "must be an array of tables ([[bands]])")
        out = []
        for i, b in enumerate(value):
            prefix = f"bands[{i}]"
            if not isinstance(b, dict):
                raise self.fail(prefix, "must be a table ([[bands]])")
            self.no_unknown(b, prefix, {"from", "label", "severe"})
            start = self.number(b, "from", prefix, None)
            if start is None:
                raise self.fail(f"{prefix}.from", "is missing; give the band's lowest score")
            out.append(
                Band(
                    start, self.string(b, "label", prefix), self.boolean(b, "severe", prefix, False)
                )
            )
        if [b.start for b in out] != sorted({b.start for b in out}):
            raise self.fail("bands", "must be in ascending order of their 'from' scores")
        return tuple(out)


def item_scores(instrument: Instrument, answers: Sequence[int | None]) -> list[int | None]:
    """Each answer's item score: its value, reversed (``lowest + highest - value``) where the
    instrument says so; None for an unanswered item."""
    lo, hi = instrument.item_range
    return [
        None if a is None else (lo + hi - a if item.reversed else a)
        for item, a in zip(instrument.items, answers, strict=True)
    ]


def score_answers(instrument: Instrument, answers: Sequence[int | None]) -> float | None:
    """The instrument's score, or None when more items are missing than its rule allows.

    ``answers`` holds the published value of each item's chosen option, in item order, None
    for an item left unanswered.  Sum scales with a missing item are prorated (the mean of
    the answered items times the number of items); mean scales average the answered items
    (docs/design.md#instruments gives the source of each instrument's rule).

    Examples
    --------
    >>> gad7 = load_instrument("gad7")
    >>> score_answers(gad7, [1, 2, 3, 0, 1, 2, None])  # 9 * 7 / 6
    10.5
    >>> score_answers(load_instrument("brs"), [5, 1, 4, 2, 4, 2])  # (5+5+4+4+4+4) / 6
    4.333333333333333
    """
    scores = item_scores(instrument, answers)
    answered = [s for s in scores if s is not None]
    if len(scores) - len(answered) > instrument.max_missing or not answered:
        return None
    if instrument.scoring == "mean":
        return sum(answered) / len(answered)
    total = sum(answered)
    if len(answered) == len(scores):
        return float(total)
    return total * len(scores) / len(answered)


def band_of(instrument: Instrument, score: float) -> Band | None:
    """The published band a score falls in (None without bands or below the first)."""
    found = None
    for band in instrument.bands:
        if score >= band.start:
            found = band
    return found
