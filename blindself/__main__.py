"""``python -m blindself``."""

from blindself.cli.main import main

main()
