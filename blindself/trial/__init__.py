"""What lives in a trial folder, and what a daily command needs from it.

The calendar (``schedule``), the set of allocations a design can draw (``scheme``), container
``codes``, the ``allocation`` document, the seal (``seal/``: file format, cryptography), the
log (``log/``: hash chain, SQLite store), the opened trial folder (``folder``) and check-ins
(``checkins``).  Nothing here reads the allocation before unblinding except the seal itself.

May import: :mod:`blindself.protocol`, :mod:`blindself.randomness`, :mod:`blindself.errors`.
Never analysis, report or services; nothing heavy (numpy, scipy, statsmodels, matplotlib,
jinja2) at module level: every daily command goes through here.
"""
