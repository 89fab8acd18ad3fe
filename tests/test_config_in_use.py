"""
Config values as the daemon uses them, for the cases issue 11 saw fail closed
without a word: a GitLab signing token pasted without its padding, an
IPv4-mapped allow_from range, and a shell step's quoting.
"""

from __future__ import annotations

import base64
import json
import os

from twisted.trial.unittest import SynchronousTestCase, TestCase

from hookdaemon.config import ConfigError
from hookdaemon.delivery import Incoming
from hookdaemon.intake import Accepted, Refused, client_allowed, judge
from tests.forgefixtures import fixture_body, fixture_incoming, gitlab_signed, make_hook
from tests.support import RunningDaemon, finished, post, start_daemon

KEY = base64.b64encode(bytes(range(1, 33))).decode()
"""A 32-byte key, as GitLab makes them: its base64 ends in one '='."""
SIGNING_TOKEN = f"whsec_{KEY}"
UNPADDED = SIGNING_TOKEN.rstrip("=")


def signed_push(token: str = SIGNING_TOKEN, client: str = "127.0.0.1") -> Incoming:
    """GitLab's recorded push, signed in the Standard Webhooks form with C{token}."""
    body = fixture_body("gitlab", "push.json")
    return fixture_incoming("gitlab", "push.json", gitlab_signed(token, body), client=client)


class SigningTokenWithoutPaddingTests(SynchronousTestCase):
    """A whsec_ key that lost its '=' in a paste verifies GitLab's signature."""

    def test_keyEndsInPadding(self) -> None:
        self.assertTrue(KEY.endswith("=") and not UNPADDED.endswith("="))

    def test_signedDeliveryAcceptedWithTheUnpaddedKey(self) -> None:
        for forge in ("gitlab", "auto"):
            for token in (UNPADDED, SIGNING_TOKEN):
                hook = make_hook(f"forge = {forge}\nsecret = env:GL", environ={"GL": token})
                self.assertIsInstance(judge(hook, signed_push()), Accepted, (forge, token))

    def test_anotherKeyIsStill401(self) -> None:
        other = "whsec_" + base64.b64encode(bytes(range(2, 34))).decode().rstrip("=")
        hook = make_hook("forge = gitlab\nsecret = env:GL", environ={"GL": other})
        self.assertEqual(judge(hook, signed_push()), Refused(401, "signature mismatch"))


class SigningTokenCutShortTests(SynchronousTestCase):
    """
    A token cut short in a paste is still base64, of a shorter key: it used to
    pass the config and answer 401 to every genuine delivery. Now it is refused.
    """

    def test_refusedByTheConfig(self) -> None:
        short = "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0"  # 24 bytes
        for token in (short, SIGNING_TOKEN[:-5]):
            error = self.assertRaises(
                ConfigError, make_hook, "forge = gitlab\nsecret = env:GL", {"GL": token}
            )
            [problem] = error.problems
            self.assertIn("decodes to", str(problem))
            self.assertNotIn(token[6:14], str(problem))

    def test_unpaddedSignsLikeThePaddedToken(self) -> None:
        """What a sender holding the padding-less paste signs is accepted too."""
        hook = make_hook("forge = gitlab\nsecret = env:GL", environ={"GL": SIGNING_TOKEN})
        self.assertIsInstance(judge(hook, signed_push(UNPADDED)), Accepted)


class IPv4MappedRangeTests(SynchronousTestCase):
    """allow_from = ::ffff:a.b.c.d/N admits the IPv4 clients it names."""

    def test_clientAllowed(self) -> None:
        allow = make_hook("allow_from = ::ffff:10.0.0.0/104 ::ffff:192.0.2.7").allow_from
        for client in ("10.1.2.3", "::ffff:10.1.2.3", "[::ffff:10.255.0.1]:443", "192.0.2.7"):
            self.assertTrue(client_allowed(allow, client), client)
        for client in ("11.0.0.1", "::ffff:11.0.0.1", "192.0.2.8", "::1", ""):
            self.assertFalse(client_allowed(allow, client), client)

    def test_judged(self) -> None:
        hook = make_hook(
            "forge = gitlab\nsecret = env:GL\nallow_from = ::ffff:10.0.0.0/104",
            environ={"GL": SIGNING_TOKEN},
        )
        self.assertIsInstance(judge(hook, signed_push(client="::ffff:10.0.0.9")), Accepted)
        self.assertIsInstance(judge(hook, signed_push(client="10.0.0.9")), Accepted)
        self.assertEqual(
            judge(hook, signed_push(client="11.0.0.9")), Refused(403, "client address not allowed")
        )


PUSH = {"ref": "refs/heads/main", "before": "0" * 40, "after": "1" * 40}


