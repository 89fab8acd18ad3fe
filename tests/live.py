"""
A real C{twistd -n hookdaemon} for a test: L{hookdaemon.testing.TwistdDaemon}
in the test's own temporary directory, started, and stopped at its cleanup.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.testing import Environ, TwistdDaemon


class LiveDaemon(TwistdDaemon):
    def __init__(
        self,
        case: SynchronousTestCase,
        hooks: str,
        daemon: str = "",
        environ: Environ | None = None,
    ) -> None:
        super().__init__(case.mktemp(), hooks, daemon, environ)
        self.start()
        case.addCleanup(self.stop)
