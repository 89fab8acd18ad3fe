"""
Reload: what a new configuration file changes (L{config_change}), a running
service taking it or refusing it (L{reload}), and SIGHUP and
C{hookdaemon reload} against a real twistd.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys

from cryptography import x509
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.threads import deferToThread
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase
from zope.interface import provider

from hookdaemon.config import Config, ConfigError
from hookdaemon.config_change import CertificateRead, ConfigChange
from hookdaemon.config_check import checked_config
from hookdaemon.pid_record import NotRunningError, running_pid
from hookdaemon.preflight import RunAs
from hookdaemon.reload import Reloadable, Reloader
from hookdaemon.testing import TwistdDaemon
from tests.support import (
    RunningDaemon,
    config_text,
    finished,
    get,
    github_headers,
    github_push_body,
    post,
    start_daemon,
    wait_for,
)
from tests.test_tls import Issued, common_name, issue, write

SECRET = "reload-secret"


def hook(name: str, command: str = "echo ran", extra: str = "") -> str:
    return (
        f"[hook:{name}]\nforge = github\nsecret = {SECRET}\nworkdir = .\n"
        f"command = {command}\nburst = queue\n{extra}\n"
    )


class Logged:
    """The daemon's log lines while a test runs."""

    def __init__(self, case: TestCase) -> None:
        self.lines: list[str] = []

        @provider(ILogObserver)
        def observe(event: LogEvent) -> None:
            self.lines.append(formatEvent(event))

        globalLogPublisher.addObserver(observe)
        case.addCleanup(globalLogPublisher.removeObserver, observe)


