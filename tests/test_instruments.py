"""Questionnaire outcomes (issue 18): shipped instruments, scoring, schedules, check-in.

Every expected score is computed by hand from the published rule, cited beside it:
- BRS: Smith BW et al. 2008, Int J Behav Med 15:194-200, p. 196 ("reverse coding items 2, 4,
  and 6 and finding the mean of the six items"); the scale's scoring sheet ("Divide the total
  sum by the total number of questions answered").
- GAD-7: Spitzer RL et al. 2006, Arch Intern Med 166:1092-1097 (0-3 per item, sum 0-21, cut
  points 5/10/15).
- PHQ-8: Kroenke K et al. 2009, J Affect Disord 114:163-173 (0-3 per item, sum 0-24; severity
  cut points 5/10/15/20 as for the PHQ-9, Kroenke, Spitzer, Williams 2001).
- Missing items: blindself's documented conservative rules (docs/design.md#instruments):
  GAD-7 and PHQ-8 prorate with at most one item missing; BRS averages the answered items
  (the published rule) with at least 4 of 6 answered.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    PASSPHRASE,
    SMALL_PROTOCOL,
    START,
    Invoke,
    at,
    day,
    db_dump,
    init_trial_cli,
    make_context,
    with_clock,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from blindself.errors import CheckinError, ProtocolError
from blindself.protocol.instrument import (
    band_of,
    item_scores,
    load_instrument,
    score_answers,
    shipped_instruments,
)
from blindself.protocol.loading import parse_protocol
from blindself.trial.questionnaires import instrument_dates, parse_answers
from blindself.trial.schedule import build_calendar

ENV = {"BLINDSELF_PASSPHRASE": PASSPHRASE}
INSTRUMENTS = Path(__file__).resolve().parents[1] / "blindself" / "protocol" / "instruments"


# --------------------------------------------------------------------------- shipped files
def test_the_three_instruments_are_shipped_with_their_published_shape() -> None:
    assert shipped_instruments() == ("brs", "gad7", "phq8")
    brs, gad7, phq8 = (load_instrument(n) for n in ("brs", "gad7", "phq8"))
    # Smith et al. 2008: 6 items scored 1-5, items 2, 4 and 6 reversed, mean 1-5.
    assert len(brs.items) == 6 and brs.item_range == (1, 5) and brs.scoring == "mean"
    assert [i + 1 for i, it in enumerate(brs.items) if it.reversed] == [2, 4, 6]
    assert brs.bounds == (1.0, 5.0) and brs.better == "higher"
    # Spitzer et al. 2006: 7 items 0-3, sum 0-21, bands 5/10/15, 15+ severe.
    assert len(gad7.items) == 7 and gad7.bounds == (0.0, 21.0) and gad7.better == "lower"
    assert [b.start for b in gad7.bands] == [0, 5, 10, 15]
    assert [b.severe for b in gad7.bands] == [False, False, False, True]
    # Kroenke et al. 2009: 8 items 0-3, sum 0-24, bands 5/10/15/20, 20+ severe.
    assert len(phq8.items) == 8 and phq8.bounds == (0.0, 24.0) and phq8.better == "lower"
    assert [b.start for b in phq8.bands] == [0, 5, 10, 15, 20]
    assert [b.label for b in phq8.bands if b.severe] == ["severe"]
    assert not any(it.reversed for it in (*gad7.items, *phq8.items))


def test_no_self_harm_item_is_shipped() -> None:
    """The PHQ-9's ninth item (thoughts of being better off dead or of self-harm) is not
    shipped (issue 18, safety)."""
    for path in INSTRUMENTS.glob("*.toml"):
        doc = tomllib.loads(path.read_text())
        for item in doc["items"]:
            text = item["text"].lower()
            assert "dead" not in text and "hurting yourself" not in text, path.name


@pytest.mark.parametrize("name", ["brs", "gad7", "phq8"])
def test_each_file_states_its_reference_licence_and_rule_sources(name: str) -> None:
    doc = tomllib.loads((INSTRUMENTS / f"{name}.toml").read_text())
    i = load_instrument(name)
    assert "doi:" in i.reference
    assert i.licence_url.startswith("https://") and i.licence_url in i.licence
    assert doc["scoring_source"] and doc["missing"]["source"]
    assert i.scoring_version == f"{name}/1"


def test_item_texts_are_as_published() -> None:
    """Spot checks against the published forms (GAD-7 and PHQ-8 forms, Pfizer; BRS, Smith et
    al. 2008 scoring sheet)."""
    gad7, phq8, brs = (load_instrument(n) for n in ("gad7", "phq8", "brs"))
    assert gad7.items[0].text == "Feeling nervous, anxious or on edge"
    assert gad7.items[6].text == "Feeling afraid as if something awful might happen"
    assert phq8.items[1].text == "Feeling down, depressed, or hopeless"
    assert brs.items[0].text == "I tend to bounce back quickly after hard times"
    assert brs.items[5].text == "I tend to take a long time to get over set-backs in my life."
    assert [c.label for c in gad7.options] == [
        "Not at all",
        "Several days",
        "More than half the days",
        "Nearly every day",
    ]


# --------------------------------------------------------------------------- scoring
def test_brs_reverses_items_2_4_6_and_takes_the_mean() -> None:
    brs = load_instrument("brs")
    # Answers 5,1,4,2,4,2: reversed items 2,4,6 score 6-1=5, 6-2=4, 6-2=4;
    # item scores 5,5,4,4,4,4 -> 26/6 = 4.3333 (Smith et al. 2008, p. 196).
    assert item_scores(brs, [5, 1, 4, 2, 4, 2]) == [5, 5, 4, 4, 4, 4]
    assert score_answers(brs, [5, 1, 4, 2, 4, 2]) == pytest.approx(26 / 6)
    # All "Strongly Agree" (5): 5+1+5+1+5+1 = 18 / 6 = 3.0.
    assert score_answers(brs, [5] * 6) == 3.0
    # The least resilient pattern: 1,5,1,5,1,5 -> all item scores 1 -> 1.0.
    assert score_answers(brs, [1, 5, 1, 5, 1, 5]) == 1.0


def test_brs_missing_items_average_the_answered_with_at_least_four() -> None:
    brs = load_instrument("brs")
    # Scoring sheet: "Divide the total sum by the total number of questions answered".
    # 5,_,4,2,4,_ -> item scores 5,4,4,4 -> 17/4 = 4.25.
    assert score_answers(brs, [5, None, 4, 2, 4, None]) == 4.25
    # blindself's minimum (docs/design.md#instruments): 3 answered is not scored.
    assert score_answers(brs, [5, None, 4, None, 4, None]) is None


def test_gad7_sums_and_prorates_one_missing_item() -> None:
    gad7 = load_instrument("gad7")
    # Spitzer et al. 2006: 0-3 per item, sum.  1+2+3+0+1+2+3 = 12.
    assert score_answers(gad7, [1, 2, 3, 0, 1, 2, 3]) == 12.0
    assert score_answers(gad7, [3] * 7) == 21.0 and score_answers(gad7, [0] * 7) == 0.0
    # One missing: mean of the 6 answered times 7: (1+2+3+0+1+2) * 7 / 6 = 63/6 = 10.5.
    assert score_answers(gad7, [1, 2, 3, 0, 1, 2, None]) == 10.5
    # Two missing: no score (blindself's conservative rule).
    assert score_answers(gad7, [1, 2, 3, 0, 1, None, None]) is None


def test_phq8_sums_and_prorates_one_missing_item() -> None:
    phq8 = load_instrument("phq8")
    # Kroenke et al. 2009: 0-3 per item, sum 0-24.  2*8 = 16.
    assert score_answers(phq8, [2] * 8) == 16.0
    # One missing: (3*7) * 8 / 7 = 24.
    assert score_answers(phq8, [3, 3, 3, None, 3, 3, 3, 3]) == 24.0
    # 1+1+1+1+1+1+1 = 7 over 7 answered -> 7 * 8 / 7 = 8.
    assert score_answers(phq8, [1, 1, 1, 1, 1, 1, 1, None]) == 8.0
    assert score_answers(phq8, [None, None, 1, 1, 1, 1, 1, 1]) is None


@pytest.mark.parametrize(
    ("name", "score", "label"),
    [
        # GAD-7 (Spitzer et al. 2006): 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe.
        ("gad7", 4, "minimal anxiety"),
        ("gad7", 5, "mild anxiety"),
        ("gad7", 14, "moderate anxiety"),
        ("gad7", 15, "severe anxiety"),
        # PHQ-8 (Kroenke et al. 2009 / 2001): 15-19 moderately severe, 20-24 severe.
        ("phq8", 19, "moderately severe"),
        ("phq8", 20, "severe"),
        # BRS (Smith et al. 2013, p. 177): 1.00-2.99 low, 3.00-4.30 normal, 4.31-5.00 high.
        ("brs", 2.99, "low resilience"),
        ("brs", 4.30, "normal resilience"),
        ("brs", 26 / 6, "high resilience"),
    ],
)
def test_bands(name: str, score: float, label: str) -> None:
    band = band_of(load_instrument(name), score)
    assert band is not None and band.label == label


# --------------------------------------------------------------------------- protocol
def instrument_protocol(
    outcomes: str, blocks: int = 3, period_days: int = 7, days: str = "all"
) -> str:
    return (
        SMALL_PROTOCOL.format(blinding="helper")
        .replace("blocks = 4\nperiod_days = 1", f"blocks = {blocks}\nperiod_days = {period_days}")
        .replace("[checkin]\n", outcomes + f'\n[checkin]\ndays = "{days}"\n')
    )


def test_a_protocol_names_an_instrument_and_its_schedule() -> None:
    p = parse_protocol(
        instrument_protocol(
            '[[outcomes]]\ninstrument = "gad7"\nschedule = "weekly:sun"\n\n'
            '[[outcomes]]\nname = "resilience"\ninstrument = "brs"\nschedule = "period-end"\n'
        ).encode()
    )
    gad7, brs = p.instruments
    assert (gad7.name, gad7.scale, gad7.better, gad7.schedule) == (
        "gad7",
        (0.0, 21.0),
        "lower",
        "weekly:sun",
    )
    assert (brs.name, brs.scale, brs.better, brs.question) == (
        "resilience",
        (1.0, 5.0),
        "higher",
        "Brief Resilience Scale",
    )
    assert [o.name for o in p.daily_outcomes] == ["mood", "anxiety"]


@pytest.mark.parametrize(
    ("table", "days", "message"),
    [
        (
            'instrument = "phq9"',
            "all",
            'protocol.toml: outcomes[2].instrument is "phq9"; shipped instruments: brs, gad7, phq8',
        ),
        (
            'instrument = "gad7"\nscale = [0, 10]',
            "all",
            "protocol.toml: outcomes[2].scale is not a known key (allowed: instrument, mcid, "
            "name, primary, schedule)",
        ),
        (
            'instrument = "gad7"\nschedule = "monthly"',
            "all",
            'protocol.toml: outcomes[2].schedule is "monthly"; allowed: every, period-end, '
            "baseline-and-end, weekly:DAY or fortnightly:DAY (DAY one of "
            "mon,tue,wed,thu,fri,sat,sun)",
        ),
        (
            'instrument = "gad7"\nschedule = "weekly:sun"',
            "dose",
            'protocol.toml: outcomes[2].schedule is "weekly:sun", which needs checkin.days = "all"',
        ),
        (
            'instrument = "gad7"\nname = "mood"',
            "all",
            'protocol.toml: outcomes[2].name repeats outcome "mood"; names must be unique',
        ),
    ],
)
def test_bad_instrument_outcomes_are_refused(table: str, days: str, message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_protocol(instrument_protocol(f"[[outcomes]]\n{table}\n", days=days).encode())
    assert str(err.value) == message


def dates(schedule: str, **kw: Any) -> list[date]:
    p = parse_protocol(
        instrument_protocol(
            f'[[outcomes]]\ninstrument = "brs"\nschedule = "{schedule}"\n', **kw
        ).encode()
    )
    return list(instrument_dates(p, build_calendar(p, START), p.instruments[0]))


def test_schedules() -> None:
    # START 2026-03-02 is a Monday; 2 baseline days, then 3 blocks of two 7-day periods:
    # 44 days, 2026-03-02 to 2026-04-14.
    assert START.weekday() == 0
    assert len(dates("every")) == 44
    sundays = [date(2026, 3, 8) + (date(2026, 3, 15) - date(2026, 3, 8)) * k for k in range(6)]
    assert dates("weekly:sun") == sundays
    assert dates("fortnightly:sun") == sundays[::2]
    # Period k (0-based) runs 2026-03-04 + 7k to 2026-03-10 + 7k.
    assert dates("period-end") == [date(2026, 3, 10 + 7 * k) for k in range(3)] + [
        date(2026, 3, 31),
        date(2026, 4, 7),
        date(2026, 4, 14),
    ]
    assert dates("baseline-and-end") == [date(2026, 3, 3), date(2026, 4, 14)]


def test_period_end_on_dose_day_protocols_is_the_last_dose_day() -> None:
    # Every other day, 2 dose days per period, dose days only: period 1 doses on 03-04 and
    # 03-06; its span runs to 03-07, an off day nobody checks in on.
    text = instrument_protocol(
        '[[outcomes]]\ninstrument = "brs"\nschedule = "period-end"\n', period_days=2, days="dose"
    ).replace('dosing = "daily"', 'dosing = "every-other-day"')
    p = parse_protocol(text.encode())
    got = instrument_dates(p, build_calendar(p, START), p.instruments[0])
    assert got[:2] == (date(2026, 3, 6), date(2026, 3, 10))


# --------------------------------------------------------------------------- check-in
@pytest.fixture
def weekly(tmp_path: Path, invoke: Invoke) -> tuple[Path, dict[str, Any]]:
    protocol = tmp_path / "p.toml"
    protocol.write_text(
        instrument_protocol('[[outcomes]]\ninstrument = "gad7"\nschedule = "weekly:sun"\n')
    )
    trial = tmp_path / "trial"
    r = init_trial_cli(invoke, protocol, trial, make_context())
    assert r.exit_code == 0, r.output
    return trial, json.loads((tmp_path / "trial-sheet.json").read_text())


def code_of(sheet: dict[str, Any], n: int) -> str:
    period = (n - 2) // 7 + 1
    return str(next(c["code"] for c in sheet["containers"] if c["period"] == period))


def check(invoke: Invoke, trial: Path, sheet: dict[str, Any], n: int, *extra: str) -> Any:
    args = ["checkin", "--trial", str(trial), "--date", day(n).isoformat()]
    args += ["--rate", "mood=5", "--rate", "anxiety=3"]
    if n >= 2:
        args += ["--code", code_of(sheet, n), "--guess", "unsure"]
    return invoke([*args, *extra], with_clock(make_context(), at(day(n))))


def payloads(trial: Path) -> list[dict[str, Any]]:
    return [json.loads(row[3]) for row in db_dump(trial / "trial.db")[1:]]


def test_answers_are_stored_per_item_with_the_score_and_its_version(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    trial, sheet = weekly
    r = check(invoke, trial, sheet, 6, "--rate", "gad7=1,2,3,0,1,2,-")  # 2026-03-08, a Sunday
    assert r.exit_code == 0, r.output
    p = payloads(trial)[-1]
    assert p["answers"] == {"gad7": {"items": [1, 2, 3, 0, 1, 2, None], "score": 10.5,
                                     "scoring": "gad7/1"}}  # fmt: skip
    assert p["ratings"] == {"mood": 5, "anxiety": 3, "gad7": 10.5}


def test_too_many_skipped_items_are_said_once_not_scored(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """adv3 F11: 2 of 7 GAD-7 items skipped records the answers and no score; the check-in
    said nothing, and log then showed no gad7 for the day."""
    trial, sheet = weekly
    r = check(invoke, trial, sheet, 6, "--rate", "gad7=1,-,-,0,1,2,1")
    assert r.exit_code == 0, r.output
    note = (
        "Note: GAD-7 not scored: at most 1 item may be skipped and 2 were; the answers are "
        "kept (blindself checkin --replace can answer them)"
    )
    assert r.stderr.splitlines().count(note) == 1
    assert payloads(trial)[-1]["answers"]["gad7"]["score"] is None
    # the prompt path says the same, once
    monkeypatch.setattr("blindself.cli.options.interactive", lambda: True)
    args = ["checkin", "--trial", str(trial), "--date", day(13).isoformat()]
    args += ["--code", code_of(sheet, 13), "--guess", "unsure", "--rate", "mood=5"]
    typed = "\n".join(["-", "-", "-", "2", "0", "1", "2", "note"]) + "\n"
    r = invoke([*args, "--rate", "anxiety=3"], with_clock(make_context(), at(day(13))), input=typed)
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines().count(note.replace("and 2 were", "and 3 were")) == 1
    # a scored questionnaire says nothing of the kind
    monkeypatch.setattr("blindself.cli.options.interactive", lambda: False)
    r = check(invoke, trial, sheet, 20, "--rate", "gad7=1,-,1,0,1,2,1")
    assert r.exit_code == 0, r.output
    assert "not scored" not in r.stderr


def test_days_without_a_questionnaire_store_no_answers(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    trial, sheet = weekly
    assert check(invoke, trial, sheet, 0).exit_code == 0
    assert "answers" not in payloads(trial)[-1]


@pytest.mark.parametrize(
    ("n", "rate", "message"),
    [
        (0, "gad7=1,1,1,1,1,1,1", "Error: --rate gad7: GAD-7 is not asked on 2026-03-02 (next due 2026-03-08)"),
        (43, "gad7=1,1,1,1,1,1,1", "Error: --rate gad7: GAD-7 is not asked on 2026-04-14 (not asked again in this trial)"),
        (6, "gad7=1,1,1", "Error: --rate gad7: GAD-7 has 7 items and 3 answers were given; give 7 answers (0-3, - to skip an item) in item order, e.g. --rate gad7=0,0,0,0,0,0,0"),
        (6, "gad7=1,1,1,1,1,1,4", "Error: --rate gad7: item 7 answer '4' is not one of 0-3; give 7 answers (0-3, - to skip an item) in item order, e.g. --rate gad7=0,0,0,0,0,0,0"),
        (6, "gad7=3", "Error: --rate gad7: GAD-7 has 7 items and 1 answers were given; give 7 answers (0-3, - to skip an item) in item order, e.g. --rate gad7=0,0,0,0,0,0,0"),
        (6, "sleep=1,2", "Error: --rate sleep: no such outcome (outcomes: mood, anxiety, gad7)"),
        (6, "", "Error: missing answers: gad7 (due on 2026-03-08; give --rate NAME=a1,a2,... with one answer per item, - to skip one)"),
    ],
)  # fmt: skip
def test_bad_answers_get_one_line_and_change_nothing(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke, n: int, rate: str, message: str
) -> None:
    trial, sheet = weekly
    before = db_dump(trial / "trial.db")
    r = check(invoke, trial, sheet, n, *(["--rate", rate] if rate else []))
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines() == [message]
    assert db_dump(trial / "trial.db") == before


def test_a_list_for_a_single_rating_is_refused(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    trial, _ = weekly
    args = ["checkin", "--trial", str(trial), "--date", day(0).isoformat()]
    r = invoke([*args, "--rate", "mood=1,2", "--rate", "anxiety=3"], make_context())
    assert r.exit_code == 1
    assert r.stderr.strip() == "Error: --rate mood: give one number, not a list of answers"


def test_replace_keeps_recorded_answers_and_rescores_new_ones(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    trial, sheet = weekly
    assert check(invoke, trial, sheet, 6, "--rate", "gad7=1,1,1,1,1,1,1").exit_code == 0
    when = ["checkin", "--trial", str(trial), "--date", day(6).isoformat(), "--replace"]
    ctx = with_clock(make_context(), at(day(6)))
    r = invoke([*when, "--rate", "mood=7", "--reason", "typo"], ctx)
    assert r.exit_code == 0, r.output
    p = payloads(trial)[-1]
    assert p["ratings"] == {"mood": 7, "anxiety": 3, "gad7": 7}
    assert p["answers"]["gad7"]["items"] == [1] * 7
    r = invoke([*when, "--rate", "gad7=2,2,2,2,2,2,2", "--reason", "typo"], ctx)
    assert r.exit_code == 0, r.output
    assert payloads(trial)[-1]["ratings"]["gad7"] == 14


SEVERE = "score is in its published 'severe' range"


def test_crossing_into_the_severe_band_is_said_once(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    """Once per entry into the band: not again while it stays severe, again after it left."""
    trial, sheet = weekly
    said = []
    for n, answers in [(6, "3,3,3,3,3,0,0"), (13, "3,3,3,3,3,3,3"), (20, "1,1,1,1,1,1,1"),
                       (27, "3,3,2,2,2,2,2")]:  # fmt: skip
        r = check(invoke, trial, sheet, n, "--rate", f"gad7={answers}")
        assert r.exit_code == 0, r.output
        said.append(SEVERE in r.stderr)
    # 15 (severe: first entry), 21 (still severe), 7 (mild), 15 (entered again).
    assert said == [True, False, False, True]
    assert "not a diagnosis" in r.stderr and "no medical advice" in r.stderr


def test_status_says_when_each_questionnaire_is_next_due(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    trial, sheet = weekly
    ctx = with_clock(make_context(), at(day(6)))
    r = invoke(["status", "--trial", str(trial)], ctx)
    assert "Questionnaire GAD-7 (gad7): next due 2026-03-08" in r.stdout
    assert check(invoke, trial, sheet, 6, "--rate", "gad7=0,0,0,0,0,0,0").exit_code == 0
    r = invoke(["status", "--trial", str(trial), "--json"], ctx)
    assert json.loads(r.stdout)["instruments"] == {
        "gad7": {"title": "GAD-7", "next_due": "2026-03-15"}
    }


def test_the_prompt_asks_each_item_with_numbered_options(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("blindself.cli.options.interactive", lambda: True)
    trial, sheet = weekly
    args = ["checkin", "--trial", str(trial), "--date", day(6).isoformat()]
    args += ["--code", code_of(sheet, 6), "--guess", "unsure", "--rate", "mood=5"]
    typed = "\n".join(["3", "9", "1", "-", "2", "", "0", "1", "2", "3", "note"]) + "\n"
    r = invoke([*args, "--rate", "anxiety=3"], with_clock(make_context(), at(day(6))), input=typed)
    assert r.exit_code == 0, r.output
    assert (
        "0 = Not at all   1 = Several days   2 = More than half the days   3 = Nearly every day"
        in r.stderr
    )
    assert "1/7 Feeling nervous, anxious or on edge [0-3]" in r.stderr
    assert "type one of 0-3 (or - to skip); you typed '9'" in r.stderr
    assert "Type the number of your answer, 0-3 (or - to skip this question)." in r.stderr
    # 3,1,-,2,0,1,2 -> 9 over 6 answered -> 9 * 7 / 6 = 10.5
    assert payloads(trial)[-1]["answers"]["gad7"]["items"] == [3, 1, None, 2, 0, 1, 2]
    assert payloads(trial)[-1]["ratings"]["gad7"] == 10.5


# --------------------------------------------------------------------------- analysis
def test_a_weekly_questionnaire_unblinds_and_reproduces_from_data_csv(
    weekly: tuple[Path, dict[str, Any]], invoke: Invoke
) -> None:
    """Issue 18: a protocol with an instrument on a weekly schedule unblinds into a report
    whose analysis of the score reproduces from report/data.csv."""
    trial, sheet = weekly
    for n in range(44):
        extra: list[str] = []
        if day(n).weekday() == 6:
            v = 2 if sheet["codes"][code_of(sheet, n)] == "active" else 1
            extra = ["--rate", f"gad7={v},{v},1,0,1,2,{'-' if n % 2 else 1}"]
        assert check(invoke, trial, sheet, n, *extra).exit_code == 0
    after = with_clock(make_context(), at(day(45)))
    assert invoke(["unblind", "--trial", str(trial)], after, env=ENV).exit_code == 0
    report = json.loads((trial / "report" / "report.json").read_text())
    gad7 = next(o for o in report["outcomes"] if o["name"] == "gad7")
    c = gad7["contrasts"][0]
    # every period holds a score: the design's floor (2 / 2^3 allocations), all 6 periods
    assert c["randomization"]["periods"] == c["randomization"]["pair_periods"] == 6
    # Each 7-day period holds one Sunday: 3 scores per arm.  Active: 2+2+1+0+1+2 = 8 plus
    # item 7 (1, or skipped and prorated 8*7/6); placebo 1+1+1+0+1+2 = 6 likewise.
    csv = (trial / "report" / "data.csv").read_text().splitlines()
    col = csv[0].split(",").index("gad7")  # after allocation_arm (docs/design.md#exported-data)
    assert sum(1 for line in csv[1:] if line.split(",")[col]) == 6
    r = invoke(
        [
            "analyze",
            str(trial / "report" / "data.csv"),
            "--arm-column",
            "arm",
            "--active",
            "active",
            "--placebo",
            "placebo",
            "--outcomes",
            "mood,anxiety,gad7",
            "--json",
        ]
    )
    assert r.exit_code == 0, r.output
    again = next(o for o in json.loads(r.stdout)["outcomes"] if o["name"] == "gad7")
    ca = again["contrasts"][0]
    assert ca["estimate"] == pytest.approx(c["estimate"])
    assert ca["p_randomization"] == pytest.approx(c["p_randomization"])
    assert c["estimate"] == pytest.approx(_hand_estimate(sheet))


def _hand_estimate(sheet: dict[str, Any]) -> float:
    """Mean active score minus mean placebo score over the six Sundays (period means of one
    value each), computed from the answers the test typed."""
    by_arm: dict[str, list[float]] = {"active": [], "placebo": []}
    for n in range(2, 44):
        if day(n).weekday() != 6:
            continue
        arm = sheet["codes"][code_of(sheet, n)]
        v = 2 if arm == "active" else 1
        answered = [v, v, 1, 0, 1, 2] + ([] if n % 2 else [1])
        by_arm[arm].append(sum(answered) * 7 / len(answered))
    return sum(by_arm["active"]) / 3 - sum(by_arm["placebo"]) / 3


def test_a_score_asked_on_a_day_after_is_compared_by_its_period(
    tmp_path: Path, invoke: Invoke
) -> None:
    """Fadiman (1 dose day, 2 days after): the BRS at each period's end falls on an off day;
    a questionnaire describes its period, so it is compared there, not dropped with the off
    days (docs/design.md#instruments), and `analyze` on data.csv does the same."""
    protocol = tmp_path / "p.toml"
    protocol.write_text(
        instrument_protocol(
            '[[outcomes]]\ninstrument = "brs"\nschedule = "period-end"\n',
            blocks=4,
            period_days=1,
        ).replace('dosing = "daily"', 'dosing = "fadiman"')
    )
    trial = tmp_path / "trial"
    assert init_trial_cli(invoke, protocol, trial, make_context()).exit_code == 0
    sheet = json.loads((tmp_path / "trial-sheet.json").read_text())
    # 2 baseline days, then 8 periods of 3 days: period k (1-based) doses on day 2 + 3(k-1)
    # and ends on day 4 + 3(k-1).
    for n in range(26):
        args = ["checkin", "--trial", str(trial), "--date", day(n).isoformat()]
        args += ["--rate", "mood=5", "--rate", "anxiety=3"]
        period = (n - 2) // 3 + 1
        code = next((c["code"] for c in sheet["containers"] if c["period"] == period), "")
        if n >= 2 and (n - 2) % 3 == 0:
            args += ["--code", code, "--guess", "unsure"]
        if n >= 2 and (n - 2) % 3 == 2:
            arm = sheet["codes"][code]
            # Smith et al. 2008 scoring: active 4,2,4,2,4,2 -> item scores all 4 -> 4.0;
            # placebo 3s -> 3.0 (one period with item 6 skipped: mean of five 3s = 3.0).
            answers = "4,2,4,2,4,2" if arm == "active" else ("3,3,3,3,3,-" if n == 10 else "3,3,3,3,3,3")  # fmt: skip
            args += ["--rate", f"brs={answers}"]
        r = invoke(args, with_clock(make_context(), at(day(n))))
        assert r.exit_code == 0, r.output
    after = with_clock(make_context(), at(day(27)))
    assert invoke(["unblind", "--trial", str(trial)], after, env=ENV).exit_code == 0
    report = json.loads((trial / "report" / "report.json").read_text())
    brs = next(o for o in report["outcomes"] if o["name"] == "brs")
    assert brs["n"] == {"active": 4, "placebo": 4}
    assert brs["contrasts"][0]["estimate"] == pytest.approx(1.0)
    csv = trial / "report" / "data.csv"
    header = csv.read_text().splitlines()[0].split(",")
    assert header[header.index("brs") :][:3] == ["brs", "brs:scoring", "brs:items"]
    r = invoke(
        ["analyze", str(csv), "--arm-column", "arm", "--active", "active", "--placebo",
         "placebo", "--outcomes", "mood,anxiety,brs", "--json"]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    again = next(o for o in json.loads(r.stdout)["outcomes"] if o["name"] == "brs")
    assert again["n"] == brs["n"]
    assert again["better"] == "higher" and again["scale"] == [1.0, 5.0]
    assert again["contrasts"][0]["p_randomization"] == pytest.approx(
        brs["contrasts"][0]["p_randomization"]
    )
    # An unknown scoring rule in the export is refused, naming the column.
    text = csv.read_text().replace("brs/1", "brs/9")
    (tmp_path / "edited.csv").write_text(text)
    r = invoke(["analyze", str(tmp_path / "edited.csv"), "--arm-column", "arm", "--active",
                "active", "--placebo", "placebo"])  # fmt: skip
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        "Error: edited.csv: column brs:scoring must name one scoring rule this blindself "
        "knows, e.g. gad7/1 (found: brs/9)"
    )


# --------------------------------------------------------------------------- messy input
@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(["brs", "gad7", "phq8"]),
    data=st.data(),
)
def test_any_answers_score_within_bounds_or_not_at_all(name: str, data: st.DataObject) -> None:
    instrument = load_instrument(name)
    lo, hi = instrument.item_range
    answers = data.draw(
        st.lists(
            st.one_of(st.none(), st.integers(lo, hi)),
            min_size=len(instrument.items),
            max_size=len(instrument.items),
        )
    )
    score = score_answers(instrument, answers)
    missing = answers.count(None)
    if missing > instrument.max_missing:
        assert score is None
        return
    assert score is not None
    low, high = instrument.bounds
    assert low <= score <= high
    scores = [s for s in item_scores(instrument, answers) if s is not None]
    mean = sum(scores) / len(scores)
    expected = mean if instrument.scoring == "mean" else mean * len(instrument.items)
    assert score == pytest.approx(expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=4), min_size=0, max_size=9))
def test_typed_answers_are_accepted_or_refused_in_one_line(raw: list[str]) -> None:
    p = parse_protocol(
        instrument_protocol('[[outcomes]]\ninstrument = "gad7"\nschedule = "every"\n').encode()
    )
    try:
        answers = parse_answers(p.instruments[0], tuple(raw))
    except CheckinError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("--rate gad7: ")
    else:
        assert len(answers) == 7
        assert all(a is None or 0 <= a <= 3 for a in answers)
