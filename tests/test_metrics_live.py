"""/metrics of a real HookService: known deliveries over HTTP, then the numbers, parsed."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from tests.support import finished, github_headers, github_push_body, post, start_daemon

SECRET = "metrics-secret"
HOOKS = """
[hook:site]
forge = github
secret = env:SITE_SECRET
workdir = .
command = echo deployed ${HOOK_AFTER}
branches = main
"""
ENVIRON = {"SITE_SECRET": SECRET, "STATUS": "let-me-see"}


async def scrape(url: str, token: str | None) -> tuple[int, bytes, bytes]:
    client = HTTPClient(Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False)))
    headers = {b"authorization": [b"Bearer " + token.encode()]} if token else {}
    response = await client.get(url + "/metrics", headers=headers)
    body = await response.content()
    return response.code, body, response.headers.getRawHeaders(b"content-type", [b""])[0]


def values(body: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


class LiveMetricsTests(TestCase):
    async def test_knownDeliveriesAreCounted(self) -> None:
        daemon = await start_daemon(
            self, HOOKS, daemon="status_token = env:STATUS\n", environ=ENVIRON
        )
        body = github_push_body()
        headers = github_headers(body, SECRET)
        code, accepted, _ = await post(daemon.hook_url("site"), body, headers)
        self.assertEqual(code, 202)
        code, _, _ = await post(daemon.hook_url("site"), body, headers)  # same delivery id
        self.assertEqual(code, 200)
        other = github_push_body(ref="refs/heads/dev")
        code, _, _ = await post(daemon.hook_url("site"), other, github_headers(other, SECRET))
        self.assertEqual(code, 200)  # ignored
        code, _, _ = await post(daemon.hook_url("site"), body, github_headers(body, "wrong"))
        self.assertEqual(code, 401)
        for name in ("nope", "wp-admin"):
            code, _, _ = await post(daemon.hook_url(name), body, headers)
            self.assertEqual(code, 404)
        await finished(daemon, accepted["job"])

        code, _, _ = await scrape(daemon.url, None)
        self.assertEqual(code, 401)
        code, text, content_type = await scrape(daemon.url, "let-me-see")
        self.assertEqual(code, 200)
        self.assertTrue(content_type.startswith(b"text/plain; version=0.0.4"), content_type)
        found = values(text)

        def delivery(hook: str, outcome: str, reason: str = "") -> float:
            labels = frozenset({"hook": hook, "outcome": outcome, "reason": reason}.items())
            return found[("hookdaemon_deliveries_total", labels)]

        self.assertEqual(delivery("site", "accepted"), 1.0)
        self.assertEqual(delivery("site", "duplicate"), 1.0)
        self.assertEqual(delivery("site", "ignored"), 1.0)
        self.assertEqual(delivery("site", "refused", "401"), 1.0)
        self.assertEqual(delivery("(unknown)", "refused", "404"), 2.0)
        site = frozenset({"hook": "site"}.items())
        succeeded = frozenset({"hook": "site", "state": "succeeded"}.items())
        self.assertEqual(found[("hookdaemon_jobs_total", succeeded)], 1.0)
        self.assertEqual(found[("hookdaemon_job_duration_seconds_count", site)], 1.0)
        self.assertEqual(found[("hookdaemon_jobs_running", site)], 0.0)
        self.assertGreaterEqual(
            found[("hookdaemon_journal_commit_seconds_count", frozenset())], 1.0
        )
        self.assertGreater(found[("hookdaemon_output_written_bytes_total", site)], 0.0)
