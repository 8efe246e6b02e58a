"""``python -m blindself``."""

from blindself.cli import start

start()
