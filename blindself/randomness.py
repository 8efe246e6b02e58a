"""Sources of randomness.

Production draws from the operating system (``secrets``); tests inject a seeded
``numpy.random.Generator`` through :class:`GeneratorSource`.  There is no user seed:
a logged seed would be the allocation itself.
"""

from __future__ import annotations

from typing import Any, Protocol


class RandomSource(Protocol):
    """What the trial needs from a random source."""

    def randbelow(self, n: int) -> int:
        """A uniform integer in ``[0, n)``."""
        ...

    def token_bytes(self, n: int) -> bytes:
        """``n`` uniform random bytes."""
        ...


class SystemRandomSource:
    """The operating system's CSPRNG (``secrets``)."""

    # secrets is imported on use: daily commands never draw, so they never load it.
    def randbelow(self, n: int) -> int:
        import secrets

        return secrets.randbelow(n)

    def token_bytes(self, n: int) -> bytes:
        import secrets

        return secrets.token_bytes(n)


class GeneratorSource:
    """A seeded ``numpy.random.Generator`` for tests (never used in production)."""

    def __init__(self, generator: Any) -> None:
        self._gen = generator

    def randbelow(self, n: int) -> int:
        return int(self._gen.integers(0, n))

    def token_bytes(self, n: int) -> bytes:
        return bytes(self._gen.bytes(n))


def shuffle(items: list[Any], source: RandomSource) -> None:
    """Fisher-Yates shuffle in place, uniform given a uniform ``randbelow``."""
    for i in range(len(items) - 1, 0, -1):
        j = source.randbelow(i + 1)
        items[i], items[j] = items[j], items[i]
