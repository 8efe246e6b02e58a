"""Inline SVG figures for the HTML report, drawn with matplotlib's SVG backend.

Each function takes plain values already stored in ``report.json`` and returns one ``<svg>``
element as text, ready to paste into a page: no XML prolog, no metadata, every ``id``
prefixed with ``uid`` so several figures can share a page, text kept as ``<text>`` so the
numbers stay searchable.  Output is reproducible: the SVG hash salt is fixed and no date
is written.  Figures only draw; every number printed on the page comes from the report.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from markupsafe import escape

if TYPE_CHECKING:
    from blindself.report.instruments import BandRange

#: Okabe & Ito (2008) colour-blind-safe palette, in the order actives are given colours.
ACTIVE_COLOURS = ("#D55E00", "#E69F00", "#CC79A7", "#009E73", "#F0E442", "#56B4E9")
PLACEBO_COLOUR = "#0072B2"
NONE_COLOUR = "#6E6E6E"
BASELINE_COLOUR = "#B0B0B0"
INK = "#222222"
#: Marker of the guess made on a dose day: the first active arm guessed is a filled circle,
#: further active arms get other filled shapes, a placebo guess is a hollow circle.
ACTIVE_GUESS_MARKERS = ("o", "^", "s", "D", "v", "P")

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "blindself-report",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9.5,
    "axes.edgecolor": "#888888",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "legend.fontsize": 8.5,
    "legend.frameon": False,
}
_ROOT_SIZE = re.compile(r'\s(?:width|height)="[\d.]+pt"')


@dataclass(frozen=True)
class Point:
    """One day of one outcome's series (``report.json`` ``series`` row)."""

    day: int
    date: str | None
    arm: str | None
    day_type: str
    y: float | None
    guess: str | None


@dataclass(frozen=True)
class ArmStyle:
    """How an arm is drawn: its protocol name, kind and colour."""

    name: str
    kind: str
    colour: str


def arm_styles(arms: Sequence[Mapping[str, Any]]) -> dict[str, ArmStyle]:
    """Colour each arm by kind (actives in protocol order); keys are arm names.

    Examples
    --------
    >>> s = arm_styles([{"name": "a", "kind": "active"}, {"name": "p", "kind": "placebo"}])
    >>> s["a"].colour, s["p"].colour
    ('#D55E00', '#0072B2')
    """
    out: dict[str, ArmStyle] = {}
    actives = 0
    for a in arms:
        if a["kind"] == "placebo":
            colour = PLACEBO_COLOUR
        elif a["kind"] == "none":
            colour = NONE_COLOUR
        else:
            colour = ACTIVE_COLOURS[actives % len(ACTIVE_COLOURS)]
            actives += 1
        out[a["name"]] = ArmStyle(a["name"], a["kind"], colour)
    return out


def _tx(text: str) -> str:
    """Text safe for matplotlib: a ``$`` must not start mathtext."""
    return text.replace("$", r"\$")


@contextmanager
def _figure(width: float, height: float) -> Iterator[Any]:
    # Imported only when a figure is drawn, and the SVG canvas attached up front: no
    # backend is looked up (pyplot is never imported) and savefig needs no canvas switch.
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with matplotlib.rc_context(cast(Any, _RC)):
        fig = Figure(figsize=(width, height))
        FigureCanvasSVG(fig)
        yield fig


