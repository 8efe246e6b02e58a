"""blindself: blinded, placebo-controlled trials on yourself."""

__version__ = "0.1.0"
