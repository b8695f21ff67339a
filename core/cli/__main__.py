"""``python -m crisiscast.cli``: the same commands as the ``crisiscast`` script."""

from crisiscast.cli.entry import main

main()
