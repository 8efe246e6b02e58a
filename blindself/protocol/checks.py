"""Validate a parsed protocol document into a :class:`~blindself.protocol.model.Protocol`.

The sections are read by :class:`~blindself.protocol.design.DesignReader` and
:class:`~blindself.protocol.plan.PlanReader`; here, the document and the rules that span
sections (docs/design.md#protocol).

Every validation error names the file, the key and what is allowed, e.g.
``protocol.toml: design.block names arm "actve", which is not defined (defined: active, placebo)``.
"""

from __future__ import annotations

from typing import Any

from blindself.protocol.design import DESIGN_KEYS, DesignReader
from blindself.protocol.fields import FieldReader, show
from blindself.protocol.model import Protocol
from blindself.protocol.plan import PlanReader


def validate_protocol(doc: dict[str, Any], *, source: str, sha256: str) -> Protocol:
    """The protocol described by a TOML document; ``source`` names the file in messages.

    Raises
    ------
    ProtocolError
        Naming the file, the key and what is allowed.
    """
    return _Validator(source).protocol(doc, sha256)


class _Validator(FieldReader):
    """The whole document: its sections (read by :class:`DesignReader` and
    :class:`PlanReader`) and the rules that span sections."""

    def protocol(self, doc: dict[str, Any], sha: str) -> Protocol:
        design_reader, plan_reader = DesignReader(self.source), PlanReader(self.source)
        self.no_unknown(
            doc, "", {"trial", "arms", "design", "outcomes", "checkin", "analysis", "stop_rules"}
        )
        trial = self.table(doc, "trial", {"title", "question", "description", "timezone"}, True)
        arms = design_reader.arms(doc.get("arms"))
        design = design_reader.design(self.table(doc, "design", DESIGN_KEYS, True), arms)
        outcomes = plan_reader.outcomes(doc.get("outcomes"))
        checkin = plan_reader.checkin(
            self.table(
                doc, "checkin", {"guess", "guess_first", "days", "day_starts", "remind_at"}, False
            )
        )
        analysis = plan_reader.analysis(
            self.table(
                doc,
                "analysis",
                {"alpha", "alternative", "correction", "missing", "statistic", "primary_test"},
                False,
            )
        )
        if analysis.primary_test == "dose-trend":
            allocated = set(design.block) | {a for a, n in design.counts if n > 0}
            if sum(1 for a in arms if a.kind == "active" and a.name in allocated) < 2:
                raise self.fail(
                    "analysis.primary_test",
                    'is "dose-trend", which needs at least two active arms in the design; '
                    'use "contrasts"',
                )
        for i, o in enumerate(outcomes):
            if o.schedule.startswith(("weekly:", "fortnightly:")) and checkin.days != "all":
                # A weekday may fall on an off day, when nobody checks in.
                raise self.fail(
                    f"outcomes[{i}].schedule",
                    f'is "{o.schedule}", which needs checkin.days = "all"',
                )
        stop_rules = plan_reader.stop_rules(doc.get("stop_rules"), outcomes)
        tz = trial.get("timezone")
        if tz is not None:
            tz = self.string(trial, "timezone", "trial")
            _check_timezone(tz, self)
        return Protocol(
            title=self.string(trial, "title", "trial"),
            question=self.string(trial, "question", "trial"),
            description=self.string(trial, "description", "trial", ""),
            timezone=tz,
            arms=arms,
            design=design,
            outcomes=outcomes,
            checkin=checkin,
            analysis=analysis,
            stop_rules=stop_rules,
            source=self.source,
            sha256=sha,
        )


def _check_timezone(tz: str, v: FieldReader) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # Fix: OSError added: "America" (a directory of zones) raised IsADirectoryError
        # and an over-long name "File name too long".
        raise v.fail(
            "trial.timezone", f'is {show(tz)}; give an IANA zone such as "Europe/Berlin"'
        ) from exc
