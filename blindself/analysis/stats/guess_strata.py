"""The arm x guess strata of the Correct Guess Rate Curve: pseudo-trials and their mean.

Szigeti et al. [1]_ split the observations of a placebo-controlled trial into four strata
by arm and guess: active-guessed-active (``aa``), active-guessed-placebo (``ap``),
placebo-guessed-placebo (``pp``) and placebo-guessed-active (``pa``).  For a target
correct-guess rate ``c`` they build pseudo-trials of the trial's size ``N`` whose
stratum sizes follow the "all_prop" rule of their reference implementation [2]_::

    correct   = round(c N)                  incorrect = N - correct
    k_aa = round(correct * n_aa / (n_aa + n_pp))      k_pp = correct - k_aa
    k_ap = round(incorrect * n_ap / (n_ap + n_pa))    k_pa = incorrect - k_ap

(``round`` half to even, as Python's), fill each stratum by sampling its observed
outcomes (smoothed by a Gaussian kernel, or as they are), fit the contrast on each and
average over many pseudo-trials.  The curve is that average against ``c``; at ``c = 0.5``
(a perfect blind) it is the blinding-corrected estimate; at the observed rate the stratum
sizes are the observed ones, so it reproduces the trial.

Closed form.  For the difference of means the pseudo-trial estimate is::

    D = (S_aa + S_ap) / (k_aa + k_ap) - (S_pp + S_pa) / (k_pp + k_pa)

where ``S_s`` is the sum of ``k_s`` draws from stratum ``s``.  The sizes ``k_s`` are fixed
by the rule above (no randomness), and each draw has expectation ``m_s``, the stratum's
observed mean: an empirical draw picks an observation uniformly, a kernel draw adds
zero-mean Gaussian noise to one.  By linearity of expectation::

    E[D] = (k_aa m_aa + k_ap m_ap) / (k_aa + k_ap) - (k_pp m_pp + k_pa m_pa) / (k_pp + k_pa)

the stratum means re-weighted by the pseudo-trial stratum sizes (:func:`expected_contrast`).
The mean of ``R`` pseudo-trials converges to it at rate ``1/sqrt(R)``
(:func:`pseudo_trials`); blindself reports the limit itself, so no Monte Carlo error
enters the point estimate.  At the observed rate ``k_s = n_s`` and ``E[D]`` is the
trial's own difference of means.

References
----------
.. [1] Szigeti B, Nutt D, Carhart-Harris R, Erritzoe D. The difference between
   'placebo group' and 'placebo control': a case study in psychedelic microdosing.
   *Sci Rep* 2023;13:12107. doi:10.1038/s41598-023-34938-7
.. [2] Szigeti B. CorrectGuessRateCurve (MIT), ``src/cgrc/core.py``,
   ``get_strata_sample_sizes(strata_sampling='all_prop')``; github.com/szb37.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["STRATA", "expected_contrast", "pseudo_trial_sizes", "pseudo_trials", "strata_of"]

FloatArray = npt.NDArray[np.float64]

#: Stratum order everywhere: arm then guess.  Correct guesses are 0 and 2.
STRATA = ("active_guessed_active", "active_guessed_placebo", "placebo_guessed_placebo",
          "placebo_guessed_active")  # fmt: skip


def strata_of(active: npt.ArrayLike, guessed_active: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Stratum index (order :data:`STRATA`) per observation; -1 where the guess is unsure.

    ``guessed_active`` is 1 (guessed active), 0 (guessed placebo) or NaN (unsure).

    >>> strata_of([1, 1, 0, 0, 1], [1, 0, 0, 1, float("nan")]).tolist()
    [0, 1, 2, 3, -1]
    """
    a = np.asarray(active, dtype=bool)
    g = np.asarray(guessed_active, dtype=float)
    if a.shape != g.shape:
        raise ValueError("active and guessed_active must have the same length")
    if not np.all(np.isnan(g) | (g == 0) | (g == 1)):
        raise ValueError("guessed_active must be 1, 0 or NaN (unsure)")
    out = np.where(a, np.where(g == 1, 0, 1), np.where(g == 0, 2, 3)).astype(np.int8)
    out[np.isnan(g)] = -1
    return out