def _svg(fig: Any, uid: str, title: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{uid}-\1"', text)
    text = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{uid}-\1"', text)
    text = re.sub(r"url\(#([\w.-]+)\)", rf"url(#{uid}-\1)", text)
    head, rest = text.split(">", 1)
    head = _ROOT_SIZE.sub("", head)
    return f'{head} role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{rest}'


def _ticks(points: Sequence[Point], n: int = 6) -> tuple[list[int], list[str]]:
    """About ``n`` x ticks at days present in the series, labelled with their dates."""
    if not points:
        return [], []
    step = max(1, len(points) // n)
    chosen = list(points[::step])
    labels = [p.date[5:] if p.date else f"day {p.day}" for p in chosen]
    return [p.day for p in chosen], labels


def _ylim(ax: Any, scale: Sequence[float] | None) -> None:
    if scale and len(scale) == 2 and scale[0] is not None and scale[1] is not None:
        lo, hi = float(scale[0]), float(scale[1])
        pad = (hi - lo) * 0.06 or 0.5
        ax.set_ylim(lo - pad, hi + pad)


def outcome_figure(
    points: Sequence[Point],
    styles: Mapping[str, ArmStyle],
    means: Mapping[str, float | None],
    *,
    placebo: str | None,
    actives: Sequence[str],
    ylabel: str,
    scale: Sequence[float] | None,
    uid: str,
    bands: Sequence[BandRange] = (),
    compared: tuple[str, ...] = ("dose",),
) -> str:
    """Ratings by day coloured by arm (marker = the guess), and beside them, on the same
    scale, the compared days' ratings of each arm as stacked dots with the reported mean.

    ``bands`` (a questionnaire's published bands) are shaded behind the course as context;
    ``compared`` are the day types the analysis compares (a questionnaire: dose and off).
    The legend is :func:`series_legend`, for the page to show as text.
    """
    with _figure(6.8, 2.7) as fig:
        ax = fig.add_axes((0.075, 0.14, 0.665, 0.77))
        dist = fig.add_axes((0.765, 0.14, 0.225, 0.77), sharey=ax)
        if bands:
            from blindself.report.instruments import shade_bands

            shade_bands(ax, bands)
        _series(ax, points, styles, placebo, actives)
        _ylim(ax, scale)
        ax.set_ylabel(_tx(ylabel))
        _dots(dist, points, styles, means, compared)
        dist.tick_params(axis="y", left=False, labelleft=False)
        title = "dose days per arm" if compared == ("dose",) else "scores per arm"
        dist.set_title(title, fontsize=8.5, color="#555555", pad=4)
        return _svg(fig, uid, f"{ylabel}: ratings by day and per arm")


def _series(
    ax: Any,
    points: Sequence[Point],
    styles: Mapping[str, ArmStyle],
    placebo: str | None,
    actives: Sequence[str],
) -> None:
    guess_marker = {a: ACTIVE_GUESS_MARKERS[i % 6] for i, a in enumerate(actives)}
    rated = [p for p in points if p.y is not None]
    ax.plot([p.day for p in rated], [p.y for p in rated], "-", color="#D0D0D0", lw=0.6)
    groups: dict[tuple[str, str], list[Point]] = {}
    for p in rated:
        style = styles.get(p.arm or "")
        colour = style.colour if style else BASELINE_COLOUR
        if p.day_type != "dose" or p.arm is None:
            kind = "other"
        elif p.guess in guess_marker:
            kind = "active:" + p.guess
        elif p.guess is not None and p.guess == placebo:
            kind = "placebo"
        elif p.guess == "unsure":
            kind = "unsure"
        else:
            kind = "other"
        groups.setdefault((colour, kind), []).append(p)
    for (colour, kind), pts in groups.items():
        xs, ys = [p.day for p in pts], [p.y for p in pts]
        if kind.startswith("active:"):
            ax.plot(xs, ys, guess_marker[kind[7:]], ms=4.5, color=colour, ls="none")
        elif kind == "placebo":
            ax.plot(xs, ys, "o", ms=4.5, mfc="white", mec=colour, mew=1.2, ls="none")
        elif kind == "unsure":
            ax.plot(xs, ys, "x", ms=4.5, color=colour, mew=1.2, ls="none")
        else:
            ax.plot(xs, ys, ".", ms=4, color=colour, alpha=0.55, ls="none")
    ticks, labels = _ticks(points)
    ax.set_xticks(ticks, labels)


#: Text symbols matching the matplotlib markers, for the legend written in HTML.
_SYMBOL = {"o": "●", "^": "▲", "s": "■", "D": "◆", "v": "▼", "P": "✚"}


def series_legend(
    styles: Mapping[str, ArmStyle], placebo: str | None, actives: Sequence[str], run_in: bool
) -> list[tuple[str, str, str]]:
    """Legend of :func:`outcome_figure` as ``(symbol, colour, label)`` for the page.

    Examples
    --------
    >>> st = arm_styles([{"name": "a", "kind": "active"}, {"name": "p", "kind": "placebo"}])
    >>> [x[0] + " " + x[2] for x in series_legend(st, "p", ["a"], False)][2:4]
    ['● guessed a', '○ guessed p']
    """
    out = [("■", s.colour, s.name) for s in styles.values()]
    if run_in:
        out.append(("■", BASELINE_COLOUR, "run-in"))
    out += [
        (_SYMBOL[ACTIVE_GUESS_MARKERS[i % 6]], INK, f"guessed {a}") for i, a in enumerate(actives)
    ]
    if placebo is not None:
        out.append(("○", INK, f"guessed {placebo}"))
    out += [("×", INK, "unsure"), ("•", INK, "no guess that day")]
    return out


def _dots(
    ax: Any,
    points: Sequence[Point],
    styles: Mapping[str, ArmStyle],
    means: Mapping[str, Any],
    compared: tuple[str, ...] = ("dose",),
) -> None:
    """Compared days' ratings per arm as a dot plot: equal ratings side by side, mean as ◇."""
    cols: list[tuple[str, str, list[float], float | None]] = []
    base = [p.y for p in points if p.day_type == "baseline" and p.y is not None]
    if base:
        cols.append(("run-in", BASELINE_COLOUR, base, None))
    order = {"none": 0, "placebo": 1}
    for name, s in sorted(styles.items(), key=lambda kv: order.get(kv[1].kind, 2)):
        ys = [p.y for p in points if p.arm == name and p.day_type in compared and p.y is not None]
        if ys:
            cols.append((name, s.colour, ys, means.get(name)))
    values = {y for _, _, ys, _ in cols for y in ys}
    spread = (max(values) - min(values)) if values else 0.0
    # Many distinct values (a continuous outcome): stack within bins of 1/30 of the range.
    width = spread / 30 if len(values) > 25 and spread > 0 else None
    keyed = [[round(y / width) if width else y for y in ys] for _, _, ys, _ in cols]
    tallest = max((max(k.count(v) for v in set(k)) for k in keyed if k), default=1)
    gap = min(0.09, 0.62 / tallest)
    for i, ((_, colour, ys, mean), keys) in enumerate(zip(cols, keyed, strict=True)):
        seen: dict[float, int] = {}
        xs = []
        for key in keys:
            xs.append(i - 0.22 + seen.get(key, 0) * gap)
            seen[key] = seen.get(key, 0) + 1
        ax.plot(xs, ys, "o", ms=3.2, color=colour, alpha=0.85, mew=0, zorder=2)
        if mean is not None:
            ax.plot([i - 0.36], [mean], "D", ms=6, mfc="white", mec=INK, mew=1.3, zorder=3)
    ax.set_xticks(
        range(len(cols)), [_tx(c[0]) for c in cols], fontsize=8, rotation=30 if len(cols) > 3 else 0
    )
    ax.set_xlim(-0.55, len(cols) - 0.2)
    ax.tick_params(axis="x", length=0)
    ax.spines["left"].set_visible(False)
    ax.spines["bottom"].set_color("#CCCCCC")


@dataclass(frozen=True)
class Step:
    """One bar of the decomposition chart, drawn from ``start`` to ``start + estimate``."""

    label: str
    start: float
    estimate: float
    ci95: tuple[float, float] | None
    text: str
    colour: str
    randomized: bool


def decomposition(steps: Sequence[Step], *, ylabel: str, note: str | None, uid: str) -> str:
    """Waterfall from 'nothing' through placebo to each active arm, with 95 % intervals."""
    with _figure(6.4, 3.0) as fig:
        ax = fig.add_axes((0.11, 0.2, 0.86, 0.66 if note else 0.74))
        ax.axhline(0, color="#999999", lw=0.8)
        for i, s in enumerate(steps):
            ax.bar(
                [i],
                [s.estimate],
                bottom=[s.start],
                width=0.55,
                color=s.colour + "99",
                edgecolor=s.colour,
                lw=1.2,
                hatch=None if s.randomized else "///",
            )
            top = s.start + s.estimate
            if s.ci95 is not None:
                lo, hi = s.start + s.ci95[0], s.start + s.ci95[1]
                ax.plot([i, i], [lo, hi], "-", color=INK, lw=1.2)
                ax.plot([i, i], [lo, hi], "_", ms=9, color=INK, mew=1.2)
            ax.annotate(
                _tx(s.text),
                (i + 0.3, top),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=10,
                fontweight="bold",
                color=INK,
            )
            if i + 1 < len(steps) and steps[i + 1].start == top:
                ax.plot([i + 0.28, i + 0.72], [top, top], ":", color="#777777", lw=1)
        ax.set_xticks(range(len(steps)), [_tx(s.label) for s in steps])
        ax.set_xlim(-0.6, len(steps) - 0.2)
        ax.set_ylabel(_tx(ylabel))
        ax.margins(y=0.15)
        if note:
            fig.text(0.11, 0.97, _tx(note), va="top", fontsize=9, color="#A33A00", wrap=True)
        return _svg(fig, uid, "Decomposition: nothing, placebo, active")


def guess_rate_by_week(
    weeks: Sequence[tuple[int, float | None]], *, chance: float | None, uid: str
) -> str:
    """Share of correct (definite) guesses per week, with the chance level."""
    with _figure(6.4, 2.2) as fig:
        ax = fig.add_axes((0.13, 0.22, 0.84, 0.7))
        shown = [(w, r) for w, r in weeks if r is not None]
        ax.plot([w for w, _ in shown], [r for _, r in shown], "o-", color="#0072B2", ms=4, lw=1.2)
        if chance is not None:
            ax.axhline(chance, color=INK, ls="--", lw=1)
            ax.annotate(
                "chance",
                (1, chance),
                xycoords=("axes fraction", "data"),
                xytext=(-2, 3),
                textcoords="offset points",
                ha="right",
                fontsize=8.5,
            )
        ax.set_ylim(0, 1.05)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1], ["0", "25 %", "50 %", "75 %", "100 %"])
        # Whole weeks only (issue 16: matplotlib's default ticks read 1.0, 1.5, 2.0 for a
        # short trial), with half a week of room either side of the data.
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if shown:
            ax.set_xlim(min(w for w, _ in shown) - 0.5, max(w for w, _ in shown) + 0.5)
        ax.set_xlabel("trial week")
        ax.set_ylabel("correct guesses")
        return _svg(fig, uid, "Share of correct guesses by week")


