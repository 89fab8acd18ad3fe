"""
adnanh/webhook's hooks files served by a live hookdaemon (C{twistd -n hookdaemon
--hooks FILE}, no tap.cfg): every case of L{tests.webhook_cases} answered as
the table says, and the same requests answered as the real webhook answers them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from attrs import evolve, frozen
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.testing import TwistdDaemon
from tests import webhook_cases as cases
from tests.test_webhook_reference import TableGroups
from tests.webhook_reference import (
    WEBHOOK,
    Case,
    Flags,
    Workspace,
    compare_servers,
    differences,
    observe,
)


@frozen
class HookdaemonServer:
    """A running hookdaemon on a workspace's hooks file, as L{tests.webhook_reference} wants."""

    daemon: TwistdDaemon
    workspace: Workspace

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.daemon.port)

    @property
    def base_url(self) -> str:
        return self.daemon.url


def hookdaemon_options(workspace: Workspace, flags: Flags) -> list[str]:
    """webhook's flags as hookdaemon takes them: the same names, with two dashes."""
    options = ["--hooks", workspace.hooks]
    for name, value in flags.headers:
        options += ["--header", f"{name}={value}"]
    if flags.http_methods:
        options += ["--http-methods", flags.http_methods]
    if flags.urlprefix != "hooks":
        options += ["--urlprefix", flags.urlprefix]
    return options


def start_hookdaemon(
    test: SynchronousTestCase, workspace: Workspace, flags: Flags
) -> HookdaemonServer:
    """
    The switch a webhook user makes: the same hooks file and flags, no tap.cfg,
    run where webhook ran (state and logs under it), stopped at cleanup.
    """
    daemon = TwistdDaemon(
        os.path.join(workspace.root, "hookdaemon"),
        hooks="",
        # Where pass-file-to-command writes without a working directory, as webhook's TMPDIR.
        environ={"TMPDIR": workspace.tmp},
        cwd=workspace.root,
        options=hookdaemon_options(workspace, flags),
        tap_cfg=False,
    )
    test.addCleanup(daemon.stop)
    daemon.start()
    return HookdaemonServer(daemon, workspace)


SAME_AS_WEBHOOK = tuple(case for case in cases.CASES if case.name not in cases.DIFFERS)


class HookdaemonAnswersAsTheTableSays(TableGroups, SynchronousTestCase):
    """Each group of cases on one hookdaemon; every mismatch listed at once."""

    def check(self, group: Sequence[Case]) -> None:
        group = [case for case in group if case.name not in cases.DIFFERS]
        observed = observe(self, start_hookdaemon, group)
        found = [line for case in group for line in differences(case, observed[case.name])]
        self.assertEqual(found, [], "\n".join(found))


class HookdaemonAnswersAsWebhookDoes(SynchronousTestCase):
    """
    The differential test: the real webhook and hookdaemon on the same hooks
    file, the same requests; status, body, the headers hooks set and what the
    command received compared.
    """

    if WEBHOOK is None:
        skip = "webhook (adnanh/webhook 2.8.0, the Debian package) is not installed"

    def test_every_case_but_the_multipart_signature(self) -> None:
        found = compare_servers(self, start_hookdaemon, SAME_AS_WEBHOOK)
        self.assertEqual(found, [], "\n".join(found))


class HookdaemonChecksTheBytesItReceived(SynchronousTestCase):
    """The one case where hookdaemon means to answer otherwise than webhook."""

    def test_a_multipart_body_signed_over_the_empty_string_is_a_wrong_signature(self) -> None:
        """
        webhook checks HMAC rules of a multipart call against an empty body (it
        never reads it): hookdaemon checks the bytes it received, so that
        signature is present and wrong, webhook's own answer for one (500).
        """
        (case,) = [c for c in cases.CASES if c.name in cases.DIFFERS]
        ours = evolve(case, expect=cases.rule_error())
        observed = observe(self, start_hookdaemon, [ours])
        self.assertEqual(differences(ours, observed[ours.name]), [])
