"""``python -m bench`` is an alias of the ``fwdrev`` command."""

from bench.cli import main

raise SystemExit(main())
