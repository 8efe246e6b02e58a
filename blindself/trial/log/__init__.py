"""The trial log: an append-only, hash-chained table of entries in ``trial.db``.

``chain`` computes and walks the hash chain (pure: no database); ``store`` opens, reads,
appends and backs up, over ``database`` (connecting, checking the file, SQLite's errors as
one line) and ``schema`` (the table, its append-only guards and the check that a file
holds exactly them); ``audit`` walks an open log for ``verify``.  These are the only
modules of blindself that import :mod:`sqlite3`.

May import: :mod:`blindself.errors`.
"""
