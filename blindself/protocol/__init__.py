"""The protocol: what a TOML protocol file may say, read and checked into frozen dataclasses.

``model`` is the vocabulary (dataclasses and constants), ``fields`` reads typed values,
``checks`` validates a parsed document, ``loading`` reads bytes or a file.  Every error names
the file, the key and what is allowed.

May import: the standard library and :mod:`blindself.errors`.  On the daily path: nothing
heavy.
"""
