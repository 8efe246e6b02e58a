"""Protocol TOML texts of the tests and benchmarks, built in one place.

The tests and benchmarks each wrote out whole protocols that differ in a title, a block count
or an outcome (the duplicates tool counted them as one text repeated); here a protocol is
its sections, each built by one function, so a test names only what its trial needs.

The texts are byte-for-byte those the modules used to spell out (a protocol's SHA-256 is
part of its trial's commitment): ``tests/test_protocol_texts.py`` pins each one.  A number
field may be a ``{placeholder}`` for ``str.format`` (``blocks="{blocks}"``), and so may a
quoted string (``blinding="{blinding}"``).

Benchmarks import this module too (they put ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_QUESTION = "Does the active capsule lift my mood?"


def arm(name: str, kind: str, label: str, dose: float | None = None) -> str:
    """One ``[[arms]]`` table."""
    lines = ["[[arms]]", f'name = "{name}"', f'kind = "{kind}"', f'label = "{label}"']
    if dose is not None:
        lines.append(f"dose = {dose:g}")
    return "\n".join(lines) + "\n"


ACTIVE_PLACEBO = (
    arm("active", "active", "active capsule"),
    arm("placebo", "placebo", "placebo capsule"),
)


def design(
    *,
    blocks: int | str = 4,
    block: Sequence[str] = ("active", "placebo"),
    period_days: int | str = 1,
    dosing: str = "daily",
    baseline_days: int | str = 2,
    blinding: str = "helper",
) -> str:
    """The ``[design]`` table of a randomized-blocks design."""
    shown = ", ".join(f'"{a}"' for a in block)
    return (
        f'[design]\nkind = "blocks"\nblock = [{shown}]\nblocks = {blocks}\n'
        f'period_days = {period_days}\ndosing = "{dosing}"\nbaseline_days = {baseline_days}\n'
        f'blinding = "{blinding}"\n'
    )


def outcome(
    name: str,
    *,
    better: str = "higher",
    primary: bool | None = None,
    question: str | None = None,
    scale: tuple[int, int] = (1, 10),
    mcid: float | None = None,
    source: str | None = None,
) -> str:
    """One ``[[outcomes]]`` table; ``primary=None`` leaves the key out."""
    lines = ["[[outcomes]]", f'name = "{name}"']
    if question is not None:
        lines.append(f'question = "{question}"')
    lines += [f"scale = [{scale[0]}, {scale[1]}]", f'better = "{better}"']
    if primary is not None:
        lines.append(f"primary = {'true' if primary else 'false'}")
    if mcid is not None:
        lines.append(f"mcid = {mcid}")
    if source is not None:
        lines.append(f'source = "{source}"')
    return "\n".join(lines) + "\n"


MOOD = outcome("mood", primary=True)
ANXIETY = outcome("anxiety", better="lower")


def protocol_text(
    *,
    title: str,
    design_text: str,
    outcomes: Sequence[str],
    question: str = DEFAULT_QUESTION,
    arms: Sequence[str] = ACTIVE_PLACEBO,
    checkin: str = "guess = true\n",
    analysis: str | None = None,
) -> str:
    """A whole protocol: trial, arms, design, outcomes, check-in, optional analysis."""
    parts = [f'[trial]\ntitle = "{title}"\nquestion = "{question}"\ntimezone = "UTC"\n']
    parts += [*arms, design_text, *outcomes, f"[checkin]\n{checkin}"]
    if analysis is not None:
        parts.append(f"[analysis]\n{analysis}")
    return "\n".join(parts)


# tests/helpers.py: the small trial most tests use (``.format(blinding=...)``).
SMALL_PROTOCOL = protocol_text(
    title="Small test trial",
    design_text=design(blinding="{blinding}"),
    outcomes=(
        outcome("mood", primary=True, question="How was your mood?", mcid=1.0),
        ANXIETY,
    ),
    analysis="alpha = 0.05\n",
)

# tests/reliability/support.py: a long helper-mode trial (``.format(blocks=, baseline=)``).
LONG_PROTOCOL = protocol_text(
    title="Long reliability trial",
    question="Does it lift my mood?",
    design_text=design(blocks="{blocks}", baseline_days="{baseline}"),
    outcomes=(MOOD,),
)

# tests/reliability/test_lifecycle.py: three arms, two-day periods dosed every other day.
THREE_ARMS = protocol_text(
    title="Three arms",
    question="Dose?",
    arms=(
        arm("placebo", "placebo", "placebo"),
        arm("low", "active", "low dose", dose=1),
        arm("high", "active", "high dose", dose=2),
    ),
    design_text=design(
        block=("placebo", "low", "high"),
        blocks=2,
        period_days=2,
        dosing="every-other-day",
        baseline_days=1,
        blinding="{blinding}",
    ),
    outcomes=(MOOD,),
    checkin='guess = true\ndays = "all"\n',
)

# benchmarks/run.py: the trial of the start-up benchmark.
STARTUP_PROTOCOL = protocol_text(
    title="Start-up benchmark",
    design_text=design(blocks=20, baseline_days=0),
    outcomes=(outcome("mood", primary=True, question="How was your mood?"), ANXIETY),
)

# benchmarks/bench_web.py: a year of one-day periods.
WEB_YEAR_PROTOCOL = protocol_text(
    title="A year of check-ins",
    question="Does it lift my mood?",
    design_text=design(blocks=181, baseline_days=3),
    outcomes=(MOOD, ANXIETY),
)

# benchmarks/bench_import.py: an outcome only imports fill (``.format(blocks=)``).
IMPORT_PROTOCOL = protocol_text(
    title="Heart rate",
    question="Does it lower my resting heart rate?",
    arms=(arm("active", "active", "active"), arm("placebo", "placebo", "placebo")),
    design_text=design(blocks="{blocks}", baseline_days=1),
    outcomes=(
        outcome("resting_hr", better="lower", primary=True, scale=(20, 250), source="import"),
    ),
    checkin="guess = false\n",
)

YEAR_OUTCOME_NAMES = ("mood", "anxiety", "focus", "energy", "sleep")


def year_protocol(blocks: int, outcomes: int) -> str:
    """benchmarks/bench_kernels.py: weekly AB/BA periods with up to five outcomes."""
    return protocol_text(
        title="A year of weekly AB/BA periods",
        question="Does the active capsule change how I feel?",
        design_text=design(blocks=blocks, period_days=7, baseline_days=1),
        outcomes=[  # one part: no blank line between these outcome tables
            "".join(
                outcome(
                    name,
                    better="lower" if name == "anxiety" else "higher",
                    primary=i == 0,
                    question=f"How was your {name} today?",
                    mcid=1.0,
                )
                for i, name in enumerate(YEAR_OUTCOME_NAMES[:outcomes])
            )
        ],
        analysis='alpha = 0.05\ncorrection = "holm"\n',
    )
