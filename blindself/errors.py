"""Errors a user can act on.

Every message says what is wrong and what to do; ``blindself.cli.main`` turns each one into a
single ``Error: ...`` line.  Messages never name an arm of a sealed trial.
"""

from __future__ import annotations


class BlindselfError(Exception):
    """A problem the user can fix; ``exit_code`` is the process status (docs/design.md#web-wording).

    ``plain`` is the same message in the words of a form (its fields and buttons, no
    command-line flags), for the web check-in; it defaults to the message.
    """

    exit_code = 1

    def __init__(self, message: str = "", *, plain: str | None = None) -> None:
        super().__init__(message)
        self.plain = plain or message


class ProtocolError(BlindselfError):
    """The protocol file is malformed or inconsistent."""


class CodeError(BlindselfError):
    """A container code is malformed, mistyped or not from this trial."""


class SealError(BlindselfError):
    """The seal cannot be opened or is damaged."""


class StoreError(BlindselfError):
    """The trial database is missing, foreign, damaged or cannot be written."""


class ChainError(StoreError):
    """The hash chain of the trial log does not verify."""


class HeadFormatError(StoreError):
    """A head given to ``verify --expect-head`` is malformed or too short: nothing was checked.

    A usage error (exit 2), so a script tells a mistyped argument from a failed check.
    """

    exit_code = 2


class HeadMismatch(ChainError):
    """The log's chain is intact but does not match the head kept outside: a wrongly copied
    head, or a rewritten log (exit 4; docs/design.md#verify-exit-statuses)."""

    exit_code = 4


class CheckinError(BlindselfError):
    """A check-in is invalid: wrong date, rating out of range, duplicate, ..."""


class TrialStateError(BlindselfError):
    """The command does not fit the trial's state (e.g. unblinding too early)."""


class DataError(BlindselfError):
    """Input data for ``analyze`` or ``pool`` cannot be used."""


class CommitmentMismatch(BlindselfError):
    """The opened allocation does not match the published commitment."""

    exit_code = 3
