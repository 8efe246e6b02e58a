"""Use cases: each takes paths, secrets, randomness and time, and returns values.

Set-up and planning, the daily commands, code-break, unblinding, analysing a CSV, sharing and
pooling, the demo.  Nothing here prints or parses arguments: :mod:`blindself.cli` (and the web
app) turn results into output.

May import: :mod:`blindself.report`, :mod:`blindself.analysis`, :mod:`blindself.trial`,
:mod:`blindself.protocol`, :mod:`blindself.randomness`, :mod:`blindself.errors`; never click.
``daily`` and ``context`` are on the daily path: nothing heavy at module level.
"""