def pseudo_trial_sizes(counts: npt.ArrayLike, cgr: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Stratum sizes of a pseudo-trial at correct-guess rate ``cgr`` (the all_prop rule).

    ``counts`` has the four observed stratum sizes on its last axis; ``cgr`` broadcasts
    against the other axes.  A split between two empty strata is even (and then the
    pseudo-trial needs observations that do not exist: its estimate is undefined).

    >>> pseudo_trial_sizes([167, 172, 383, 125], 0.5).tolist()
    [129, 245, 295, 178]
    >>> pseudo_trial_sizes([167, 172, 383, 125], 550 / 847).tolist()
    [167, 172, 383, 125]
    """
    n = np.asarray(counts, dtype=float)
    c = np.asarray(cgr, dtype=float)[..., None]
    total = n.sum(axis=-1, keepdims=True)
    correct = np.rint(c * total)
    wrong = total - correct
    both = n[..., [0]] + n[..., [2]]
    other = n[..., [1]] + n[..., [3]]
    with np.errstate(invalid="ignore", divide="ignore"):
        k_aa = np.rint(correct * np.where(both > 0, n[..., [0]] / both, 0.5))
        k_ap = np.rint(wrong * np.where(other > 0, n[..., [1]] / other, 0.5))
    sizes = np.concatenate([k_aa, k_ap, correct - k_aa, wrong - k_ap], axis=-1)
    return sizes.astype(np.int64)


def expected_contrast(means: npt.ArrayLike, sizes: npt.ArrayLike) -> FloatArray:
    """E[active mean - placebo mean] of a pseudo-trial with these stratum sizes.

    NaN where an arm has no observation or a stratum with a positive size has no mean.

    >>> float(expected_contrast([3.0, 1.0, 0.0, 2.0], [2, 2, 2, 2]))
    1.0
    """
    m = np.asarray(means, dtype=float)
    k = np.asarray(sizes, dtype=float)
    km = np.where(k > 0, k * m, 0.0)
    km = np.where((k > 0) & np.isnan(m), np.nan, km)
    with np.errstate(invalid="ignore", divide="ignore"):
        act = (km[..., 0] + km[..., 1]) / (k[..., 0] + k[..., 1])
        pla = (km[..., 2] + km[..., 3]) / (k[..., 2] + k[..., 3])
    return np.asarray(act - pla, dtype=float)


def pseudo_trials(
    y: npt.ArrayLike,
    strata: npt.ArrayLike,
    cgr: float,
    *,
    draws: int,
    rng: np.random.Generator,
    smoothing: str = "kde",
) -> FloatArray:
    """Difference of means of ``draws`` pseudo-trials at ``cgr`` (the paper's procedure).

    Each stratum ``s`` is filled with ``k_s`` outcomes drawn with replacement from its
    observations; with ``smoothing="kde"`` each draw also gets Gaussian noise of Scott's
    bandwidth ``sd_s * n_s ** (-1/5)`` (sampling the stratum's Gaussian kernel density
    estimate).  Vectorised: one ``(draws, k_s)`` index array per stratum.
    """
    if smoothing not in ("kde", "empirical"):
        raise ValueError("smoothing must be 'kde' or 'empirical'")
    if draws < 1:
        raise ValueError("draws must be at least 1")
    values = np.asarray(y, dtype=float)
    s = np.asarray(strata)
    keep = (s >= 0) & ~np.isnan(values)
    values, s = values[keep], s[keep]
    counts = np.bincount(s, minlength=4)
    sizes = pseudo_trial_sizes(counts, cgr)
    sums = np.zeros((4, draws))
    for i in range(4):
        if sizes[i] == 0:
            continue
        pool = values[s == i]
        if pool.size == 0:
            return np.full(draws, np.nan)
        picked = pool[rng.integers(0, pool.size, size=(draws, int(sizes[i])))]
        if smoothing == "kde" and pool.size > 1:
            h = float(np.std(pool, ddof=1)) * pool.size ** (-0.2)
            picked = picked + h * rng.standard_normal(picked.shape)
        sums[i] = picked.sum(axis=1)
    k = sizes.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            (sums[0] + sums[1]) / (k[0] + k[1]) - (sums[2] + sums[3]) / (k[2] + k[3]),
            dtype=float,
        )
