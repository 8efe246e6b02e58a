"""The seal, ``allocation.seal``: the allocation encrypted behind its unlock paths.

``format`` builds and checks the file's public bytes (layout, header, bounds) and needs no
cryptography; ``crypto`` derives keys, encrypts, opens and computes the commitment, and is the
only module of blindself that imports :mod:`cryptography`.

May import: :mod:`blindself.randomness`, :mod:`blindself.errors`.
"""
