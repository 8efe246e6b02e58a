"""Pure numerics, one family per module, each citing its reference in its docstrings.

Randomization tests and their reference sets (``assignments``, ``randomization``, ``trend``,
``ordinal``, ``guesses``), regression and Bayesian models (``regression``, ``bayes``), blinding
indices (``blinding``), multiplicity (``multiplicity``), power by simulation (``power``,
``sizing``) and pooling across people (``pooling``).  Arrays in, numbers and result
dataclasses out; no file, no output.

May import: numpy, scipy, statsmodels, :mod:`blindself.trial` (the scheme and calendar a test
permutes within), :mod:`blindself.protocol`, :mod:`blindself.errors`.
"""