def cgrc_curve(
    curve: Sequence[Mapping[str, Any]],
    *,
    observed: float | None,
    target: float,
    ylabel: str,
    uid: str,
) -> str:
    """The correct guess rate curve: estimate and 95 % band against the correct-guess rate,
    the observed rate and the target (a perfect blind) marked."""
    pts = [p for p in curve if p.get("estimate") is not None]
    band = [p for p in pts if p.get("ci95")]
    with _figure(6.4, 2.6) as fig:
        ax = fig.add_axes((0.13, 0.2, 0.84, 0.72))
        ax.axhline(0, color="#999999", lw=0.8)
        if band:
            ax.fill_between(
                [100 * p["cgr"] for p in band],
                [p["ci95"][0] for p in band],
                [p["ci95"][1] for p in band],
                color=PLACEBO_COLOUR,
                alpha=0.18,
                lw=0,
            )
        ax.plot([100 * p["cgr"] for p in pts], [p["estimate"] for p in pts], "-",
                color=PLACEBO_COLOUR, lw=1.6)  # fmt: skip
        # labels point away from each other so that close rates stay readable
        right = observed is not None and observed >= target
        for rate, label, colour, outward in (
            (target, "perfect blind", INK, not right),
            (observed, "your guesses", ACTIVE_COLOURS[0], right),
        ):
            if rate is None:
                continue
            ax.axvline(100 * rate, color=colour, ls="--", lw=1)
            ax.annotate(
                f"{label} ({100 * rate:.0f} %)",
                (100 * rate, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3 if outward else -3, -10),
                textcoords="offset points",
                ha="left" if outward else "right",
                fontsize=8.5,
                color=colour,
            )
            at = next((p for p in pts if abs(p["cgr"] - rate) < 1e-12), None)
            if at is not None:
                ax.plot([100 * rate], [at["estimate"]], "o", color=colour, ms=5)
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of correct guesses (%)")
        ax.set_ylabel(_tx(ylabel))
        return _svg(fig, uid, "Correct guess rate curve")
