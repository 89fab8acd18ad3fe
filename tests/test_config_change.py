"""What a reload would change, from two configurations as plain values."""

from __future__ import annotations

import datetime

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import parse_config
from hookdaemon.config_change import CertificateRead, compare
from tests.support import config_text
from tests.test_reload import SECRET, hook


class ConfigChangeTests(SynchronousTestCase):
    def test_hooksAddedRemovedAndChangedAreNamed(self) -> None:
        old = parse_config(config_text(hook("a") + hook("b")), "tap.cfg", {}, lambda p: b"")
        new = parse_config(
            config_text(hook("b", "echo other") + hook("c")), "tap.cfg", {}, lambda p: b""
        )
        change = compare(old, new)
        self.assertEqual((change.added, change.removed), (("c",), ("a",)))
        self.assertEqual(change.changed, (("b", ("command",)),))
        self.assertEqual(
            change.summary(), "hooks added: c; hooks removed: a; hook b changed: command"
        )

    def test_aChangedSecretIsNamedNeverShown(self) -> None:
        old = parse_config(config_text(hook("a")), "tap.cfg", {}, lambda p: b"")
        new = parse_config(
            config_text(hook("a").replace(SECRET, "new-value-xyz")), "tap.cfg", {}, lambda p: b""
        )
        summary = compare(old, new).summary()
        self.assertEqual(summary, "hook a changed: secret")
        self.assertNotIn("new-value-xyz", summary)
        self.assertNotIn(SECRET, summary)

    def test_theSameFileChangesNothing(self) -> None:
        text = config_text(hook("a"), "max_parallel = 2\n")
        change = compare(
            parse_config(text, "tap.cfg", {}, lambda p: b""),
            parse_config(text, "other.cfg", {}, lambda p: b""),
        )
        self.assertTrue(change.empty)
        self.assertEqual(change.summary(), "nothing changed")

    def test_daemonKeysAndWhichTakeARestart(self) -> None:
        old = parse_config(config_text(hook("a")), "tap.cfg", {}, lambda p: b"")
        new = parse_config(
            config_text(hook("a"), "max_parallel = 9\nmax_attempts = 5\n", state="/elsewhere"),
            "tap.cfg",
            {},
            lambda p: b"",
        )
        change = compare(old, new)
        self.assertEqual(
            set(change.daemon_keys), {"state_dir", "log_dir", "max_parallel", "max_attempts"}
        )
        self.assertEqual(set(change.restart_keys), {"state_dir", "log_dir", "max_attempts"})

    def test_turningTheDashboardOnOrOffTakesARestart(self) -> None:
        old = parse_config(config_text(hook("a")), "tap.cfg", {}, lambda p: b"")
        new = parse_config(
            config_text(hook("a"), "dashboard = yes\n"), "tap.cfg", {}, lambda p: b""
        )
        self.assertEqual(compare(old, new).restart_keys, ("dashboard",))

    def test_endpointsAreShownByAddressOnly(self) -> None:
        old = parse_config(config_text(hook("a")), "tap.cfg", {}, lambda p: b"")
        text = config_text(hook("a")).replace(
            "listen = tcp:0:interface=127.0.0.1",
            "listen = ssl:8443:interface=127.0.0.1:privateKey=/secret/key.pem",
        )
        change = compare(old, parse_config(text, "tap.cfg", {}, lambda p: b""))
        self.assertEqual(
            change.listen_added, ("ssl:8443:interface=127.0.0.1:privateKey=/secret/key.pem",)
        )
        self.assertEqual(
            change.summary(),
            "now listening on https://127.0.0.1:8443; no longer listening on http://127.0.0.1:0",
        )

    def test_certificatesReadAgainAreNamedEvenWhenTheFileIsTheSame(self) -> None:
        """A renewal in place: the file is as it was, and the summary says what was served."""
        text = config_text(hook("a"))
        change = compare(
            parse_config(text, "tap.cfg", {}, lambda p: b""),
            parse_config(text, "tap.cfg", {}, lambda p: b""),
        )
        until = datetime.datetime(2027, 3, 1, 12, 5, tzinfo=datetime.UTC)
        address = "https://hooks.example.org:8443"
        renewed = CertificateRead(address, 0xFDA80A1C8E7DF0, until, new=True, new_chain=True)
        self.assertEqual(
            change.summary([renewed]),
            f"certificate files read again for {address}: a new certificate"
            " (serial FDA80A1C8E7DF0, valid until 2027-03-01 12:05 UTC)",
        )
        other = CertificateRead("https://[::1]:9443", 0x1FDA, until, new=False, new_chain=False)
        chain = CertificateRead(address, 0xABC, until, new=False, new_chain=True)
        self.assertEqual(
            change.summary([other, chain]),
            "certificate files read again for https://[::1]:9443: the same certificate"
            " (serial 1FDA, valid until 2027-03-01 12:05 UTC); certificate files read again"
            f" for {address}: the same certificate, a new chain (serial 0ABC, valid until"
            " 2027-03-01 12:05 UTC)",
        )
        self.assertEqual(change.summary(), "nothing changed")
