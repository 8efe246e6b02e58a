"""The power check of ``plan`` and ``init``: will this design find anything? (issue 16)

It simulates the design's own randomization test exactly as ``blindself power`` does with its
defaults (``--rho 0.3 --sims 1000 --seed 1``), at the protocol's stated effect: the primary
outcome's ``mcid``, else a ninth of its scale (1 point on 1-10).  The day-to-day SD is
assumed to be a sixth of the scale (1.5 on 1-10; Gwern's 2012-13 LSD microdosing ratings had
SD 0.72 on a 1-5 scale, a 5.6th of it).  Below 50 % power it warns in words and says how
many blocks (and days, weeks) reach 80 %.  Every figure it states is the simulation's: the
same command reproduces it (docs/design.md#power-check).

The result depends only on the design, never on the allocation, so it is the same for every
draw (blinding); it is cached for the process and in the user's cache folder (see below).
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from blindself.protocol.model import Protocol
from blindself.trial.schedule import build_calendar, scheme_of
from blindself.wording import count

#: The defaults of ``blindself power`` (cli/setup.py); tests check that both agree.
RHO = 0.3
SIMS = 1000
SEED = 1
#: Below this power ``plan`` and ``init`` warn that the design will probably find nothing.
WARN_BELOW = 0.5
#: The default effect and SD as fractions of the primary outcome's scale.
EFFECT_OF_SCALE = 1 / 9
SD_OF_SCALE = 1 / 6
#: ``blindself power`` simulates on a calendar from this Monday; so does the check.
SIMULATION_START = date(2000, 1, 3)


@dataclass(frozen=True)
class PowerCheck:
    """What the check found; ``warning`` is None at 50 % power or more."""

    effect: float
    effect_source: str
    sd: float
    rho: float
    sims: int
    seed: int
    power: float
    mc_se: float
    target: dict[str, Any] | None
    warning: str | None

    def line(self, protocol_name: str) -> str:
        """One line for ``plan``: the figure and how to reproduce it."""
        return (
            f"Power: {self.power:.2f} (Monte Carlo SE {self.mc_se:.3f}) to detect "
            f"{self._effect_words()}, assuming a day-to-day SD of {self.sd:g}; vary it: "
            f"{self.command(protocol_name)}"
        )

    def command(self, protocol_name: str) -> str:
        return f"blindself power {protocol_name} --effect {self.effect:g} --sd {self.sd:g}"

    def _effect_words(self) -> str:
        return f"a {self.effect:g}-point improvement {self.effect_source}"

    def to_json(self) -> dict[str, Any]:
        return {
            "effect": self.effect,
            "effect_source": self.effect_source,
            "sd": self.sd,
            "rho": self.rho,
            "sims": self.sims,
            "seed": self.seed,
            "power": self.power,
            "mc_se": self.mc_se,
            "target": self.target,
            "warning": self.warning,
        }


def assumed(protocol: Protocol) -> tuple[float, str, float]:
    """The effect the check simulates, where it comes from, and the assumed SD."""
    primary = protocol.primary
    lo, hi = primary.scale
    sd = float(f"{(hi - lo) * SD_OF_SCALE:.2g}")
    if primary.mcid is not None:
        return primary.mcid, f"in {primary.name} (its mcid)", sd
    effect = float(f"{(hi - lo) * EFFECT_OF_SCALE:.2g}")
    return effect, f"in {primary.name} (no mcid: a ninth of its scale)", sd


def check_power(protocol: Protocol, start: date, name: str = "PROTOCOL") -> PowerCheck | None:
    """Simulate the design's power at its stated effect; warn below 50 %.

    ``start`` only turns the suggested size into calendar days; ``name`` is the protocol
    file as the user gave it, for the command that reproduces the figures.  None for a
    design whose simulation takes minutes (:func:`too_slow`): ``power`` still runs it.
    """
    if too_slow(protocol):
        return None
    effect, source, sd = assumed(protocol)
    result = _simulated(_design_only(protocol), effect, sd)
    power, mc_se, target, unit = result
    warning = None
    if power < WARN_BELOW:
        warning = _warning(protocol, start, power, mc_se, target, effect, source, sd, unit)
        warning += (
            f". Check with your own SD: blindself power {name} --effect {effect:g} --sd {sd:g} "
            "(its --help says how to estimate it)"
        )
    return PowerCheck(effect, source, sd, RHO, SIMS, SEED, power, mc_se, target, warning)


def too_slow(protocol: Protocol) -> bool:
    """Whether the check skips this design (:func:`not_simulated` says why).

    More than two arms under ``max_run``: each simulated trial then needs its own
    conditional reference set (analysis/stats/simulation.py, the slow path), seconds to
    minutes of work, too much for every ``plan`` and ``init``.  A dose trend over several
    doses as the primary test: the simulation tests each dose against placebo, not the
    trend, so its figure would describe another test.
    """
    return _skipped(protocol) is not None


def _skipped(protocol: Protocol) -> str | None:
    from blindself.services.outcome_power import sparse_primary

    sparse = sparse_primary(protocol)
    if sparse is not None:
        return f"a primary questionnaire asked on its own schedule ({sparse.schedule})"
    counts = scheme_of(protocol).arm_counts()
    actives = [a for a in protocol.arms if a.kind == "active" and counts.get(a.name)]
    if protocol.analysis.primary_test == "dose-trend" and len(actives) > 1:
        return "a dose trend as the primary test (the simulation tests each dose against placebo)"
    if protocol.design.max_run is not None and sum(1 for n in counts.values() if n) > 2:
        return "more than two arms under max_run (each simulated trial needs its own reference set)"
    return None


def not_simulated(protocol: Protocol, name: str) -> str:
    """What ``plan`` says instead of a power figure for a design :func:`too_slow` skips."""
    from blindself.services.outcome_power import sparse_primary

    why = _skipped(protocol) or "this design"
    sparse = sparse_primary(protocol)
    if sparse is not None:
        return (
            f"Power: not simulated here for {why}; blindself power {name} --effect E --sd S "
            f"simulates {sparse.name} on its schedule"
        )
    return (
        f"Power: not simulated here for {why}; blindself power {name} --effect E --sd S "
        "simulates the contrasts against placebo"
    )


def _design_only(protocol: Protocol) -> Protocol:
    """The protocol without what cannot change the power (the cache's key)."""
    return protocol._replace(
        title="",
        question="",
        description="",
        timezone=None,
        outcomes=(protocol.primary,),
        stop_rules=(),
        source="",
        sha256="",
    )


@lru_cache(maxsize=64)
def _simulated(
    protocol: Protocol, effect: float, sd: float
) -> tuple[float, float, dict[str, Any] | None, str]:
    unit = "blocks" if protocol.design.kind == "blocks" else "counts"
    key = _cache_key(protocol, effect, sd)
    stored = _read_cache(key)
    if stored is not None:
        return stored["power"], stored["mc_se"], stored["target"], unit
    from blindself.analysis.stats.power import power_of_design

    calendar = build_calendar(protocol, SIMULATION_START)
    estimate = power_of_design(
        protocol,
        calendar,
        effect=effect,
        sd=sd,
        rho=RHO,
        sims=SIMS,
        seed=SEED,
        suggest=True,
        suggest_below=WARN_BELOW,
    )
    # Only the figures, never the text: the warning is phrased here.
    target = None if estimate.target is None else dict(estimate.target)
    _write_cache(key, {"power": estimate.power, "mc_se": estimate.mc_se, "target": target})
    return estimate.power, estimate.mc_se, target, unit


# ----------------------------------------------------------------- the cache on disk
# `plan` then `init` of one protocol, or a test suite starting init in many processes, would
# simulate the same design again: the figures are kept in the user's cache folder, keyed by
# the design, the effect, the SD and a hash of the code that computes them, so a changed
# simulation never reads an old figure.  Only the design is in it, never an allocation.
_CODE = (
    "analysis/stats/*.py",
    "trial/schedule.py",
    "trial/scheme.py",
    "services/power_check.py",
)


def _cache_key(protocol: Protocol, effect: float, sd: float) -> str:
    import hashlib

    from blindself import __version__

    digest = hashlib.sha256(f"{__version__}\n{protocol!r}\n{effect!r} {sd!r}".encode())
    root = Path(__file__).resolve().parent.parent
    for pattern in _CODE:
        for path in sorted(root.glob(pattern)):
            with suppress(OSError):
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "blindself" / "power-check"


def _read_cache(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads((_cache_dir() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RuntimeError):
        return None
    ok = (
        isinstance(data, dict)
        and isinstance(data.get("power"), float)
        and isinstance(data.get("mc_se"), float)
        and (data.get("target") is None or isinstance(data.get("target"), dict))
    )
    return data if ok else None


def _write_cache(key: str, value: dict[str, Any]) -> None:
    # Best effort: a read-only or missing home folder only costs the next run the simulation.
    with suppress(OSError, RuntimeError):
        folder = _cache_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(value, fh)
            os.replace(tmp, folder / f"{key}.json")
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise


def _warning(
    protocol: Protocol,
    start: date,
    power: float,
    mc_se: float,
    target: dict[str, Any] | None,
    effect: float,
    source: str,
    sd: float,
    unit: str,
) -> str:
    from blindself.analysis.stats.sizing import size_text

    head = (
        f"this design will probably find nothing: power {power:.2f} (Monte Carlo SE "
        f"{mc_se:.3f}) to detect a {effect:g}-point improvement {source}, assuming a "
        f"day-to-day SD of {sd:g} (a sixth of the scale)"
    )
    if target is None:
        more = "; even the protocol's largest design would not reach 80 % at this effect"
    else:
        if unit == "blocks":
            bigger = protocol._replace(design=protocol.design._replace(blocks=target["blocks"]))
        else:
            counts = tuple(target["counts"].items())
            bigger = protocol._replace(design=protocol.design._replace(counts=counts))
        days = len(build_calendar(bigger, start).days)
        from blindself.analysis.stats.power import weeks

        more = (
            f". About {size_text(bigger)} ({count(days, 'day')}, {weeks(days)}; now "
            f"{size_text(protocol)}) reach 80 % power (simulated: {target['power']:.2f})"
        )
    return head + more
