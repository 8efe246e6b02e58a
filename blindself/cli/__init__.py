"""The command line: click only, one module per command family.

Each command parses its arguments, makes one call into :mod:`blindself.services` and echoes
the result; :mod:`blindself.cli.main` holds the group and the one place where a
``BlindselfError`` becomes an ``Error:`` line.  Services are imported inside the commands, so
``--help`` and usage errors load none of them.

May import: click and every other blindself package.  Nothing else in blindself imports click.
"""


def start() -> None:
    """The ``blindself`` console script (and ``python -m blindself``).

    The cyclic garbage collector is paused from here, before click is imported: a start-up
    allocates tens of thousands of objects that live until the process ends, and the
    collector's passes over them were a tenth of a daily command's time.
    :meth:`blindself.cli.main.BlindselfGroup.resolve_command` resumes it for every command but
    the short daily ones.  When the command ends, everything left is frozen: at exit CPython
    would otherwise walk every object in a full collection, for a process about to end (7 to
    11 ms of ``status``, a tenth of ``report``).  blindself closes its files and database
    connections itself (``with`` blocks), so no finalizer is owed (docs/design.md#start-up).
    """
    import gc

    gc.disable()
    from blindself.cli.main import main

    try:
        main()
    finally:
        gc.freeze()
