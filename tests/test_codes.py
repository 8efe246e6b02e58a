"""Container codes: check symbol, normalisation, suggestions, generation (T-9, T-14..T-18)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from scipy import stats

from blindself.errors import CodeError
from blindself.randomness import GeneratorSource, shuffle
from blindself.trial import codes
from blindself.trial.codes import (
    ALPHABET,
    check_symbol,
    format_code,
    generate_codes,
    is_well_formed,
    match_code,
    normalize_code,
)

# Damm's decimal TA quasigroup as printed in Wikipedia, "Damm algorithm" (cited there to Damm 2004,
# p. 111); its worked example gives check digit 4 for 572.
DAMM_DECIMAL = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

HOW = "(codes look like K7M2-X)"


def is_totally_antisymmetric(table: Sequence[Sequence[int]]) -> bool:
    """(c∘x)∘y = (c∘y)∘x implies x = y, checked over every c, x, y."""
    n = len(table)
    return all(
        table[table[c][x]][y] != table[table[c][y]][x]
        for c in range(n)
        for x in range(n)
        for y in range(n)
        if x != y
    )


def is_latin_square(table: Sequence[Sequence[int]]) -> bool:
    n = len(table)
    full = set(range(n))
    rows = all(set(row) == full for row in table)
    cols = all({table[r][c] for r in range(n)} == full for c in range(n))
    return rows and cols


def ref_gf_mul(x: int, y: int) -> int:
    """GF(2^5) product by full carry-less multiplication, then long division by x^5+x^2+1."""
    product = 0
    for bit in range(5):
        if (y >> bit) & 1:
            product ^= x << bit
    for bit in range(8, 4, -1):
        if (product >> bit) & 1:
            product ^= 0b100101 << (bit - 5)
    return product


def ref_check(data: str) -> str:
    """Closed form of the Damm run: c = a^4 d1 + a^3 d2 + a^2 d3 + a d4 with a = 29."""
    powers = [1]
    for _ in range(4):
        powers.append(ref_gf_mul(powers[-1], 29))
    total = 0
    for weight, symbol in zip(powers[4:0:-1], data, strict=True):
        total ^= ref_gf_mul(weight, ALPHABET.index(symbol))
    return ALPHABET[total]


def substitutions(code: str) -> list[str]:
    return [code[:i] + s + code[i + 1 :] for i in range(5) for s in ALPHABET if s != code[i]]


def transpositions(code: str, adjacent_only: bool = True) -> list[str]:
    out = []
    for i, j in itertools.combinations(range(5), 2):
        if (adjacent_only and j != i + 1) or code[i] == code[j]:
            continue
        chars = list(code)
        chars[i], chars[j] = chars[j], chars[i]
        out.append("".join(chars))
    return out


def random_codes(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for row in rng.integers(0, 32, size=(n, 4)):
        data = "".join(ALPHABET[v] for v in row)
        out.append(data + check_symbol(data))
    return out


def error_message(text: str, issued: Sequence[str] = ()) -> str:
    with pytest.raises(CodeError) as info:
        match_code(text, issued) if issued else normalize_code(text)
    message = str(info.value)
    assert "\n" not in message and all(c.isprintable() for c in message)
    return message


# --- the alphabet and Crockford decoding -------------------------------------------------


def test_alphabet_is_crockford_base32() -> None:
    # Crockford, https://www.crockford.com/base32.html: 0-9 and A-Z without I L O U.
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32 and sorted(ALPHABET) == list(ALPHABET)
    assert not set("ILOU") & set(ALPHABET)


def test_crockford_decoding_vectors() -> None:
    # Encode::Base32::Crockford (metacpan) documents base32_decode("16J") == 1234 and
    # base32_decode("IO") == 32: symbol values and the I->1, O->0 aliases.
    def value(symbols: str) -> int:
        return sum(ALPHABET.index(s) * 32**k for k, s in enumerate(reversed(symbols)))

    assert value("16J") == 1234
    code = "10AB" + check_symbol("10AB")
    assert normalize_code("IO-ab" + code[4].lower()) == code
    assert value(normalize_code("IO-ab" + code[4])[:2]) == 32


@pytest.mark.parametrize("typed", ["16JD*", "110*", "114U", "10AB~", "10AB$", "10AB="])
def test_crockford_mod37_check_symbols_are_refused(typed: str) -> None:
    # Crockford's mod-37 vectors (16JD, 10*, 14U) do not apply: our check symbol is
    # Damm over GF(32), so the extra check symbols *~$=U are never valid input.
    with pytest.raises(CodeError):
        normalize_code(typed)


# --- the Damm routine and the quasigroup -------------------------------------------------


def test_generic_damm_routine_on_the_decimal_table() -> None:
    # Wikipedia "Damm algorithm", worked example: 572 -> check digit 4; 5724 validates.
    assert codes._damm_check(DAMM_DECIMAL, [5, 7, 2]) == 4
    assert codes._damm_interim(DAMM_DECIMAL, [5, 7, 2, 4]) == 0
    assert codes._damm_interim(DAMM_DECIMAL, [5, 7, 2, 5]) != 0
    assert is_latin_square(DAMM_DECIMAL) and is_totally_antisymmetric(DAMM_DECIMAL)


def test_antisymmetry_check_can_fail() -> None:
    # Addition mod 10 is a quasigroup but commutative: it misses every transposition.
    addition = tuple(tuple((x + y) % 10 for y in range(10)) for x in range(10))
    assert is_latin_square(addition) and not is_totally_antisymmetric(addition)


def test_field_arithmetic_matches_reference() -> None:
    # x * x^4 = x^5 = x^2 + 1 modulo x^5 + x^2 + 1.
    assert codes._gf_mul(0b10000, 0b10) == 0b00101
    for x in range(32):
        for y in range(32):
            assert codes._gf_mul(x, y) == ref_gf_mul(x, y)


def test_polynomial_is_primitive_and_multiplier_valid() -> None:
    # x generates all 31 non-zero elements exactly when x^5 + x^2 + 1 is primitive.
    seen, element = set(), 1
    for _ in range(31):
        seen.add(element)
        element = ref_gf_mul(element, 2)
    assert element == 1 and len(seen) == 31
    assert codes._A not in (0, 1)


def test_gf32_table_is_a_totally_antisymmetric_quasigroup() -> None:
    table = codes._table()
    assert len(table) == 32 and all(len(row) == 32 for row in table)
    for x in range(32):
        for y in range(32):
            assert table[x][y] == ref_gf_mul(29, x) ^ y
    assert is_latin_square(table)
    assert is_totally_antisymmetric(table)


def test_check_symbol_matches_closed_form() -> None:
    assert check_symbol("K7M2") == ref_check("K7M2") == "X"
    assert check_symbol("0000") == "0"
    for code in random_codes(3000, seed=11):
        assert code[4] == ref_check(code[:4])


@pytest.mark.parametrize("data", ["K7M", "K7M2X", "k7m2", "K7MU", "K7-M"])
def test_check_symbol_rejects_non_canonical_data(data: str) -> None:
    with pytest.raises(ValueError, match="data must be 4 symbols"):
        check_symbol(data)


# --- error detection (T-14) --------------------------------------------------------------


def test_every_substitution_and_transposition_is_detected() -> None:
    sample = random_codes(1500, seed=20240601)
    assert all(is_well_formed(c) for c in sample)
    for code in sample:
        for typo in substitutions(code):
            assert not is_well_formed(typo), (code, typo)
        # Adjacent transpositions are the requirement; the construction catches all.
        for typo in transpositions(code, adjacent_only=False):
            assert not is_well_formed(typo), (code, typo)


def test_sample_covers_repeated_symbols_and_check_position() -> None:
    # Guards the test above against a sample that never exercises a swap with the check.
    sample = random_codes(1500, seed=20240601)
    assert sum(c[3] != c[4] for c in sample) > 1400
    assert any(len(set(c)) < 5 for c in sample)


@pytest.mark.parametrize("code", ["K7M2X", "00000"])
def test_is_well_formed(code: str) -> None:
    assert is_well_formed(code)
    assert not is_well_formed(code.lower()) or code.lower() == code
    assert not is_well_formed(format_code(code))
    assert not is_well_formed(code[:4])
    assert not is_well_formed(code + "0")


@pytest.mark.parametrize("code", ["K7M2Y", "", "K7M2U", "K7M2O", "abcde"])
def test_is_well_formed_refuses(code: str) -> None:
    assert not is_well_formed(code)


# --- normalisation (T-15, T-18) ----------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["K7M2X", "k7m2x", "K7M2-X", "k7m2-x", " K7M2 X ", "K-7-M-2-X", "K7M2--X", "K 7 M 2 X"],
)
def test_normalize_accepts_case_spaces_hyphens(typed: str) -> None:
    assert normalize_code(typed) == "K7M2X"


def test_normalize_maps_o_i_l() -> None:
    code = "0110" + check_symbol("0110")
    for typed in ("OILO", "oilo", "0Il0", "O1lo", "0LiO"):
        assert normalize_code(f"{typed}-{code[4]}") == code


def test_normalize_at_the_length_bound() -> None:
    assert normalize_code(" " * 59 + "K7M2X") == "K7M2X"
    message = error_message(" " * 60 + "K7M2X")
    assert "65 characters" in message and "K7M2X" not in message.replace("K7M2-X", "")


def test_ten_megabyte_input_is_refused_before_processing() -> None:
    class Untouchable(str):
        """Only len() may be taken: any other processing fails the test."""

        def _refuse(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("input was processed beyond its length")

        __iter__ = __getitem__ = __contains__ = _refuse  # type: ignore[assignment]
        replace = upper = isascii = isprintable = strip = _refuse  # type: ignore[assignment]

    huge = Untouchable("K7M2X" * 2_000_000)
    assert len(huge) == 10_000_000
    with pytest.raises(CodeError, match="far too long") as info:
        normalize_code(huge)
    assert len(str(info.value)) < 200
    with pytest.raises(CodeError, match="far too long"):
        match_code(huge, ["K7M2X"])


@pytest.mark.parametrize(
    "typed",
    [
        "K7M2\x00X",
        "K7M2X\n",
        "\tK7M2X",
        "\x1b[31mK7M2X",
        "K7M2X\x7f",
        "K7M2\u202eX",  # right-to-left override
        "K7\u200bM2X",  # zero-width space
        "K7M2\u00a0X",  # no-break space
        b"K7M2\xff".decode("utf-8", "surrogateescape"),  # non-UTF-8 byte from argv
        "K7M2\x85X",
    ],
)
def test_control_and_invisible_characters_are_refused(typed: str) -> None:
    message = error_message(typed)
    assert "control or invisible" in message
    assert "K7M2" not in message.replace("K7M2-X", "")


@pytest.mark.parametrize(
    "typed",
    [
        "К7М2Х",  # Cyrillic look-alikes
        "Ｋ７Ｍ２Ｘ",  # fullwidth
        "K7M2ı",  # dotless i: str.upper() would turn it into I, then 1
        "ſ7M2X",  # long s: str.upper() would turn it into S
        "K7M2é",
    ],
)
def test_non_ascii_is_refused_not_folded(typed: str) -> None:
    message = error_message(typed)
    assert "never use" in message
    assert message.isascii()


@pytest.mark.parametrize("typed", ["K7M2U", "u7m2x", "KUM2-X"])
def test_u_is_refused(typed: str) -> None:
    assert "contains U" in error_message(typed)


@pytest.mark.parametrize("typed", ["K7M2!", "K7M2_X", "K7M2.X", "K7M2*", "K7/M2X"])
def test_other_ascii_symbols_are_refused(typed: str) -> None:
    message = error_message(typed)
    assert "which codes never use" in message


@pytest.mark.parametrize(
    ("typed", "count"), [("K7M2", 4), ("0K7M2X", 6), ("K7M2-XX", 6), ("0", 1), ("K7M2XK7M2X", 10)]
)
def test_wrong_length_is_refused(typed: str, count: int) -> None:
    assert error_message(typed) == (
        f'code "{typed}" has {count} symbols but codes have 5: type the whole label {HOW}'
    )


@pytest.mark.parametrize("typed", ["", " ", "-", " - - "])
def test_empty_is_refused(typed: str) -> None:
    assert error_message(typed) == f"no code given: type the code from the label {HOW}"


def test_check_failure_message() -> None:
    assert error_message("k7m2-y") == (
        f'code "K7M2-Y" fails its check symbol: retype it from the label {HOW}'
    )


def test_echo_is_bounded() -> None:
    typed = "ABCDEFGHJKMNPQRSTVWXYZ!!" + "9" * 30
    message = error_message(typed)
    assert '"ABCDEFGHJKMNPQRSTVWX..."' in message
    assert "YZ" not in message and "999" not in message


def test_format_code() -> None:
    assert format_code("K7M2X") == "K7M2-X"
    for code in random_codes(200, seed=3):
        assert normalize_code(format_code(code)) == code
    for bad in ("K7M2", "k7m2x", "K7M2-X"):
        with pytest.raises(ValueError, match="code must be 5 symbols"):
            format_code(bad)


# --- generation --------------------------------------------------------------------------


def pairwise_min_distance(code_list: Sequence[str]) -> int:
    arr = np.array([[ALPHABET.index(s) for s in c] for c in code_list])
    distance = (arr[:, None, :] != arr[None, :, :]).sum(axis=2)
    np.fill_diagonal(distance, 5)
    return int(distance.min())


def test_generate_2000_codes() -> None:
    generated = generate_codes(2000, GeneratorSource(np.random.default_rng(7)))
    assert len(generated) == len(set(generated)) == 2000
    assert generated == sorted(generated)
    assert all(is_well_formed(c) for c in generated)
    assert pairwise_min_distance(generated) >= 3


def test_generate_at_the_cap_and_beyond() -> None:
    generated = generate_codes(4096, GeneratorSource(np.random.default_rng(8)))
    assert len(set(generated)) == 4096
    with pytest.raises(CodeError, match="more than a trial can have"):
        generate_codes(4097, GeneratorSource(np.random.default_rng(8)))
    with pytest.raises(ValueError, match="n must be >= 0"):
        generate_codes(-1, GeneratorSource(np.random.default_rng(8)))
    assert generate_codes(0, GeneratorSource(np.random.default_rng(8))) == []


class ScriptedSource:
    """Replays fixed draws, counting them."""

    def __init__(self, draws: Sequence[int]) -> None:
        self.draws = list(draws)
        self.calls = 0

    def randbelow(self, n: int) -> int:
        assert n == 32**4
        self.calls += 1
        return self.draws.pop(0) if self.draws else 0

    def token_bytes(self, n: int) -> bytes:
        raise AssertionError("not used")


def data_value(data: str) -> int:
    return int("".join(f"{ALPHABET.index(s):05b}" for s in data), 2)


def test_generation_rejects_codes_within_distance_two() -> None:
    first = "K7M2"
    # "K7MA" + check differs from K7M2X in the last two symbols; then a repeat; then a far code.
    close, far = "K7MA", "Z0Z0"
    assert pairwise_min_distance(["K7M2X", close + check_symbol(close)]) == 2
    source = ScriptedSource(
        [data_value(first), data_value(close), data_value(first), data_value(far)]
    )
    assert generate_codes(2, source) == sorted(["K7M2X", far + check_symbol(far)])
    assert source.calls == 4


def test_broken_source_fails_instead_of_looping() -> None:
    source = ScriptedSource([])  # always 0
    with pytest.raises(RuntimeError, match="keeps repeating"):
        generate_codes(3, source)
    assert source.calls == 64 * 3 + 1024


def test_generation_is_reproducible_only_through_the_source() -> None:
    def draw(seed: int) -> list[str]:
        return generate_codes(50, GeneratorSource(np.random.default_rng(seed)))

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)


def test_generated_symbols_are_uniform() -> None:
    pooled = generate_codes(4000, GeneratorSource(np.random.default_rng(99)))
    for position in range(5):
        counts = np.bincount([ALPHABET.index(c[position]) for c in pooled], minlength=32)
        assert stats.chisquare(counts).pvalue > 1e-3, position


def arm_dependence_pvalues(
    trials: Sequence[tuple[list[str], list[str]]],
) -> tuple[float, float]:
    """Chi-square p-values of first symbol x arm and check symbol x arm tables."""
    first = np.zeros((2, 32))
    check = np.zeros((2, 32))
    for code_list, arms in trials:
        for code, arm in zip(code_list, arms, strict=True):
            row = 0 if arm == "active" else 1
            first[row, ALPHABET.index(code[0])] += 1
            check[row, ALPHABET.index(code[4])] += 1
    return (
        float(stats.chi2_contingency(first).pvalue),
        float(stats.chi2_contingency(check).pvalue),
    )


def simulate_trials(n_trials: int, leaky: bool) -> list[tuple[list[str], list[str]]]:
    code_source = GeneratorSource(np.random.default_rng(2024))
    arm_source = GeneratorSource(np.random.default_rng(4202))
    out = []
    for _ in range(n_trials):
        code_list = generate_codes(20, code_source)
        arms = ["active"] * 10 + ["placebo"] * 10
        if not leaky:
            shuffle(arms, arm_source)
        out.append((code_list, arms))
    return out


def test_codes_carry_no_information_about_arms() -> None:
    # Leak-channel test of docs/design.md: codes first, arms by a separate shuffle.
    p_first, p_check = arm_dependence_pvalues(simulate_trials(1500, leaky=False))
    assert p_first > 1e-3 and p_check > 1e-3


def test_arm_dependence_check_detects_an_order_leak() -> None:
    # Control: arms given by position in the sorted list (the leak sorting must not cause).
    p_first, _ = arm_dependence_pvalues(simulate_trials(300, leaky=True))
    assert p_first < 1e-12


# --- matching and suggestions (T-14, T-16) -----------------------------------------------


ISSUED = generate_codes(60, GeneratorSource(np.random.default_rng(31)))


def typo_index(issued: Sequence[str]) -> dict[str, list[str]]:
    """Every one-substitution and adjacent-swap typo of each issued code -> its sources."""
    index: dict[str, list[str]] = {}
    for code in issued:
        for typo in substitutions(code) + transpositions(code):
            index.setdefault(typo, []).append(code)
    return index


def expected_suggestion(typed: str, index: dict[str, list[str]]) -> str | None:
    sources = index.get(typed, [])
    return sources[0] if len(sources) == 1 else None


def test_match_returns_the_issued_code() -> None:
    for code in ISSUED:
        assert match_code(code, ISSUED) == code
        assert match_code(format_code(code).lower(), iter(ISSUED)) == code


def test_well_formed_but_not_issued() -> None:
    other = "K7M2X"
    assert other not in ISSUED
    assert (
        error_message("k7m2 x", ISSUED) == '"K7M2-X" is not a code of this trial: check the label'
    )


def test_every_typo_of_every_issued_code_is_refused_with_a_fair_suggestion() -> None:
    index = typo_index(ISSUED)
    suggested = 0
    for code in ISSUED:
        for typo in substitutions(code) + transpositions(code):
            with pytest.raises(CodeError) as info:
                match_code(typo, ISSUED)
            message = str(info.value)
            guess = expected_suggestion(typo, index)
            if guess is None:
                assert message == (
                    f'code "{format_code(typo)}" fails its check symbol: '
                    f"retype it from the label {HOW}"
                )
            else:
                suggested += 1
                assert guess == code
                assert message == (
                    f'code "{format_code(typo)}" fails its check symbol: '
                    f"did you mean {format_code(code)}? check the label and type it again"
                )
    assert suggested > 0.99 * len(ISSUED) * (155 + 3)


def test_ambiguous_typo_gets_no_suggestion() -> None:
    # typed is one substitution from `one` and one adjacent swap from `two`.
    one = "K7M2X"
    for s in ALPHABET:
        typed = s + one[1:]
        two = typed[:2] + typed[3] + typed[2] + typed[4]
        if s != one[0] and is_well_formed(two):
            break
    assert is_well_formed(two) and not is_well_formed(typed)
    assert pairwise_min_distance([one, two]) == 3
    assert "did you mean K7M2-X" in error_message(typed, [one])
    assert f"did you mean {format_code(two)}" in error_message(typed, [two])
    assert "did you mean" not in error_message(typed, [one, two])


def test_far_typo_gets_no_suggestion() -> None:
    typed = "K7M2Y"  # check fails; no issued code near it
    assert expected_suggestion(typed, typo_index(ISSUED)) is None
    assert "did you mean" not in error_message(typed, ISSUED)


def test_message_depends_only_on_text_and_issued_set() -> None:
    typos = [t for c in ISSUED[:10] for t in substitutions(c)[::7] + transpositions(c)]
    for typo in [*typos, "K7M2X", "K7M2Y"]:
        seen = set()
        for issued in (ISSUED, ISSUED[::-1], set(ISSUED), iter(sorted(ISSUED, key=hash))):
            with pytest.raises(CodeError) as info:
                match_code(typo, issued)
            seen.add(str(info.value))
        assert len(seen) == 1
