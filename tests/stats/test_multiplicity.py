"""Holm and Benjamini-Hochberg adjusted p-values against R p.adjust."""

from __future__ import annotations

import pytest

from blindself.analysis.stats.multiplicity import benjamini_hochberg, holm

# Benjamini & Hochberg (1995), J R Statist Soc B 57:289-300, sec. 4.2: 15 p-values.
BH1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
          0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]  # fmt: skip

# tests/reference/p_adjust_bh1995.R -> p_adjust_bh1995.out (R 4.2.2, p.adjust):
R_HOLM = [0.0015, 0.0056, 0.0247, 0.114, 0.2211, 0.278, 0.278, 0.278,
          0.3213, 1, 1, 1, 1, 1, 1]  # fmt: skip
R_BH = [0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0638571428571428623,
        0.0638571428571428623, 0.0645, 0.0765, 0.486, 0.5811818181818181328,
        0.714875, 0.7532307692307692593, 0.8132142857142856673, 1]  # fmt: skip


def test_bh1995_example_against_r() -> None:
    assert holm(BH1995) == pytest.approx(R_HOLM, abs=1e-15)
    assert benjamini_hochberg(BH1995) == pytest.approx(R_BH, abs=1e-15)
    # The paper: BH rejects 4 hypotheses at q = 0.05, Holm (Bonferroni-type) rejects 3.
    assert sum(p <= 0.05 for p in benjamini_hochberg(BH1995)) == 4
    assert sum(p <= 0.05 for p in holm(BH1995)) == 3


def test_input_order_is_kept() -> None:
    order = [7, 2, 14, 0, 9, 3, 11, 5, 1, 13, 6, 10, 4, 12, 8]
    shuffled = [BH1995[i] for i in order]
    assert holm(shuffled) == pytest.approx([R_HOLM[i] for i in order], abs=1e-15)
    assert benjamini_hochberg(shuffled) == pytest.approx([R_BH[i] for i in order], abs=1e-15)


def test_edge_cases() -> None:
    assert holm([]) == [] and benjamini_hochberg([]) == []
    assert holm([0.2]) == [0.2] and benjamini_hochberg([0.2]) == [0.2]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, float("nan")])
    with pytest.raises(ValueError):
        benjamini_hochberg([1.5])
