"""How large a design must grow for 80 % power: the suggestion of ``blindself power``.

:func:`suggest_size` extrapolates the simulated power with a normal approximation, then
searches the number of blocks (or periods per arm) with cheap simulations supplied by
:mod:`blindself.analysis.stats.power`, within the protocol's limits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

from blindself.protocol.model import Protocol

TARGET_POWER = 0.8
# Simulated trials per candidate size when searching for 80 % power.
CHECK_SIMS = 400
_NORMAL = NormalDist()
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


def _size_text(protocol: Protocol) -> str:
    d = protocol.design
    if d.kind == "blocks":
        return f"{d.blocks} blocks"
    return ", ".join(f"{n} {a}" for a, n in d.counts) + " periods"


def suggest_size(
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
) -> str:
    """The smallest size with 80 % power: a normal extrapolation, then a search.

    Power of a shift test is about ``Phi(lambda - z_alpha)`` with ``lambda`` growing as
    the square root of the number of periods, which gives a first guess; cheap
    simulations (``CHECK_SIMS`` trials per size) double it until 80 % is reached and
    bisect back.  The answer carries their Monte Carlo error, so it is approximate.

    Parameters
    ----------
    protocol : Protocol
        The design as simulated.
    power_at : callable
        ``power_at(resized_protocol, n_sims)``: the simulated power of the first contrast.
    power, effect : float
        The simulated power of ``protocol`` and the effect it was simulated with.
    sims : int
        Simulated trials behind ``power`` (the search uses at most ``CHECK_SIMS``).
    alpha, alternative : float, str
        The protocol's significance level and alternative.
    contrasts : int
        Active-vs-placebo contrasts of the primary outcome (Holm across them).
    p_floor : float
        The smallest p the first contrast's reference set can give (0 when unknown).
    """
    current = _size_text(protocol)
    if effect <= 0:
        return (
            f"With {'no' if effect == 0 else 'a harmful'} effect, power stays at or below "
            "alpha whatever the size of the design."
        )
    k = contrasts
    reachable = p_floor * k <= alpha
    why = ""
    if not reachable:
        need = (
            f"the {alpha / k:g} that Holm's correction over {k} contrasts needs first"
            if k > 1
            else f"alpha = {alpha:g}"
        )
        why = f"At {current} the smallest p is {p_floor:.3g}, above {need}. "
    size = _size(protocol)
    top = _MAX_BLOCKS if protocol.design.kind == "blocks" else _max_complete(protocol)
    guess = 2 * size
    if reachable:
        one_sided = alpha / k if alternative == "greater" else alpha / (2 * k)
        z_alpha = _NORMAL.inv_cdf(1 - one_sided)
        lam = z_alpha + _NORMAL.inv_cdf(max(power, 0.5 / sims))
        if lam > 0.5:  # power clearly above alpha: the extrapolation means something
            factor = ((z_alpha + _NORMAL.inv_cdf(TARGET_POWER)) / lam) ** 2
            guess = max(size + 1, math.ceil(size * min(factor, 1e4)))
    check_sims = min(sims, CHECK_SIMS)

    def power_of_size(n: int) -> float:
        return power_at(_with_size(protocol, n) or protocol, check_sims)

    lo, hi = size, min(guess, top)
    got = power_of_size(hi) if hi > size else 0.0
    while got < TARGET_POWER and hi < top:
        lo, hi = hi, min(2 * hi, top)
        got = power_of_size(hi)
    if got < TARGET_POWER:
        return why + (
            f"More than the protocol's limit ({_MAX_BLOCKS} blocks or {_MAX_COUNT} periods "
            f"per arm) would be needed for 80 % power (now {current}): expect a larger "
            "effect or less noise."
        )
    while hi - lo > 1:
        mid = (lo + hi) // 2
        at_mid = power_of_size(mid)
        if at_mid >= TARGET_POWER:
            hi, got = mid, at_mid
        else:
            lo = mid
    # hi was simulated, so it is within the protocol's limits.
    target = _with_size(protocol, hi) or protocol
    key = "blocks" if protocol.design.kind == "blocks" else "counts"
    return why + (
        f"About {_size_text(target)} (now {current}) reach 80 % power: approximate, from "
        f"a search with {check_sims} simulated trials per size (power there {got:.2f}). "
        f"Change design.{key} and run power again."
    )
