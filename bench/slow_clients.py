"""
Slow clients benchmark (issue 13, item 6): can one address lock everyone out?

Starts a real `twistd -n hookdaemon` with max_connections = 200 on a free
loopback port and, for each scenario, runs slowhttptest from 127.0.0.2 with 400
connections (started again each time it exits: it never replaces a connection
the server closed) while legitimate clients on 127.0.0.1 send signed GitHub
deliveries and GET /healthz at a steady rate, each on a new connection (as a
forge does):

  none       no attack: the legitimate traffic alone
  slowloris  slowhttptest -H: request headers that never end
  slowbody   slowhttptest -B: a POST body that never ends

each with max_client_connections at its default (32, "cap") and at 100000
("no cap": the daemon before the per-client cap). Reports, per run: the share
of legitimate requests served (202 / 200), what the others got, p50/p99/max
answer time of the served ones, how many connections 127.0.0.2 held (sampled
from /proc/net/tcp each second) and how many lines the daemon logged.

    python bench/slow_clients.py [--seconds 30] [--rate 5] [--only slowloris,slowbody]
    python bench/slow_clients.py --hookdaemon-tree /tmp/hd-before
    python bench/slow_clients.py --nginx

With --nginx, both go through nginx configured as README's "Behind a reverse
proxy" says (client_header_timeout, client_body_timeout, limit_conn 32, request
buffering), with trusted_proxies = 127.0.0.1 (nginx's address towards the daemon).

slowhttptest has no option for its source address, so it runs with a small
LD_PRELOAD library (compiled here with cc) whose connect() binds each IPv4
socket to 127.0.0.2 first. Needs slowhttptest and a C compiler (Debian:
apt-get install slowhttptest gcc). Run by hand; not part of the test suite.
Traffic goes to 127.0.0.0/8 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import daemons

ATTACKER = "127.0.0.2"
CLIENT = "127.0.0.1"
SERVER = "127.0.0.1"  # where the daemon (or nginx) listens
SECRET = "slow-clients-secret"
SCENARIOS = ["none", "slowloris", "slowbody"]

BIND_SOURCE_C = r"""
/* connect() that first binds an IPv4 socket to $BIND_SOURCE (port 0). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    const char *source = getenv("BIND_SOURCE");
    if (!real)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    if (source && addr && addr->sa_family == AF_INET) {
        struct sockaddr_in local = {0};
        local.sin_family = AF_INET;
        if (inet_pton(AF_INET, source, &local.sin_addr) == 1)
            bind(fd, (struct sockaddr *)&local, sizeof local); /* EINVAL if bound: fine */
    }
    return real(fd, addr, len);
}
"""


NGINX_CONF = """
pid {directory}/nginx.pid;
error_log {directory}/nginx.error.log;
worker_processes 1;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {directory}/nginx-body;
    proxy_temp_path {directory}/nginx-proxy;
    fastcgi_temp_path {directory}/nginx-fastcgi;
    uwsgi_temp_path {directory}/nginx-uwsgi;
    scgi_temp_path {directory}/nginx-scgi;

    limit_conn_zone $binary_remote_addr zone=hook_clients:10m;

    server {{
        listen 127.0.0.1:{port};
        client_header_timeout 10s;
        client_body_timeout 10s;
        send_timeout 10s;
        client_max_body_size 10m;
        limit_conn hook_clients 32;
        limit_conn_status 503;

        location / {{
            proxy_request_buffering on;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_pass http://127.0.0.1:{upstream};
        }}
    }}
}}
"""


def start_nginx(directory: str, upstream: int) -> daemons.Daemon:
    """nginx in front of the daemon on C{upstream}, as README advises; once it listens."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = daemons.free_port()
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(directory=directory, port=port, upstream=upstream))
    log = os.path.join(directory, "nginx.error.log")
    command = [nginx, "-c", conf, "-g", "daemon off;"]
    return daemons.launch("nginx", command, directory, port, log, stdout=log)


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def build_bind_source(directory: str) -> str:
    """Compile the LD_PRELOAD library; its path."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("a C compiler is needed for the LD_PRELOAD library (apt-get install gcc)")
    source = os.path.join(directory, "bind_source.c")
    library = os.path.join(directory, "bind_source.so")
    with open(source, "w") as f:
        f.write(BIND_SOURCE_C)
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", library, source, "-ldl"], check=True
    )
    return library


def attack_command(kind: str, port: int, seconds: int, connections: int) -> list[str]:
    """slowhttptest's command line for C{kind}: 400 connections, 200 new ones a second."""
    common = ["-c", str(connections), "-r", "200", "-i", "5", "-l", str(seconds), "-p", "3"]
    if kind == "slowloris":
        return [
            "slowhttptest", "-H", *common, "-x", "24", "-t", "GET",
            "-u", f"http://{SERVER}:{port}/healthz",
        ]  # fmt: skip
    return [
        "slowhttptest", "-B", *common, "-x", "10", "-s", "8192", "-t", "POST",
        "-u", f"http://{SERVER}:{port}/hooks/site",
    ]  # fmt: skip


