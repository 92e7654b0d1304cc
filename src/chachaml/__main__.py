"""``python -m chachaml`` is the ``chachaml`` command."""

from chachaml.cli import main

main()
