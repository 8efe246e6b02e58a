"""How large a design must grow for 80 % power: the suggestion of ``blindself power``.

:func:`search_size` extrapolates the simulated power with a normal approximation, then
searches the number of blocks (or periods per arm) by doubling and bisection, within the
protocol's limits.  The power at each candidate size comes from
:mod:`blindself.analysis.stats.power` with common random numbers across sizes
(:mod:`blindself.analysis.stats.nested`), so a seed fixes the answer and neighbouring sizes
differ by their added periods, not by fresh Monte Carlo noise (docs/design.md#power).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

from blindself.protocol.model import Protocol

TARGET_POWER = 0.8
# The most simulated trials per candidate size when searching for 80 % power: with common
# random numbers the answer's Monte Carlo error is about one block at this number.
CHECK_SIMS = 2000
_NORMAL = NormalDist()
# The smallest simulated power the first guess extrapolates from.
_EXTRAPOLATE_FROM = 0.2
# Protocol limits (protocol.py): design.blocks <= 500, design.counts <= 1000 per arm.
_MAX_BLOCKS = 500
_MAX_COUNT = 1000


def _size(protocol: Protocol) -> int:
    """Blocks, or the first active arm's periods for a complete design."""
    d = protocol.design
    if d.kind == "blocks":
        return d.blocks
    counts = dict(d.counts)
    return next(counts[a.name] for a in protocol.arms if a.kind == "active" and counts[a.name])


def _with_size(protocol: Protocol, size: int) -> Protocol | None:
    """The protocol with ``size`` blocks (complete: every count scaled alike), or None
    beyond the protocol's limits."""
    d = protocol.design
    if d.kind == "blocks":
        if size > _MAX_BLOCKS:
            return None
        return protocol._replace(design=d._replace(blocks=size))
    factor = size / _size(protocol)
    counts = tuple((a, math.ceil(n * factor - 1e-9)) for a, n in d.counts)
    if max(n for _, n in counts) > _MAX_COUNT:
        return None
    return protocol._replace(design=d._replace(counts=counts))


