"""hookdaemon: receive forge webhooks, check they are genuine, deploy in the background."""

import os as _os

__version__ = "0.1.0"

SYSTEMD_ENVIRONMENT = {k: v for k, v in _os.environ.items() if k.startswith("LISTEN_")}
"""
The sockets systemd passed (C{LISTEN_FDS}, C{LISTEN_PID}, C{LISTEN_FDNAMES}),
kept as the package is first imported: Twisted's endpoints module, which
hookdaemon.tap imports, removes them from the environment as it is imported
(L{hookdaemon.systemd_sockets} reads them from here).
"""
