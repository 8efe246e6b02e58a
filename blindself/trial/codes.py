"""Container codes: 4 random Crockford base32 symbols and a Damm check symbol
(docs/design.md#codes).

A code is shown as ``K7M2-X`` and stored as ``K7M2X``.  The check symbol comes from a
totally anti-symmetric quasigroup of order 32, ``x∘y = a·x ⊕ y`` in GF(2^5) with the
primitive polynomial x^5 + x^2 + 1 and ``a = 29`` (the symbol ``X``), used as in Damm's
algorithm.  The check is therefore one of the 32 ordinary Crockford symbols; Crockford's
own mod-37 check adds ``*~$=U``, which shells expand and people misread.

Why it works: starting from 0, the Damm run over data symbols d1..d4 and check c gives
``a^4·d1 ⊕ a^3·d2 ⊕ a^2·d3 ⊕ a·d4 ⊕ c``, and a string is well formed when that is 0.
Changing one symbol by e ≠ 0 at weight a^k changes the sum by a^k·e ≠ 0.  Swapping two
different symbols x, y at weights a^i, a^j changes it by (a^i ⊕ a^j)·(x ⊕ y), which is
not 0 because a ≠ 0, 1 has multiplicative order 31 (prime), so all a^0..a^4 differ.
Every single substitution and every transposition (adjacent or not) is thus detected.
Any a ∉ {0, 1} gives the same guarantees; 29 makes the documentation example ``K7M2-X``
a well-formed code.

Issued codes are drawn uniformly at random, independently of any arm, kept at pairwise
Hamming distance >= 3 (so a one-symbol typo is at distance 1 from at most one issued
code and can be suggested), and returned sorted, so that no order reveals an arm.
This module is pure Python: daily commands import it.

References
----------
.. [1] H. M. Damm, "Total anti-symmetrische Quasigruppen", Dissertation,
   Philipps-Universität Marburg, 2004.
.. [2] D. Crockford, "Base 32", https://www.crockford.com/base32.html
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from blindself.errors import CodeError
from blindself.randomness import RandomSource

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_INDEX = {symbol: value for value, symbol in enumerate(ALPHABET)}
_POLY = 0b100101  # x^5 + x^2 + 1, primitive over GF(2)
_A = 29  # the quasigroup multiplier: any element other than 0 and 1
_DATA_LEN = 4
_CODE_LEN = 5
_MAX_INPUT = 64  # longer input is refused before any processing
_MAX_SHOWN = 20  # at most this much of bad input is echoed back
_ALIASES = {"O": "0", "I": "1", "L": "1"}  # Crockford's decoding aliases
_EXAMPLE = "K7M2-X"
_HOW = f"(codes look like {_EXAMPLE})"

# A trial's containers, with room to spare: random greedy packing at distance 3 reaches
# this in well under a second, far from where rejection sampling slows down.
_MAX_CODES = 4096
# Two codes are at distance <= 2 exactly when they agree on some 3 of the 5 positions.
_TRIPLES = tuple(
    (i, j, k)
    for i in range(_CODE_LEN)
    for j in range(i + 1, _CODE_LEN)
    for k in range(j + 1, _CODE_LEN)
)


def _gf_mul(x: int, y: int) -> int:
    """Product in GF(2^5) modulo ``_POLY`` (shift-and-add)."""
    result = 0
    while y:
        if y & 1:
            result ^= x
        y >>= 1
        x <<= 1
        if x & 0b100000:
            x ^= _POLY
    return result


def _quasigroup(a: int) -> tuple[tuple[int, ...], ...]:
    """Operation table of ``x∘y = a·x ⊕ y`` over GF(2^5)."""
    return tuple(tuple(_gf_mul(a, x) ^ y for y in range(32)) for x in range(32))


@cache
def _table() -> tuple[tuple[int, ...], ...]:
    """The check's operation table, built when a code is first checked or made (``status``
    only shows codes: docs/design.md#start-up)."""
    return _quasigroup(_A)