class ServiceReloadTests(TestCase):
    async def daemon(self, hooks: str, daemon: str = "") -> RunningDaemon:
        self.daemon_text = daemon
        return await start_daemon(self, hooks, daemon)

    def rewrite(self, running: RunningDaemon, hooks: str, daemon: str | None = None) -> None:
        with open(os.path.join(running.directory, "tap.cfg"), "w") as f:
            f.write(config_text(hooks, self.daemon_text if daemon is None else daemon))

    async def deliver(
        self, running: RunningDaemon, name: str, after: str = "1" * 40
    ) -> tuple[int, object]:
        body = github_push_body(after=after)
        code, answer, _ = await post(running.hook_url(name), body, github_headers(body, SECRET))
        return code, answer

    def reloader(
        self, running: RunningDaemon, target: Reloadable, strict: bool = False, stop: bool = True
    ) -> Reloader:
        """Another Reloader of C{running}'s file into C{target}, started as the service's is."""
        made = Reloader(reactor, running.service.config.source, target, strict=strict)
        made.privilegedStartService()
        made.startService()
        self.addCleanup(made.release)
        if stop:
            self.addCleanup(made.stopService)
        return made

    def reload_result(self, running: RunningDaemon) -> dict[str, object]:
        with open(os.path.join(running.directory, "var", "reload.json")) as f:
            result: dict[str, object] = json.load(f)
        return result

    async def test_anAddedHookGoesLive(self) -> None:
        running = await self.daemon(hook("a"))
        self.assertEqual((await self.deliver(running, "b"))[0], 404)
        self.rewrite(running, hook("a") + hook("b", "echo b ran"))
        await running.service.reloader.reload()
        code, answer = await self.deliver(running, "b")
        self.assertEqual(code, 202)
        assert isinstance(answer, dict)
        await finished(running, answer["job"])
        self.assertIn("b ran", running.log_text("b"))
        self.assertEqual(
            self.reload_result(running)["lines"],
            [f"reloaded {running.directory}/tap.cfg: hooks added: b"],
        )
        self.assertIs(self.reload_result(running)["applied"], True)

    async def test_aRemovedHookIs404AndItsRunningJobFinishes(self) -> None:
        running = await self.daemon(
            hook("a", "sh -c 'while [ ! -e go ]; do sleep 0.02; done'") + hook("b")
        )
        answer = (await self.deliver(running, "a"))[1]
        assert isinstance(answer, dict)
        job = answer["job"]
        await wait_for(lambda: running.job(job).state.value == "running", "the job to run")
        self.rewrite(running, hook("b"))
        await running.service.reloader.reload()
        self.assertEqual((await self.deliver(running, "a", "2" * 40))[0], 404)
        with open(os.path.join(running.directory, "go"), "w"):
            pass
        self.assertEqual((await finished(running, job)).state.value, "succeeded")

    async def test_aChangedCommandAppliesToNewDeliveriesOnly(self) -> None:
        wait = "sh -c 'while [ ! -e go ]; do sleep 0.02; done; echo old ${HOOK_JOB}'"
        running = await self.daemon(hook("a", wait))
        jobs = []
        for after in ("1" * 40, "2" * 40):
            answer = (await self.deliver(running, "a", after))[1]
            assert isinstance(answer, dict)
            jobs.append(answer["job"])
        await wait_for(lambda: running.job(jobs[0]).state.value == "running", "the first job")
        self.rewrite(running, hook("a", "echo new ${HOOK_JOB}"))
        await running.service.reloader.reload()
        answer = (await self.deliver(running, "a", "3" * 40))[1]
        assert isinstance(answer, dict)
        jobs.append(answer["job"])
        with open(os.path.join(running.directory, "go"), "w"):
            pass
        for job in jobs:
            self.assertEqual((await finished(running, job)).state.value, "succeeded")
        text = running.log_text("a")
        # Taken before the reload, the queued one keeps the steps it was taken with.
        self.assertIn(f"old {jobs[0]}", text)
        self.assertIn(f"old {jobs[1]}", text)
        self.assertIn(f"new {jobs[2]}", text)

    async def test_anInvalidFileIsRefusedWithCheckLinesAndTheOldOneStays(self) -> None:
        running = await self.daemon(hook("a"))
        logged = Logged(self)
        in_use = running.service.config
        self.rewrite(running, hook("a", extra="timeout = soon\ncolour = blue") + hook("b"))
        with self.assertRaises(ConfigError) as raised:
            checked_config(os.path.join(running.directory, "tap.cfg"), RunAs.this_process())
        problems = [str(p) for p in raised.exception.problems]
        self.assertEqual(len(problems), 2)
        await running.service.reloader.reload()
        for problem in problems:
            self.assertIn(problem, logged.lines)
        self.assertIn("reload refused; the configuration in use stays as it was", logged.lines)
        self.assertIs(running.service.config, in_use)
        self.assertEqual((await self.deliver(running, "b"))[0], 404)
        self.assertEqual((await self.deliver(running, "a"))[0], 202)
        result = self.reload_result(running)
        self.assertIs(result["applied"], False)
        self.assertEqual(result["lines"][:2], problems)  # type: ignore[index]

    async def test_aKeyThatTakesARestartRefusesTheReload(self) -> None:
        running = await self.daemon(hook("a"))
        logged = Logged(self)
        self.rewrite(running, hook("a") + hook("b"), "max_attempts = 7\n")
        await running.service.reloader.reload()
        self.assertIn(
            f"{running.directory}/tap.cfg: [hookdaemon] max_attempts changed: that takes a"
            " restart, not a reload",
            logged.lines,
        )
        self.assertEqual((await self.deliver(running, "b"))[0], 404)

    async def test_aNewEndpointListensBeforeTheOldClosesAndOpenConnectionsStay(self) -> None:
        running = await self.daemon(hook("a"))
        old_port = running.service.addresses()[0].port
        # A keep-alive connection on the old endpoint, open across the reload.
        held = KeepAlive()
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", old_port), held)
        self.addCleanup(held.transport.loseConnection)
        self.assertIn(b"200 OK", await held.ask())
        self.rewrite(
            running,
            hook("a"),
        )
        with open(os.path.join(running.directory, "tap.cfg")) as f:
            text = f.read()
        with open(os.path.join(running.directory, "tap.cfg"), "w") as f:
            f.write(
                text.replace("tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1:backlog=20")
            )
        await running.service.reloader.reload()
        [address] = running.service.addresses()
        self.assertNotEqual(address.port, old_port)
        code, _ = await get(f"http://127.0.0.1:{address.port}/healthz")
        self.assertEqual(code, 200)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", old_port), timeout=5).close()
        self.assertIn(b"200 OK", await held.ask())

    async def test_anEndpointThatCannotBeBoundRefusesTheWholeReload(self) -> None:
        running = await self.daemon(hook("a"))
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        logged = Logged(self)
        before = running.service.addresses()
        self.rewrite(running, hook("a") + hook("b"))
        with open(os.path.join(running.directory, "tap.cfg")) as f:
            text = f.read()
        listen = (
            "listen = tcp:0:interface=127.0.0.1\n    tcp:0:interface=127.0.0.1:backlog=7\n"
            f"    tcp:{port}:interface=127.0.0.1\n"
        )
        with open(os.path.join(running.directory, "tap.cfg"), "w") as f:
            f.write(text.replace("listen = tcp:0:interface=127.0.0.1\n", listen))
        await running.service.reloader.reload()
        self.assertEqual(running.service.addresses(), before)  # the one bound for it closed again
        refusal = [line for line in logged.lines if line.startswith("cannot listen on")]
        self.assertEqual(len(refusal), 1)
        self.assertIn(f"cannot listen on http://127.0.0.1:{port}: ", refusal[0])
        self.assertIn("Address already in use", refusal[0])
        self.assertEqual((await self.deliver(running, "b"))[0], 404)

    async def tls_daemon(self) -> tuple[RunningDaemon, str, str]:
        """A daemon listening on ssl:0 with a certificate for "first"; its key and cert files."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
        install(key, cert, issue("first", 1))
        running = await self.daemon(hook("a"))
        self.relisten(running, f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
        await running.service.reloader.reload()
        return running, key, cert

    def relisten(self, running: RunningDaemon, *listen: str) -> None:
        path = os.path.join(running.directory, "tap.cfg")
        with open(path) as f:
            text = f.read()
        daemon, hooks = text.split("\n[hook:", 1)
        lines = [line for line in daemon.splitlines() if not line.startswith(("listen", "    "))]
        lines.insert(1, "listen = " + "\n    ".join(listen))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n\n[hook:" + hooks)

    async def served(self, running: RunningDaemon) -> str:
        [address] = running.service.addresses()
        pem = await deferToThread(ssl.get_server_certificate, ("127.0.0.1", address.port))
        return common_name(x509.load_pem_x509_certificate(pem.encode()))

    async def test_renewedCertificatesServeNewConnections(self) -> None:
        running, key, cert = await self.tls_daemon()
        [address] = running.service.addresses()
        self.assertEqual(await self.served(running), "first")
        second = issue("second", 2)
        install(key, cert, second)
        self.assertEqual(await self.served(running), "first")  # read at reload only
        await running.service.reloader.reload()
        self.assertEqual(await self.served(running), "second")
        self.assertEqual(running.service.addresses(), [address])
        # The file is as it was, but the renewal is what the reload did.
        self.assertEqual(
            self.reload_result(running)["lines"],
            [
                f"reloaded {running.directory}/tap.cfg: certificate files read again for"
                f" https://127.0.0.1:0: a new certificate (serial 02, valid until"
                f" {until(second)})"
            ],
        )
        # Files the daemon cannot use refuse the reload; the certificate in use stays.
        os.remove(key)
        logged = Logged(self)
        await running.service.reloader.reload()
        self.assertIn(
            f"{running.directory}/tap.cfg: [hookdaemon] listen: endpoint 1 (ssl):"
            f" https://127.0.0.1:0: privateKey {key} cannot be read: No such file or directory",
            logged.lines,
        )
        self.assertEqual(await self.served(running), "second")

    async def test_aRefusedReloadServesNoRenewedCertificate(self) -> None:
        running, key, cert = await self.tls_daemon()
        install(key, cert, issue("second", 2))
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        [listen] = running.service.config.daemon.listen
        self.relisten(running, listen, f"tcp:{taken.getsockname()[1]}:interface=127.0.0.1")
        await running.service.reloader.reload()
        self.assertIs(self.reload_result(running)["applied"], False)
        self.assertEqual(await self.served(running), "first")

    async def test_otherFilesOnTheSamePortNeedNoRestart(self) -> None:
        running, _, _ = await self.tls_daemon()
        [address] = running.service.addresses()
        elsewhere = os.path.abspath(self.mktemp())
        os.makedirs(elsewhere)
        new_key, new_cert = os.path.join(elsewhere, "k.pem"), os.path.join(elsewhere, "c.pem")
        install(new_key, new_cert, issue("moved", 3))
        listen = f"ssl:0:interface=127.0.0.1:privateKey={new_key}:certKey={new_cert}"
        self.relisten(running, listen)
        await running.service.reloader.reload()
        self.assertIs(self.reload_result(running)["applied"], True)
        self.assertEqual(running.service.addresses(), [address])
        self.assertEqual(await self.served(running), "moved")
        # The endpoint is the new string's now: its files are the ones read again.
        install(new_key, new_cert, issue("renewed", 4))
        await running.service.reloader.reload()
        self.assertEqual(await self.served(running), "renewed")

    async def test_anSSLEndpointRemovedWithItsFilesGone(self) -> None:
        running, key, _ = await self.tls_daemon()
        os.remove(key)
        self.relisten(running, "tcp:0:interface=127.0.0.1")
        await running.service.reloader.reload()
        self.assertIs(self.reload_result(running)["applied"], True)
        [address] = running.service.addresses()
        self.assertEqual((await get(f"http://127.0.0.1:{address.port}/healthz"))[0], 200)

    async def test_withStrictARefusalNamesTheWarnings(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        with open(os.path.join(directory, "s"), "w") as f:
            f.write(SECRET)
        quiet = hook("a").replace(f"secret = {SECRET}", "secret = file:s")
        self.daemon_text = ""
        running = await start_daemon(self, quiet, directory=directory)
        strict = self.reloader(running, running.service, strict=True)
        self.rewrite(running, quiet + hook("b"))
        await strict.reload()
        self.assertEqual(
            self.reload_result(running)["lines"],
            [
                f"{running.directory}/tap.cfg: [hook:b] secret: the secret is written in the"
                " file; prefer env:NAME or file:PATH (warning)",
                f"{running.directory}/tap.cfg: 1 warning(s) and --strict",
                "reload refused; the configuration in use stays as it was",
            ],
        )

    async def test_theSameEndpointsInAnotherOrderChangeNothing(self) -> None:
        running = await self.daemon(hook("a"))
        first = "tcp:0:interface=127.0.0.1"
        second = "tcp:0:interface=127.0.0.1:backlog=9"
        self.relisten(running, first, second)
        await running.service.reloader.reload()
        addresses = running.service.addresses()
        self.relisten(running, second, first)
        await running.service.reloader.reload()
        self.assertEqual(
            self.reload_result(running)["lines"],
            [f"reloaded {running.directory}/tap.cfg: nothing changed"],
        )
        self.assertEqual(running.service.addresses(), addresses)

    async def test_aStatusTokenAppliesAtOnce(self) -> None:
        running = await self.daemon(hook("a"))
        self.assertEqual((await get(f"{running.url}/jobs"))[0], 200)
        self.rewrite(running, hook("a"), "status_token = a-new-token\n")
        await running.service.reloader.reload()
        self.assertEqual((await get(f"{running.url}/jobs"))[0], 401)

    async def test_moreParallelJobsStartWaitingOnesAtOnce(self) -> None:
        wait = "sh -c 'touch started-$HOOK_NAME; while [ ! -e go ]; do sleep 0.02; done'"
        running = await self.daemon(hook("a", wait) + hook("b", wait), "max_parallel = 1\n")
        for name in ("a", "b"):
            self.assertEqual((await self.deliver(running, name))[0], 202)

        def started(name: str) -> bool:
            return os.path.exists(os.path.join(running.directory, f"started-{name}"))

        await wait_for(lambda: started("a") or started("b"), "one job to start")
        self.assertEqual([started("a"), started("b")].count(True), 1)
        self.rewrite(running, hook("a", wait) + hook("b", wait), "max_parallel = 2\n")
        await running.service.reloader.reload()
        await wait_for(lambda: started("a") and started("b"), "the waiting job to start")
        with open(os.path.join(running.directory, "go"), "w"):
            pass

    async def test_hangupsDuringAReloadMakeOneMore(self) -> None:
        running = await self.daemon(hook("a"))
        target = SlowTarget(running.service.config)
        reloader = self.reloader(running, target)
        self.addCleanup(target.finish)  # before the reloader stops, should the test fail
        first = reloader.reload()
        await wait_for(lambda: len(target.applying) == 1, "the file read, and applying")
        second, third = reloader.reload(), reloader.reload()
        target.applying[0].callback(None)
        # One more for the two that came meanwhile.
        await wait_for(lambda: len(target.applying) == 2, "the next reload applying")
        self.assertNoResult(first)
        target.applying[1].callback(None)
        for done in (first, second, third):
            self.successResultOf(done)
        self.assertEqual(len(target.applying), 2)
        self.assertEqual(self.reload_result(running)["serial"], 2)

    async def test_aStopWaitsForTheReloadUnderWay(self) -> None:
        running = await self.daemon(hook("a"))
        target = SlowTarget(running.service.config)
        reloader = self.reloader(running, target, stop=False)  # the test stops it
        self.addCleanup(target.finish)
        reloader.reload()
        await wait_for(lambda: len(target.applying) == 1, "the file read, and applying")
        reloader.reload()  # one more would come after it, but the daemon stops
        stopped = reloader.stopService()
        self.assertNoResult(stopped)
        target.applying[0].callback(None)
        self.successResultOf(stopped)
        self.assertEqual(len(target.applying), 1)


def install(key: str, cert: str, issued: Issued) -> None:
    write(key, issued.key_pem)
    write(cert, issued.certificate_pem)


def until(issued: Issued) -> str:
    """The end of C{issued}'s validity, as a reload's summary words it."""
    return issued.certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")


class SlowTarget:
    """A daemon whose every reload waits until the test lets it end."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.applying: list[Deferred[None]] = []
        self._finished = False

    async def apply(self, config: Config, change: ConfigChange) -> tuple[CertificateRead, ...]:
        applying: Deferred[None] = Deferred()
        self.applying.append(applying)
        if self._finished:
            applying.callback(None)
        await applying
        return ()

    def finish(self) -> None:
        """Let every reload end, now and from now on (a test's cleanup)."""
        self._finished = True
        for applying in self.applying:
            if not applying.called:
                applying.callback(None)


