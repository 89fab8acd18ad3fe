"""
The least a Twisted process can do for a signed delivery, for bench/ceiling.py:
a bare twisted.web Resource that checks X-Hub-Signature-256 (HMAC-SHA256),
parses the JSON body and answers 202; no routing, no journal, no log, no job.

    python bench/raw_server.py PORT SECRET [PROCESSES]

With PROCESSES > 1, that many processes each bind 127.0.0.1:PORT with
SO_REUSEPORT and the kernel spreads the connections over them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import sys

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Request, Site


class Deliveries(Resource):
    isLeaf = True

    def __init__(self, secret: bytes) -> None:
        super().__init__()
        self._secret = secret

    def render_POST(self, request: Request) -> bytes:
        assert request.content is not None
        body = request.content.read()
        signature = request.getHeader(b"x-hub-signature-256") or b""
        expected = b"sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(signature, expected):
            request.setResponseCode(401)
            return b'{"error": "signature mismatch"}\n'
        json.loads(body)
        request.setResponseCode(202)
        request.setHeader(b"content-type", b"application/json")
        return b'{"status": "queued"}\n'


def serve(port: int, secret: bytes) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    listener.setblocking(False)
    site = Site(Deliveries(secret))
    site.noisy = False
    reactor.adoptStreamPort(listener.fileno(), socket.AF_INET, site)  # type: ignore[attr-defined]
    listener.close()  # the reactor holds its own copy
    reactor.run()  # type: ignore[attr-defined]


def main() -> None:
    port, secret = int(sys.argv[1]), sys.argv[2].encode()
    processes = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for _ in range(processes - 1):
        if os.fork() == 0:
            break
    serve(port, secret)


if __name__ == "__main__":
    main()
