"""
A real C{twistd -n hookdaemon} for a test: L{hookdaemon.testing.TwistdDaemon}
in the test's own temporary directory, stopped at its cleanup.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.testing import TwistdDaemon


class LiveDaemon(TwistdDaemon):
    def __init__(
        self,
        case: SynchronousTestCase,
        hooks: str,
        daemon: str = "",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(case.mktemp(), hooks, daemon, environ)
        case.addCleanup(self.stop)