class KeepAlive(Protocol):
    """One HTTP/1.1 connection, asking for /healthz as often as told."""

    def __init__(self) -> None:
        self._answer: Deferred[bytes] | None = None

    def ask(self) -> Deferred[bytes]:
        self._answer = Deferred()
        self.transport.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return self._answer

    def dataReceived(self, data: bytes) -> None:
        if self._answer is not None and b"\r\n\r\n" in data:
            answer, self._answer = self._answer, None
            answer.callback(data)


def hookdaemon(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookdaemon", *args],
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )


class TwistdReloadTests(TestCase):
    def twistd(self, hooks: str) -> TwistdDaemon:
        twistd = TwistdDaemon(self.mktemp(), hooks)
        self.addCleanup(twistd.stop)
        return twistd.start()

    def rewrite(self, twistd: TwistdDaemon, hooks: str) -> None:
        with open(twistd.config) as f:
            daemon = f.read().split("[hook:", 1)[0]
        with open(twistd.config, "w") as f:
            f.write(daemon + hooks)

    async def test_sighupAppliesTheFile(self) -> None:
        twistd = self.twistd(hook("a"))
        self.rewrite(twistd, hook("a") + hook("b"))
        twistd.process.send_signal(signal.SIGHUP)
        await wait_for(lambda: "hooks added: b" in twistd.log, "the reload")
        body = github_push_body()
        code, _, _ = await post(f"{twistd.url}/hooks/b", body, github_headers(body, SECRET))
        self.assertEqual(code, 202)

    def test_hookdaemonReloadSaysWhatChangedOrWhyNot(self) -> None:
        twistd = self.twistd(hook("a"))
        self.rewrite(twistd, hook("a") + hook("b"))
        done = hookdaemon("reload", "--config", twistd.config, cwd=twistd.directory)
        self.assertEqual(
            (done.returncode, done.stdout.strip()),
            (0, f"reloaded {twistd.config}: hooks added: b"),
        )
        # Refused by the daemon: a port another process holds.
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with open(twistd.config) as f:
            text = f.read()
        port = taken.getsockname()[1]
        with open(twistd.config, "w") as f:
            f.write(
                text.replace(
                    "interface=127.0.0.1\n",
                    f"interface=127.0.0.1\n    tcp:{port}:interface=127.0.0.1\n",
                    1,
                )
            )
        done = hookdaemon("reload", "--config", twistd.config, cwd=twistd.directory)
        self.assertEqual(done.returncode, 1)
        self.assertIn(f"cannot listen on http://127.0.0.1:{port}:", done.stderr)
        self.assertIn("reload refused; the configuration in use stays as it was", done.stderr)
        # A file with problems: the daemon's own lines, as --check would print them.
        self.rewrite(twistd, hook("a", extra="colour = blue"))
        done = hookdaemon("reload", "--config", twistd.config, cwd=twistd.directory)
        self.assertEqual(done.returncode, 1)
        self.assertEqual(
            done.stderr.splitlines(),
            [
                f"{twistd.config}: [hook:a] colour: unknown key (known keys: allow_from,"
                " basic_auth, branches, burst, command, env, events, forge, kill_grace,"
                " max_queued, notify, notify_format, notify_on, rate, report, report_ca,"
                " report_context, report_token, report_url, repository, secret, shell,"
                " signature_header, tags, timeout, workdir)",
                f"{twistd.config}: 1 problem(s)",
                "reload refused; the configuration in use stays as it was",
            ],
        )
        self.assertIsNone(twistd.process.poll())
        self.assertEqual(twistd.log.count("SIGHUP: reloading"), 3)

    async def test_aFileSlowToReadHoldsUpNoDelivery(self) -> None:
        """
        The file is read in a thread of its own: while a file: secret cannot be
        read yet (a FIFO nothing writes to, as a read from a stalled NFS server
        would be), the daemon answers and takes deliveries.
        """
        twistd = self.twistd(hook("a"))
        fifo = os.path.join(twistd.directory, "b.secret")
        os.mkfifo(fifo)
        slow = hook("b").replace(f"secret = {SECRET}", "secret = file:b.secret")
        self.rewrite(twistd, hook("a") + slow)
        twistd.process.send_signal(signal.SIGHUP)
        await wait_for(lambda: "SIGHUP: reloading" in twistd.log, "the reload to begin")
        self.assertEqual(twistd.request("GET", "/healthz")[0], 200)
        body = github_push_body()
        self.assertEqual(twistd.post("/hooks/a", body, github_headers(body, SECRET))[0], 202)
        self.assertNotIn("reloaded", twistd.log)
        with open(fifo, "w") as f:  # the reader is there: this opens at once
            f.write(SECRET)
        await wait_for(lambda: "hooks added: b" in twistd.log, "the reload to apply")
        body = github_push_body(after="2" * 40)
        self.assertEqual(twistd.post("/hooks/b", body, github_headers(body, SECRET))[0], 202)

    def test_hookdaemonReloadSaysWhichCertificatesWereReadAgain(self) -> None:
        """A renewal in place changes nothing in tap.cfg: the answer still names it."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
        install(key, cert, issue("first", 1))
        # A second endpoint of the listen key, after the plain one TwistdDaemon waits on.
        twistd = TwistdDaemon(
            directory,
            hook("a"),
            f"    ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}",
        )
        self.addCleanup(twistd.stop)
        twistd.start()
        renewed = issue("renewed", 0x1F2)
        install(key, cert, renewed)
        read = "certificate files read again for https://127.0.0.1:0"
        done = hookdaemon("reload", "--config", twistd.config, cwd=directory)
        self.assertEqual(
            (done.returncode, done.stdout.splitlines(), done.stderr),
            (
                0,
                [
                    f"reloaded {twistd.config}: {read}: a new certificate (serial 01F2,"
                    f" valid until {until(renewed)})"
                ],
                "",
            ),
        )
        self.assertIn(f"{read}: a new certificate", twistd.log)
        # Nothing renewed: said too, so a renewal that did not land shows.
        done = hookdaemon("reload", "--config", twistd.config, cwd=directory)
        self.assertEqual(
            done.stdout.strip(),
            f"reloaded {twistd.config}: {read}: the same certificate (serial 01F2, valid"
            f" until {until(renewed)})",
        )
        with open(os.path.join(directory, "var", "reload.json")) as f:
            self.assertEqual(json.load(f)["lines"], [done.stdout.strip()])

    def test_envSecretsAreTheDaemonsNotTheCommands(self) -> None:
        """The daemon judges the file with its own environment, where env: secrets are."""
        twistd = TwistdDaemon(
            self.mktemp(), hook("a"), environ={"RELOAD_TEST_SECRET": "from-the-daemon"}
        )
        self.addCleanup(twistd.stop)
        twistd.start()
        self.rewrite(twistd, hook("a") + hook("b").replace(SECRET, "env:RELOAD_TEST_SECRET"))
        done = hookdaemon("reload", "--config", twistd.config, cwd=twistd.directory)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        body = github_push_body()
        headers = github_headers(body, "from-the-daemon")
        self.assertEqual(twistd.post("/hooks/b", body, headers)[0], 202)

    def test_aPidThatIsNoHookdaemonIsNotSignalled(self) -> None:
        other = subprocess.Popen(["sleep", "60"])
        self.addCleanup(other.wait)
        self.addCleanup(other.kill)
        directory = self.mktemp()
        os.makedirs(directory)
        with open(os.path.join(directory, "tap.cfg"), "w") as f:
            f.write(config_text(hook("a")))
        done = hookdaemon("reload", "--pid", str(other.pid), cwd=directory)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(
            done.stderr.strip(),
            f"hookdaemon reload: process {other.pid} holds no hookdaemon.pid: it is not a"
            " hookdaemon, or not one this user may look at (run as its user or root)",
        )
        self.assertIsNone(other.poll())

    def test_aChangedStateDirIsRefusedByTheDaemonFoundByPid(self) -> None:
        twistd = self.twistd(hook("a"))
        with open(twistd.config) as f:
            text = f.read()
        elsewhere = os.path.abspath(self.mktemp())
        with open(twistd.config, "w") as f:
            f.write(text.replace("[hook:a]", f"state_dir = {elsewhere}\n\n[hook:a]", 1))
        done = hookdaemon("reload", "--config", twistd.config, cwd=twistd.directory)
        self.assertEqual(done.returncode, 2)
        self.assertIn("give its --pid (a changed state_dir takes a restart)", done.stderr)
        done = hookdaemon(
            "reload",
            "--config",
            twistd.config,
            "--pid",
            str(twistd.process.pid),
            cwd=twistd.directory,
        )
        self.assertEqual(
            (done.returncode, done.stderr.splitlines()),
            (
                1,
                [
                    f"{twistd.config}: [hookdaemon] state_dir changed: that takes a restart,"
                    " not a reload",
                    "reload refused; the configuration in use stays as it was",
                ],
            ),
        )

    def test_aSecondDaemonOnTheSameStateIsRefused(self) -> None:
        first = self.twistd(hook("a"))
        second = TwistdDaemon(self.mktemp(), hook("a"))
        with open(second.config, "a") as f:
            pass
        with open(second.config) as f:
            text = f.read()
        state = os.path.join(first.directory, "var")
        with open(second.config, "w") as f:
            f.write(text.replace("[hook:a]", f"state_dir = {state}\n\n[hook:a]", 1))
        self.addCleanup(second.stop)
        with contextlib.suppress(AssertionError):
            second.start()  # it may stop before it listens
        self.assertEqual(second.process.wait(30), 1)  # for systemd's Restart=on-failure
        self.assertIn(
            f"journal: {state} is in use by another hookdaemon (pid {first.process.pid}): stop"
            " that one first, or give this one its own state_dir; stopping",
            second.log,
        )
        self.assertNotIn("Traceback", second.log)
        self.assertEqual(running_pid(state), first.process.pid)
        first.stop()
        with self.assertRaises(NotRunningError):
            running_pid(state)

    def test_reloadWithNoDaemonSaysSo(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        with open(os.path.join(directory, "tap.cfg"), "w") as f:
            f.write(config_text(hook("a")))
        done = hookdaemon("reload", "--config", "tap.cfg", cwd=directory)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(
            done.stderr.strip(),
            f"hookdaemon reload: no hookdaemon runs on {os.path.abspath(directory)}/var"
            " (no hookdaemon.pid there); if it runs on another state_dir, give its --pid"
            " (a changed state_dir takes a restart)",
        )
