"""Use cases: each takes paths, secrets, randomness and time, and returns values.

Nothing here prints; ``cli.py`` turns results into output.
"""
