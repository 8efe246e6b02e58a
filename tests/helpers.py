"""Test helpers: a small protocol, an injected context, CLI shortcuts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import Result
from protocol_texts import SMALL_PROTOCOL as SMALL_PROTOCOL  # the small trial most tests use

from blindself.randomness import GeneratorSource
from blindself.services.context import Context
from blindself.trial.seal.format import TEST_KDF

PASSPHRASE = "correct horse battery staple"
START = date(2026, 3, 2)


def at(day: date, hour: int = 20) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


def make_context(alloc_seed: int = 1, other_seed: int = 2, now: datetime | None = None) -> Context:
    """Two independent seeded streams, cheap KDF, fixed clock."""
    fixed = now or at(START)
    return Context(
        clock=lambda: fixed,
        allocation=GeneratorSource(np.random.default_rng(alloc_seed)),
        other=GeneratorSource(np.random.default_rng(other_seed)),
        kdf=TEST_KDF,
    )


def with_clock(ctx: Context, now: datetime) -> Context:
    return replace(ctx, clock=lambda: now)


Invoke = Callable[..., Result]


def db_dump(path: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(con.execute("SELECT * FROM entries ORDER BY seq"))
    finally:
        con.close()


def init_trial_cli(
    invoke: Invoke, protocol: Path, trial: Path, ctx: Context, *extra: str
) -> Result:
    sheet = trial.parent / f"{trial.name}-sheet.json"
    return invoke(
        [
            "init",
            str(protocol),
            str(trial),
            "--start",
            START.isoformat(),
            "--sheet",
            str(sheet),
            *extra,
        ],
        ctx,
        env={"BLINDSELF_PASSPHRASE": PASSPHRASE},
    )


def day(n: int) -> date:
    return START + timedelta(days=n)