def _damm_interim(table: Sequence[Sequence[int]], digits: Iterable[int]) -> int:
    """Run Damm's algorithm from interim 0; a checked string ends at 0."""
    interim = 0
    for digit in digits:
        interim = table[interim][digit]
    return interim


def _damm_check(table: Sequence[Sequence[int]], digits: Iterable[int]) -> int:
    """The check digit that brings the Damm run over ``digits`` back to 0."""
    return list(table[_damm_interim(table, digits)]).index(0)


def _values(symbols: str) -> list[int]:
    return [_INDEX[s] for s in symbols]


def _is_symbols(text: str, length: int) -> bool:
    return len(text) == length and all(s in _INDEX for s in text)


def check_symbol(data: str) -> str:
    """The check symbol of 4 canonical data symbols.

    Examples
    --------
    >>> check_symbol("K7M2")
    'X'
    """
    if not _is_symbols(data, _DATA_LEN):
        raise ValueError(f"data must be {_DATA_LEN} symbols of ALPHABET, got {data[:_MAX_SHOWN]!r}")
    return ALPHABET[_damm_check(_table(), _values(data))]


def is_well_formed(code: str) -> bool:
    """Whether ``code`` is 5 canonical symbols (no hyphen) with a correct check symbol.

    Examples
    --------
    >>> is_well_formed("K7M2X"), is_well_formed("K7M2Y"), is_well_formed("K7M2-X")
    (True, False, False)
    """
    return _is_symbols(code, _CODE_LEN) and _damm_interim(_table(), _values(code)) == 0


def format_code(code: str) -> str:
    """Display form of a canonical code: ``"K7M2X"`` -> ``"K7M2-X"``.

    Examples
    --------
    >>> format_code("K7M2X")
    'K7M2-X'
    """
    if not _is_symbols(code, _CODE_LEN):
        raise ValueError(f"code must be {_CODE_LEN} symbols of ALPHABET, got {code[:_MAX_SHOWN]!r}")
    return f"{code[:_DATA_LEN]}-{code[_DATA_LEN:]}"


def _shown(text: str) -> str:
    """At most ``_MAX_SHOWN`` characters of user input, printable ASCII only."""
    head = "".join(c if c.isascii() and c.isprintable() else "?" for c in text[:_MAX_SHOWN])
    return head + ("..." if len(text) > _MAX_SHOWN else "")


def _parse(text: str) -> str:
    """Normalise user input to 5 canonical symbols; the check symbol is not verified."""
    if len(text) > _MAX_INPUT:
        raise CodeError(
            f"that is {len(text)} characters, far too long for a code: "
            f"type the 5 symbols from the label {_HOW}"
        )
    if not all(c.isprintable() for c in text):
        raise CodeError(
            "the code contains control or invisible characters: "
            f"type it again from the label {_HOW}"
        )
    symbols = text.replace(" ", "").replace("-", "")
    if not symbols:
        raise CodeError(f"no code given: type the code from the label {_HOW}")
    shown = _shown(text)
    # Only ASCII is upper-cased: str.upper maps "ı" to "I" and "ſ" to "S".
    if not symbols.isascii():
        raise CodeError(
            f'code "{shown}" contains a character codes never use: '
            f"type only the digits and letters on the label {_HOW}"
        )
    symbols = symbols.upper()
    if "U" in symbols:
        raise CodeError(
            f'code "{shown}" contains U, which codes never use: '
            f"check the label and type the code again {_HOW}"
        )
    symbols = "".join(_ALIASES.get(c, c) for c in symbols)
    bad = next((c for c in symbols if c not in _INDEX), None)
    if bad is not None:
        raise CodeError(
            f'code "{shown}" contains "{bad}", which codes never use: '
            f"type only the digits and letters on the label {_HOW}"
        )
    if len(symbols) != _CODE_LEN:
        raise CodeError(
            f'code "{shown}" has {len(symbols)} symbols but codes have {_CODE_LEN}: '
            f"type the whole label {_HOW}"
        )
    return symbols


def _check_failed(symbols: str) -> CodeError:
    return CodeError(
        f'code "{format_code(symbols)}" fails its check symbol: retype it from the label {_HOW}'
    )


