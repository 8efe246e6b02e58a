"""The command line: click only, one module per command family.

Each command parses its arguments, makes one call into :mod:`blindself.services` and echoes
the result; :mod:`blindself.cli.main` holds the group and the one place where a
``BlindselfError`` becomes an ``Error:`` line.  Services are imported inside the commands, so
``--help`` and usage errors load none of them.

May import: click and every other blindself package.  Nothing else in blindself imports click.
"""
