"""C{python -m hookdaemon}: the C{hookdaemon} command, where its script is not on PATH."""

from hookdaemon.cli import main

raise SystemExit(main())