class Attack:
    """
    slowhttptest from 127.0.0.2, started again each time it exits: it never
    replaces a connection the server closed, and exits once all are closed, so
    one run is one wave of C{connections}; a sustained attack is wave after wave.
    """

    def __init__(self, command: list[str], library: str, output: str) -> None:
        self.command = command
        self.env = {**os.environ, "LD_PRELOAD": library, "BIND_SOURCE": ATTACKER}
        self.output = output
        self.waves = 0
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        with open(self.output, "ab") as out:
            while not self._stopping.is_set():
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._process = subprocess.Popen(
                        self.command,
                        env=self.env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                    self.waves += 1
                self._process.wait()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._thread.join()


def held_from(address: str, port: int) -> int:
    """Established connections from C{address} to the daemon's C{port}, from /proc/net/tcp."""
    a, b, c, d = (int(part) for part in address.split("."))
    remote = f"{d:02X}{c:02X}{b:02X}{a:02X}:"
    local = f":{port:04X}"
    held = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "01" and fields[1].endswith(local) and fields[2].startswith(remote):
                held += 1
    return held


async def one_request(port: int, request: bytes, timeout: float) -> tuple[str, float, float]:
    """
    A request on a new connection from 127.0.0.1: its status (or what went
    wrong), its answer time and when it was sent (time.perf_counter()).
    """
    started = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(SERVER, port, local_addr=(CLIENT, 0))
            writer.write(request)
            answer = await reader.read()
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "empty"
    except TimeoutError:
        status = "timeout"
    except OSError as e:
        status = type(e).__name__
    finally:
        if writer is not None:
            writer.close()
    return status, time.perf_counter() - started, started


def delivery_request(deliveries: daemons.GitHubDeliveries, n: int) -> bytes:
    body, headers = deliveries(n)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (
        f"POST /hooks/site HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
        f"{head}Connection: close\r\n\r\n"
    ).encode() + body


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


async def legitimate(
    port: int, seconds: float, rate: float, timeout: float, prefix: str
) -> dict[str, list[tuple[str, float, float]]]:
    """C{rate} deliveries and C{rate} GET /healthz a second, evenly spaced, for C{seconds}."""
    deliveries = daemons.GitHubDeliveries(SECRET, prefix)
    tasks: dict[str, list[asyncio.Task[tuple[str, float, float]]]] = {
        "delivery": [],
        "healthz": [],
    }
    count = int(seconds * rate)
    start = time.perf_counter()
    for n in range(count):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks["delivery"].append(
            asyncio.create_task(one_request(port, delivery_request(deliveries, n), timeout))
        )
        await asyncio.sleep(max(0.0, start + (n + 0.5) / rate - time.perf_counter()))
        tasks["healthz"].append(asyncio.create_task(one_request(port, HEALTHZ, timeout)))
    answered = {kind: list(await asyncio.gather(*made)) for kind, made in tasks.items()}
    return {
        kind: [(status, took, sent - start) for status, took, sent in results]
        for kind, results in answered.items()
    }


def percentile_ms(values: list[float], fraction: float) -> float:
    return daemons.percentile(values, fraction) * 1000


def summary(results: list[tuple[str, float, float]], served: str) -> dict[str, Any]:
    """Counts and answer times; C{raw}: (status, answer time, sent at) each, in seconds."""
    statuses: dict[str, int] = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    times = [seconds for status, seconds, _ in results if status == served]
    return {
        "sent": len(results),
        "served": len(times),
        "share": len(times) / len(results) if results else float("nan"),
        "statuses": statuses,
        "p50_ms": percentile_ms(times, 0.50),
        "p99_ms": percentile_ms(times, 0.99),
        "max_ms": max(times) * 1000 if times else float("nan"),
        "raw": results,
    }


def log_lines(path: str, start: int) -> dict[str, int]:
    with open(path, errors="replace") as f:
        f.seek(start)
        lines = f.read().splitlines()
    return {
        "all": len(lines),
        "408": sum("not received within" in line for line in lines),
        "idle": sum("Timing out client" in line for line in lines),
        "503 summaries": sum("connections answered 503" in line for line in lines),
    }


def run(args: argparse.Namespace, work: str, library: str, kind: str, cap: int) -> dict[str, Any]:
    name = f"{kind}-{'cap' if cap < 1000 else 'nocap'}{'-nginx' if args.nginx else ''}"
    directory = os.path.join(work, name)
    os.makedirs(os.path.join(directory, "site"))
    hooks = (
        "[hook:site]\nforge = github\nsecret = env:SLOW_SECRET\n"
        f"workdir = {os.path.join(directory, 'site')}\ncommand = true\n"
    )
    settings: dict[str, object] = {
        "max_connections": 200,
        "max_client_connections": cap,
        "stop_grace": 2,
    }
    if args.nginx:
        settings["trusted_proxies"] = CLIENT
    daemon = daemons.start_hookdaemon(
        directory,
        settings,
        hooks,
        extra=args.config_line,
        env={"SLOW_SECRET": SECRET},
        tree=args.hookdaemon_tree,
    )
    twistd_log = os.path.join(daemon.directory, "twistd.log")
    logged = os.path.getsize(twistd_log)
    attack = None
    front = start_nginx(directory, daemon.port) if args.nginx else None
    port = daemon.port if front is None else front.port
    held: list[int] = []
    upstream: list[int] = []
    sampling = threading.Event()
    try:
        if kind != "none":
            command = attack_command(kind, port, int(args.ramp + args.seconds + 60), 400)
            attack = Attack(command, library, os.path.join(directory, "slowhttptest.out"))
            attack.start()
            time.sleep(args.ramp)

        def sample() -> None:
            while not sampling.wait(1.0):
                held.append(held_from(ATTACKER, port))
                upstream.append(held_from(CLIENT, daemon.port))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        progress(f"{name}: legitimate traffic for {args.seconds:g} s")
        results = asyncio.run(legitimate(port, args.seconds, args.rate, args.timeout, prefix=name))
        sampling.set()
        sampler.join()
    finally:
        if attack is not None:
            attack.stop()
        if front is not None:
            front.stop()
        daemon.stop()
    return {
        "name": name,
        "attack": kind,
        "max_client_connections": cap,
        "delivery": summary(results["delivery"], "202"),
        "healthz": summary(results["healthz"], "200"),
        "attacker_held": {
            "min": min(held, default=0),
            "median": sorted(held)[len(held) // 2] if held else 0,
            "max": max(held, default=0),
        },
        "log_lines": log_lines(twistd_log, logged),
        "attack_waves": attack.waves if attack is not None else 0,
        "via": "nginx" if front is not None else "direct",
        "daemon_connections_from_127.0.0.1": {
            "median": sorted(upstream)[len(upstream) // 2] if upstream else 0,
            "max": max(upstream, default=0),
        },
        "seconds": args.seconds,
    }


def fmt_ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| attack | max_client_connections | deliveries served | /healthz served "
        "| p50 / p99 / max ms (deliveries) | p50 / p99 / max ms (/healthz) "
        "| 127.0.0.2 held (median, max) | other answers "
        "| daemon log lines (408, idle, 503 summary) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d, h = r["delivery"], r["healthz"]
        others = {
            f"{kind} {status}": count
            for kind, s, served in (("delivery", d, "202"), ("healthz", h, "200"))
            for status, count in s["statuses"].items()
            if status != served
        }
        log = r["log_lines"]
        rows.append(
            f"| {r['attack']}{' via nginx' if r['via'] == 'nginx' else ''} "
            f"| {r['max_client_connections']} "
            f"| {d['served']}/{d['sent']} ({d['share']:.0%}) "
            f"| {h['served']}/{h['sent']} ({h['share']:.0%}) "
            f"| {fmt_ms(d['p50_ms'])} / {fmt_ms(d['p99_ms'])} / {fmt_ms(d['max_ms'])} "
            f"| {fmt_ms(h['p50_ms'])} / {fmt_ms(h['p99_ms'])} / {fmt_ms(h['max_ms'])} "
            f"| {r['attacker_held']['median']}, {r['attacker_held']['max']} "
            f"| {', '.join(f'{k}: {v}' for k, v in others.items()) or '-'} "
            f"| {log['all']} ({log['408']}, {log['idle']}, {log['503 summaries']}) |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="legitimate traffic, per run")
    parser.add_argument(
        "--rate", type=float, default=5, help="deliveries a second, and as many GET /healthz"
    )
    parser.add_argument("--ramp", type=float, default=5, help="seconds the attack runs first")
    parser.add_argument("--timeout", type=float, default=15, help="a legitimate request's limit")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"of: {','.join(SCENARIOS)}")
    parser.add_argument(
        "--caps",
        default="32,100000",
        help="max_client_connections values to run each attack with (default: 32,100000)",
    )
    parser.add_argument(
        "--config-line", action="append", default=[], metavar="'KEY = VALUE'",
        help="an extra [hookdaemon] line (repeatable)",
    )  # fmt: skip
    parser.add_argument("--hookdaemon-tree", metavar="DIR", help="run hookdaemon from there")
    parser.add_argument(
        "--nginx", action="store_true", help="put nginx in front, as README advises"
    )
    parser.add_argument("--json", metavar="PATH", help="write the results there too")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if shutil.which("slowhttptest") is None:
        raise SystemExit("slowhttptest is not installed (Debian: apt-get install slowhttptest)")
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    caps = [int(cap) for cap in args.caps.split(",")]

    work = tempfile.mkdtemp(prefix="hookdaemon-slow-")
    results = []
    try:
        library = build_bind_source(work)
        for kind in only:
            for cap in caps[:1] if kind == "none" else caps:
                results.append(run(args, work, library, kind, cap))
    finally:
        daemons.stop_all()
        if args.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    print(
        f"\n{args.rate:g} deliveries and {args.rate:g} GET /healthz a second from {CLIENT} "
        f"for {args.seconds:g} s per run, each on a new connection; slowhttptest from "
        f"{ATTACKER}: 400 connections, 200 new a second, follow-up data every 5 s, "
        "started again as soon as it exits; "
        "max_connections = 200, header_timeout and request_timeout at their defaults."
    )
    print("\n    " + " ".join(["python", "bench/slow_clients.py", *sys.argv[1:]]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
