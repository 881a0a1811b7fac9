"""``python -m screening``: the ``screening`` command (``screening serve`` starts its
worker this way, with the same interpreter)."""

from screening.cli import main

main()
