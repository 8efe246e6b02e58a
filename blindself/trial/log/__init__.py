"""The trial log: an append-only, hash-chained table of entries in ``trial.db``.

``chain`` computes and walks the hash chain (pure: no database); ``store`` keeps the entries
in SQLite and is the only module of blindself that imports :mod:`sqlite3`.

May import: :mod:`blindself.errors`.
"""