class LiveTests(TestCase):
    def workdir_with_files(self) -> str:
        """A workdir holding a.txt and b.txt, for a * that sh expands to show."""
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        for name in ("a.txt", "b.txt"):
            open(os.path.join(workdir, name), "w").close()
        return workdir

    async def run_for_pusher(self, daemon: RunningDaemon, pusher: str) -> None:
        """Post a push by C{pusher} to hook site and wait for its job to succeed."""
        body = json.dumps({**PUSH, "pusher": pusher}).encode()
        code, answer, _ = await post(
            daemon.hook_url("site"), body, {"Content-Type": "application/json"}
        )
        self.assertEqual(code, 202, answer)
        self.assertEqual((await finished(daemon, answer["job"])).state, "succeeded")

    async def test_IPv4MappedAllowFromAdmitsLoopback(self) -> None:
        """As issue 11 saw it: a request from 127.0.0.1 to ::ffff:127.0.0.1/104 got 403."""
        daemon = await start_daemon(
            self,
            "[hook:site]\nallow_from = ::ffff:127.0.0.1/104\nworkdir = .\ncommand = true\n",
        )
        code, answer, _ = await post(
            daemon.hook_url("site"),
            json.dumps(PUSH).encode(),
            {"Content-Type": "application/json"},
        )
        self.assertEqual((code, answer["status"]), (202, "queued"), answer)
        self.assertEqual((await finished(daemon, answer["job"])).state, "succeeded")

    async def test_quotedPusherIsPrintedAsItIs(self) -> None:
        """
        shell = yes: "$HOOK_PUSHER" is one word, so 'Eve * Mallory' prints as
        sent in a workdir with files; the unquoted step, warned about, shows why.
        """
        workdir = self.workdir_with_files()
        daemon = await start_daemon(
            self,
            "[hook:site]\nallow_from = 127.0.0.1\nshell = yes\n"
            f"workdir = {workdir}\n"
            "command =\n"
            "    printf 'quoted <%s>\\n' \"$HOOK_PUSHER\"\n"
            "    printf 'unquoted <%s>\\n' $HOOK_PUSHER\n",
        )
        self.assertEqual(
            [str(warning).split(": ", 1)[1] for warning in daemon.service.config.warnings],
            [
                "[hook:site] command: step 2 (line 12) leaves $HOOK_PUSHER unquoted, so sh "
                "splits its value into words and expands * and ? in it to file names; write "
                '"$HOOK_PUSHER" in double quotes'
            ],
        )
        await self.run_for_pusher(daemon, "Eve * Mallory")
        log = daemon.log_text("site")
        self.assertIn("stdout quoted <Eve * Mallory>\n", log)
        unquoted = [
            line.split("stdout ", 1)[1] for line in log.splitlines() if " stdout unquoted" in line
        ]
        self.assertEqual(
            unquoted,
            ["unquoted <Eve>", "unquoted <a.txt>", "unquoted <b.txt>", "unquoted <Mallory>"],
        )

    async def test_substitutionAndEvalAreWarnedAndAssignmentIsNot(self) -> None:
        """
        As the review saw it, pusher 'Eve * Mallory': a $(...) or backquotes in
        double quotes, and eval, printed the workdir's files; all three are warned
        about now, and the assignment, which sh never splits, prints as sent.
        """
        workdir = self.workdir_with_files()
        daemon = await start_daemon(
            self,
            "[hook:site]\nallow_from = 127.0.0.1\nshell = yes\n"
            f"workdir = {workdir}\n"
            "command =\n"
            "    echo \"substituted $(printf '%s|' $HOOK_PUSHER)\"\n"
            "    echo \"backquoted `printf '%s|' $HOOK_PUSHER`\"\n"
            '    eval "echo evaluated $HOOK_PUSHER"\n'
            '    A=$HOOK_PUSHER; echo "assigned $A"\n',
        )
        warned = [str(warning).split(": ", 2)[2] for warning in daemon.service.config.warnings]
        self.assertEqual([text.split(" ", 2)[1] for text in warned], ["1", "2", "3"], warned)
        self.assertIn("gives $HOOK_PUSHER to eval", warned[2])
        await self.run_for_pusher(daemon, "Eve * Mallory")
        printed = [
            line.split("stdout ", 1)[1]
            for line in daemon.log_text("site").splitlines()
            if " stdout " in line
        ]
        self.assertEqual(
            printed,
            [
                "substituted Eve|a.txt|b.txt|Mallory|",
                "backquoted Eve|a.txt|b.txt|Mallory|",
                "evaluated Eve a.txt b.txt Mallory",
                "assigned Eve * Mallory",
            ],
        )
