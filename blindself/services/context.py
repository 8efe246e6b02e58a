"""What a use case needs from the outside world, swappable in tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from blindself.randomness import RandomSource, SystemRandomSource

if TYPE_CHECKING:
    # Imported for the type only: daily commands never load cryptography.
    from blindself.trial.seal.format import KdfParams


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    """Clock, random streams and KDF cost (None = production parameters).

    Two random streams (docs/design.md#randomization): ``allocation`` draws only the allocation;
    ``other`` draws codes, ids, salts, nonces and keys, so a test can vary the allocation alone.
    """

    clock: Callable[[], datetime] = _utcnow
    allocation: RandomSource = field(default_factory=SystemRandomSource)
    other: RandomSource = field(default_factory=SystemRandomSource)
    kdf: KdfParams | None = None  # None: the production Argon2id parameters

    def now(self) -> datetime:
        return self.clock()
