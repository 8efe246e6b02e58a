"""Real self-experiment data (tests/data/, see its README) through ``blindself analyze``.

Expected numbers come from R 4.2.2: tests/reference/gwern_lm.R, output in gwern_lm.Rout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import Invoke

DATA = Path(__file__).parent / "data"
NOOPEPT = DATA / "gwern2013-noopept.csv"
LSD = DATA / "gwern2013-lsd-microdose.csv"
SZIGETI = DATA / "szigeti2021-acutes.csv"
LSD_ARGS = ["--arm-column", "LSD", "--active", "1", "--placebo", "0"]
SZ_ARGS = ["--arm-column", "condition", "--active", "MD", "--placebo", "PL"]


def run(invoke: Invoke, csv: Path, *args: str) -> tuple[dict[str, Any], str]:
    r = invoke(["analyze", str(csv), *args, "--json"])
    assert r.exit_code == 0, r.output
    report: dict[str, Any] = json.loads(r.stdout)
    # what unblind writes: strict JSON, no NaN
    json.dumps(report, allow_nan=False)
    return report, r.stderr


def contrast(report: dict[str, Any], outcome: str) -> dict[str, Any]:
    o = next(o for o in report["outcomes"] if o["name"] == outcome)
    c: dict[str, Any] = o["contrasts"][0]
    return c


def test_noopept_classical_matches_r(invoke: Invoke) -> None:
    report, _ = run(invoke, NOOPEPT, "--arm-column", "Noopept", "--active", "1", "--placebo", "0",
                    "--outcomes", "MP")  # fmt: skip
    c = contrast(report, "MP")
    # gwern_lm.Rout: lm(MP ~ Noopept): estimate 0.1343873518 se 0.2080629919 df 54 p 0.5210812311
    assert c["classical"]["estimate"] == pytest.approx(0.1343873518, abs=1e-9)
    assert c["classical"]["se"] == pytest.approx(0.2080629919, abs=1e-9)
    assert c["classical"]["df"] == 54
    assert c["classical"]["p"] == pytest.approx(0.5210812311, abs=1e-9)
    assert c["estimate"] == pytest.approx(0.1343873518, abs=1e-9)
    # no block or period column: complete randomization of days, said in the note and verdict
    assert report["trial"]["scheme"]["kind"] == "complete"
    assert "complete randomization of days" in report["trial"]["scheme_note"]
    assert report["trial"]["scheme_note"] in report["verdict"]["caveats"]
    assert c["randomization"]["exact"] is False and c["randomization"]["draws"] >= 9999


# gwern_lm.Rout, "lsd pairwise": lm(o ~ LSD) on the rows with LSD not NA (estimate, se, df, p)
LSD_PAIRWISE = {
    "DaysSince": (-4.4377480159, 0.2168377290, 125, 9.951397e-42),
    "Total.Z": (13.1451612903, 9.0595646100, 122, 0.1493544738),
    "Time.to.Z": (2.0322580645, 2.7701552766, 122, 0.4645841454),
    "Time.in.Wake": (2.6935483871, 2.5244720931, 122, 0.2880900241),
    "Awakenings": (0.4193548387, 0.5252775271, 122, 0.4262192701),
    "Morning.Feel": (0.3387096774, 0.1366878837, 122, 0.01458061874),
    "Mnemosyne": (-0.0012794513, 0.0253005518, 115, 0.9597558237),
    "MP": (-0.1267361111, 0.1262024533, 125, 0.317208477),
    "Creativity": (-0.1051587302, 0.0970948307, 125, 0.2808701853),
}


def test_lsd_all_outcomes_match_r(invoke: Invoke) -> None:
    report, stderr = run(invoke, LSD, *LSD_ARGS)
    # the 48 days outside a block (LSD = NA) are skipped, with a note
    assert "48 rows whose LSD is not a declared arm value were skipped" in stderr
    assert [o["name"] for o in report["outcomes"]] == list(LSD_PAIRWISE)
    for name, (est, se, df, p) in LSD_PAIRWISE.items():
        c = contrast(report, name)["classical"]
        assert c["estimate"] == pytest.approx(est, abs=1e-9), name
        assert c["se"] == pytest.approx(se, abs=1e-9), name
        assert c["df"] == df, name
        assert c["p"] == pytest.approx(p, rel=1e-8), name
    # AR(1) + trend with day numbers from the Date column (skipped days keep their gap):
    # gwern_lm.Rout "lsd ar1 MP": gls(MP ~ LSD + day, corAR1(form = ~day), method = "ML")
    ar1 = contrast(report, "MP")["ar1"]
    assert ar1["estimate"] == pytest.approx(-0.1348699242, abs=1e-6)
    assert ar1["se"] == pytest.approx(0.1373830416, abs=1e-6)
    assert ar1["p"] == pytest.approx(0.3281556497, abs=1e-6)
    assert ar1["rho"] == pytest.approx(0.1793029958, abs=1e-5)


def test_lsd_listwise_drops_rows_missing_any_outcome(invoke: Invoke) -> None:
    report, _ = run(invoke, LSD, *LSD_ARGS, "--missing", "listwise")
    # gwern_lm.Rout "lsd listwise": complete.cases over all nine outcomes, then lm()
    for name, est, se, p in [
        ("MP", -0.1429892142, 0.1292732378, 0.271053169),
        ("Mnemosyne", -0.0095813411, 0.0233972525, 0.6829496812),
    ]:
        c = contrast(report, name)["classical"]
        assert (c["estimate"], c["se"], c["df"]) == (
            pytest.approx(est, abs=1e-9),
            pytest.approx(se, abs=1e-9),
            112,
        )
        assert c["p"] == pytest.approx(p, rel=1e-8)
    mp = next(o for o in report["outcomes"] if o["name"] == "MP")
    assert sum(mp["n"].values()) == 114


def test_szigeti_one_measure_across_participants(invoke: Invoke) -> None:
    report, _ = run(invoke, SZIGETI, "--where", "test_name=mood", "--where", "tp=w4s1",
                    *SZ_ARGS, "--guess-column", "guess", "--outcomes", "value")  # fmt: skip
    c = contrast(report, "value")["classical"]
    # gwern_lm.Rout "szigeti mood w4s1": lm(value ~ md): 0.4224021592 se 3.0646460191 df 190
    assert c["estimate"] == pytest.approx(0.4224021592, abs=1e-9)
    assert c["se"] == pytest.approx(3.0646460191, abs=1e-9)
    assert c["df"] == 190
    # R: table(guess, condition): MD/MD 37, MD/PL 26, PL/MD 41, PL/PL 88
    assert report["blinding"]["table"] == {
        "active": {"active": 37, "placebo": 26},
        "placebo": {"active": 41, "placebo": 88},
        "unsure": {"active": 0, "placebo": 0},
    }


def test_szigeti_one_participant(invoke: Invoke) -> None:
    # three weekly ratings of one participant: too few for AR(1) and Bayes (notes), and a
    # design that cannot reach alpha (caveat); still a complete report
    report, _ = run(invoke, SZIGETI, "--where", "trial_id=1", "--where", "test_name=mood",
                    *SZ_ARGS, "--guess-column", "guess", "--outcomes", "value")  # fmt: skip
    c = contrast(report, "value")
    assert c["estimate"] == pytest.approx(70 - (80 + 31) / 2)  # the rows in tests/data
    assert c["randomization"]["exact"] is True and c["randomization"]["assignments"] == 3
    assert c["ar1"] is None and any("AR(1)" in n for n in c["notes"])
    assert any("cannot reach p <= 0.05" in x for x in report["verdict"]["caveats"])


@pytest.mark.parametrize(
    "args",
    [
        [str(NOOPEPT), "--arm-column", "Noopept", "--active", "1", "--placebo", "0"],
        [str(LSD), *LSD_ARGS],
        [str(SZIGETI), "--where", "test_name=PANAS", *SZ_ARGS, "--guess-column", "guess"],
        [str(SZIGETI), "--where", "trial_id=3", "--where", "test_name=QIDS", *SZ_ARGS],
    ],
    ids=["noopept", "lsd", "szigeti-panas", "szigeti-participant"],
)
def test_every_reference_file_goes_through(invoke: Invoke, args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    r = invoke(["analyze", *args, "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    report = json.loads(text)
    assert "NaN" not in text and "Infinity" not in text
    assert report["schema"] == "blindself-report/1"
    assert report["verdict"]["text"]
