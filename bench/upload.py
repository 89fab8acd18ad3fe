"""
Upload benchmark (issue 5, "Hostile input"): one chunked upload of 100 MB to a
daemon whose max_body is 10 MiB must be answered 413 and leave memory flat.

Starts a real `twistd -n hookdaemon` on a free loopback port in a temporary
directory, streams the body in chunks while watching for the answer, and
reports the status code, how much of the body the socket took before the
daemon stopped reading, and the daemon's VmHWM (peak) and VmRSS from /proc
before and after.

    python bench/upload.py [--megabytes 100] [--max-body 10485760] [--chunk 65536]

Run by hand; not part of the test suite. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import errno
import select
import shutil
import socket
import tempfile
import time

import daemons


def upload(port: int, total: int, chunk_size: int, timeout: float) -> tuple[bytes, int]:
    """Stream C{total} bytes chunked; return what came back and how much was sent."""
    chunk = b"%x\r\n" % chunk_size + b"x" * chunk_size + b"\r\n"
    chunks = total // chunk_size
    sent = 0
    received = b""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"POST /hooks/upload HTTP/1.1\r\nHost: bench\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        s.setblocking(False)
        pending = memoryview(b"")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sending = chunks > 0 or len(pending) > 0
            readable, writable, _ = select.select([s], [s] if sending else [], [], 1.0)
            if readable:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                received += data
                chunks, pending = 0, memoryview(b"")  # answered: stop sending
            if writable and sending:
                if not pending:
                    pending = memoryview(chunk if chunks > 1 else chunk + b"0\r\n\r\n")
                    chunks -= 1
                try:
                    n = s.send(pending)
                except OSError as e:
                    if e.errno in (errno.EPIPE, errno.ECONNRESET):
                        chunks, pending = 0, memoryview(b"")
                        continue
                    raise
                sent += n
                pending = pending[n:]
    return received, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--max-body", type=int, default=10 * 1024 * 1024)
    parser.add_argument("--chunk", type=int, default=65536)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="hookdaemon-upload-")
    try:
        daemon = daemons.start_hookdaemon(
            directory,
            {"max_body": args.max_body},
            "[hook:upload]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\n"
            "command = true\n",
        )
        try:
            before = daemon.memory()
            began = time.perf_counter()
            received, sent = upload(
                daemon.port, args.megabytes * 1024 * 1024, args.chunk, args.timeout
            )
            took = time.perf_counter() - began
            time.sleep(0.5)  # let the daemon settle before reading its memory again
            after = daemon.memory()
        finally:
            daemon.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    status = received.split(b"\r\n", 1)[0].decode("latin-1") or "(no answer)"
    body = received.partition(b"\r\n\r\n")[2].decode("utf-8", "replace").strip()
    print(f"upload:        {args.megabytes} MB chunked, max_body = {args.max_body}")
    print(f"answer:        {status} {body}")
    print(
        f"body sent:     {sent / 1024 / 1024:.1f} MB of {args.megabytes} MB"
        f" (taken by the sockets) in {took:.2f} s"
    )
    print(f"daemon VmHWM:  {before['VmHWM'] / 1024:.1f} MB -> {after['VmHWM'] / 1024:.1f} MB")
    print(f"daemon VmRSS:  {before['VmRSS'] / 1024:.1f} MB -> {after['VmRSS'] / 1024:.1f} MB")


if __name__ == "__main__":
    main()