def _max_complete(protocol: Protocol) -> int:
    """The largest size ``_with_size`` accepts for a complete design."""
    size = _size(protocol)
    biggest = max(n for _, n in protocol.design.counts)
    return max(size, _MAX_COUNT * size // biggest)


def size_text(protocol: Protocol) -> str:
    d = protocol.design
    if d.kind == "blocks":
        return f"{d.blocks} blocks"
    return ", ".join(f"{n} {a}" for a, n in d.counts) + " periods"


@dataclass(frozen=True)
class SizeSearch:
    """The outcome of :func:`search_size`.

    ``protocol`` is the resized design reaching 80 % (None: beyond the protocol's limits,
    or no positive effect); ``power`` its simulated power over ``sims`` trials; ``below`` the
    next smaller size searched and ``below_power`` its power (None when not simulated);
    ``note`` says why the current size cannot reach alpha (or is empty); ``size_se`` is the
    Monte Carlo SE of ``power`` turned into sizes through the normal approximation's slope
    (how far another seed may move the answer).
    """

    protocol: Protocol | None
    size: int | None
    power: float | None
    sims: int
    below: int | None
    below_power: float | None
    note: str
    size_se: float | None = None

    @property
    def mc_se(self) -> float | None:
        if self.power is None:
            return None
        return math.sqrt(self.power * (1.0 - self.power) / self.sims)


def search_size(
    protocol: Protocol,
    power_at: Callable[[Protocol, int], float],
    *,
    power: float,
    effect: float,
    sims: int,
    alpha: float,
    alternative: str,
    contrasts: int,
    p_floor: float,
) -> SizeSearch:
    """The smallest size with 80 % power: a normal extrapolation, then a search.

    Power of a shift test is about ``Phi(lambda - z_alpha)`` with ``lambda`` growing as
    the square root of the number of periods, which gives a first guess; simulations at
    candidate sizes double it until 80 % is reached and bisect back to the smallest size
    that reaches it.

    Parameters
    ----------
    protocol : Protocol
        The design as simulated.
    power_at : callable
        ``power_at(resized_protocol, size)``: the simulated power of the first contrast,
        with streams common to every size (the same call twice gives the same figure).
    power, effect : float
        The simulated power of ``protocol`` and the effect it was simulated with.
    sims : int
        Simulated trials per candidate size.
    alpha, alternative : float, str
        The protocol's significance level and alternative.
    contrasts : int
        Active-vs-placebo contrasts of the primary outcome (Holm across them).
    p_floor : float
        The smallest p the first contrast's reference set can give (0 when unknown).
    """
    current = size_text(protocol)
    k = contrasts
    note = ""
    if p_floor * k > alpha:
        need = (
            f"the {alpha / k:g} that Holm's correction over {k} contrasts needs first"
            if k > 1
            else f"alpha = {alpha:g}"
        )
        note = f"At {current} the smallest p is {p_floor:.3g}, above {need}. "
    if effect <= 0:
        return SizeSearch(None, None, None, sims, None, None, note)
    size = _size(protocol)
    top = _MAX_BLOCKS if protocol.design.kind == "blocks" else _max_complete(protocol)
    one_sided = alpha / k if alternative == "greater" else alpha / (2 * k)
    z_alpha = _NORMAL.inv_cdf(1 - one_sided)
    guess = 2 * size
    # Near alpha (small designs, discrete p-values) the extrapolation overshoots by far:
    # there the search doubles instead.
    if not note and power >= _EXTRAPOLATE_FROM:
        lam = z_alpha + _NORMAL.inv_cdf(power)
        factor = ((z_alpha + _NORMAL.inv_cdf(TARGET_POWER)) / lam) ** 2
        guess = max(size + 1, math.ceil(size * min(factor, 1e4)))

    seen: dict[int, float] = {}

    def power_of_size(n: int) -> float:
        if n not in seen:
            seen[n] = power_at(_with_size(protocol, n) or protocol, n)
        return seen[n]

    lo, hi = size, min(guess, top)
    got = power_of_size(hi) if hi > size else 0.0
    while got < TARGET_POWER and hi < top:
        lo, hi = hi, min(2 * hi, top)
        got = power_of_size(hi)
    if got < TARGET_POWER:
        return SizeSearch(None, None, None, sims, top, got, note)
    # Between a size below 80 % and one above, interpolate where probit(power) is linear
    # in sqrt(size) (the normal approximation) and simulate that size and its neighbour
    # toward the other end; a bisection step follows whenever that leaves a bracket.  The
    # bracket ends as two neighbouring simulated sizes.
    levels = {**seen, size: seen.get(size, power)}
    interpolate = True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if interpolate:
            mid = _interpolate(lo, levels[lo], hi, levels[hi], sims) or mid
        for _ in range(2 if interpolate else 1):
            mid = min(max(mid, lo + 1), hi - 1)
            levels[mid] = power_of_size(mid)
            if levels[mid] >= TARGET_POWER:
                hi, mid = mid, mid - 1
            else:
                lo, mid = mid, mid + 1
            if hi - lo <= 1:
                break
        interpolate = not interpolate
    # hi was simulated, so it is within the protocol's limits.
    got = seen[hi]
    # Power ~ Phi(lambda - z_alpha) with lambda ~ sqrt(n): dP/dn = phi(.) * lambda / (2 n).
    z = _NORMAL.inv_cdf(min(max(got, 1e-6), 1 - 1e-6))
    slope = _NORMAL.pdf(z) * max(z + z_alpha, 1e-6) / (2 * hi)
    size_se = math.sqrt(got * (1 - got) / sims) / slope
    return SizeSearch(
        _with_size(protocol, hi) or protocol, hi, got, sims, lo, seen.get(lo), note, size_se
    )


def _interpolate(lo: int, p_lo: float, hi: int, p_hi: float, sims: int) -> int | None:
    """The size where probit(power), linear in sqrt(size) through both points, is 0.8."""
    clip = 0.5 / sims
    f_lo = _NORMAL.inv_cdf(min(max(p_lo, clip), 1 - clip))
    f_hi = _NORMAL.inv_cdf(min(max(p_hi, clip), 1 - clip))
    if f_hi <= f_lo:
        return None
    x_lo, x_hi = math.sqrt(lo), math.sqrt(hi)
    x = x_lo + (_NORMAL.inv_cdf(TARGET_POWER) - f_lo) * (x_hi - x_lo) / (f_hi - f_lo)
    return round(x * x)


def no_size_text(protocol: Protocol, found: SizeSearch, effect: float) -> str:
    """What to say when ``found`` holds no size."""
    if effect <= 0:
        return found.note + (
            f"With {'no' if effect == 0 else 'a harmful'} effect, power stays at or below "
            "alpha whatever the size of the design."
        )
    return found.note + (
        f"More than the protocol's limit ({_MAX_BLOCKS} blocks or {_MAX_COUNT} periods "
        f"per arm) would be needed for 80 % power (now {size_text(protocol)}): expect a "
        "larger effect or less noise."
    )