def normalize_code(text: str) -> str:
    """Canonical form (5 symbols, no hyphen) of a code typed by the user.

    Case, spaces and hyphens are ignored, ``O`` reads as 0 and ``I``, ``L`` as 1.
    Input longer than 64 characters is refused before anything else is done.

    Raises
    ------
    CodeError
        If the text is not a well-formed code; the message echoes at most 20
        characters of the input and never a control character.

    Examples
    --------
    >>> normalize_code(" k7m2-x ")
    'K7M2X'
    """
    symbols = _parse(text)
    if not is_well_formed(symbols):
        raise _check_failed(symbols)
    return symbols


def _typo_sources(symbols: str) -> set[str]:
    """Strings one substitution or one adjacent transposition away from ``symbols``."""
    out: set[str] = set()
    for i in range(_CODE_LEN):
        for s in ALPHABET:
            if s != symbols[i]:
                out.add(symbols[:i] + s + symbols[i + 1 :])
    for i in range(_CODE_LEN - 1):
        if symbols[i] != symbols[i + 1]:
            out.add(symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2 :])
    return out


def match_code(text: str, issued: Iterable[str]) -> str:
    """The issued code the user typed, or a :class:`CodeError` saying what to do.

    A typo is never accepted: when exactly one issued code is one substitution or one
    adjacent transposition away, the error suggests it.  The message depends only on
    ``text`` and the set ``issued`` (canonical codes), never on an arm.

    Examples
    --------
    >>> match_code("k7m2 x", ["K7M2X", "00000"])
    'K7M2X'
    """
    codes = frozenset(issued)
    symbols = _parse(text)
    if is_well_formed(symbols):
        if symbols in codes:
            return symbols
        raise CodeError(f'"{format_code(symbols)}" is not a code of this trial: check the label')
    near = _typo_sources(symbols) & codes
    if len(near) == 1:
        (guess,) = near
        raise CodeError(
            f'code "{format_code(symbols)}" fails its check symbol: '
            f"did you mean {format_code(guess)}? check the label and type it again"
        )
    raise _check_failed(symbols)


def _triple_keys(values: Sequence[int]) -> list[int]:
    """One key per 3 positions; codes share a key iff they are within distance 2."""
    return [
        (t << 15) | (values[i] << 10) | (values[j] << 5) | values[k]
        for t, (i, j, k) in enumerate(_TRIPLES)
    ]


def generate_codes(n: int, source: RandomSource) -> list[str]:
    """``n`` distinct well-formed codes at pairwise Hamming distance >= 3, sorted.

    Each code's data symbols are drawn uniformly; a draw within distance 2 of a code
    already kept is rejected and drawn again.  Arms play no part: they are assigned
    afterwards by a separate shuffle, and the sorted order is the order in which codes
    are stored and printed, so generation order cannot leak.

    Raises
    ------
    CodeError
        If ``n`` exceeds the number of containers a trial may have (4096).

    Examples
    --------
    >>> from blindself.randomness import SystemRandomSource
    >>> codes = generate_codes(3, SystemRandomSource())
    >>> len(codes), codes == sorted(codes), all(is_well_formed(c) for c in codes)
    (3, True, True)
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n > _MAX_CODES:
        raise CodeError(
            f"{n} containers is more than a trial can have ({_MAX_CODES}): "
            "use fewer periods or blocks in the protocol"
        )
    taken: set[int] = set()
    kept: list[str] = []
    # Far beyond what a working source needs (about 2 draws per code at the cap);
    # a broken source that repeats itself fails here instead of looping forever.
    budget = 64 * n + 1024
    while len(kept) < n:
        if budget == 0:
            raise RuntimeError("the random source keeps repeating itself; codes cannot be drawn")
        budget -= 1
        draw = source.randbelow(1 << (5 * _DATA_LEN))
        values = [(draw >> shift) & 31 for shift in (15, 10, 5, 0)]
        values.append(_damm_check(_table(), values))
        keys = _triple_keys(values)
        if taken.isdisjoint(keys):
            taken.update(keys)
            kept.append("".join(ALPHABET[v] for v in values))
    return sorted(kept)
