"""``python -m blindself``."""

from blindself.cli import main

main()
