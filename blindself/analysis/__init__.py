"""The pre-registered analysis of unblinded data, as the ``report.json`` document.

``dataset`` is the data an analysis reads (from a trial or a CSV); ``engine`` assembles the
document; ``secondary`` holds the analyses beside the contrasts; ``verdict`` writes the
plain-language summary; ``stats/`` holds the numerics, one family per module.

May import: :mod:`blindself.trial`, :mod:`blindself.protocol`, :mod:`blindself.errors`, and the
numeric libraries (loaded only after unblinding or by ``analyze``, ``plan``, ``power``,
``pool``).  Never report, services or cli.
"""
