"""The report's guesses-by-week figure labels whole weeks only (issue 16: ticks read 2.0, 2.5)."""

from __future__ import annotations

import re

import pytest

from blindself.report.plots import guess_rate_by_week


def x_tick_labels(svg: str) -> list[str]:
    """The text of every x tick label (the SVG keeps text as text: svg.fonttype none)."""
    chunks = svg.split('<g id="w-xtick_')[1:]
    return [re.search(r"<text[^>]*>([^<]*)</text>", c).group(1).strip() for c in chunks]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "weeks",
    [
        [(1, 0.5), (2, 0.75), (3, 0.5)],  # three weeks: matplotlib's default put ticks at halves
        [(1, 0.5), (2, 1.0)],
        [(4, 0.25)],
        [(w, 0.5) for w in range(1, 16)],
    ],
)
def test_week_ticks_are_whole_numbers(weeks: list[tuple[int, float]]) -> None:
    labels = x_tick_labels(guess_rate_by_week(weeks, chance=0.5, uid="w"))
    assert labels, "no x tick labels found: the SVG layout changed"
    assert all(re.fullmatch(r"\d+", x) for x in labels), labels
    shown = {int(x) for x in labels}
    assert shown & {w for w, _ in weeks}  # the weeks with data carry labels
