"""
The cases of L{tests.webhook_cases} against the real webhook: each answer and
each command's receipt is what the table says, so the table is webhook's
behaviour and not only a reading of its docs.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import evolve
from twisted.trial.unittest import SynchronousTestCase

from tests import webhook_cases as cases
from tests.webhook_reference import (
    WEBHOOK,
    Case,
    Flags,
    Server,
    Workspace,
    compare_servers,
    differences,
    observe,
    start_webhook,
)


class TableGroups:
    """
    One test per group of L{tests.webhook_cases} (one server for each), for
    any server: a subclass says how a group is checked, in L{check}.
    """

    def check(self, group: Sequence[Case]) -> None:
        raise NotImplementedError

    def test_routing(self) -> None:
        self.check(cases.ROUTING)

    def test_responses(self) -> None:
        self.check(cases.RESPONSES)

    def test_methods(self) -> None:
        self.check(cases.METHODS)

    def test_global_headers_and_methods(self) -> None:
        self.check(cases.GLOBAL_FLAGS)

    def test_url_prefix(self) -> None:
        self.check(cases.URL_PREFIX)

    def test_commands(self) -> None:
        self.check(cases.COMMANDS)

    def test_arguments(self) -> None:
        self.check(cases.ARGUMENTS)

    def test_environment(self) -> None:
        self.check(cases.ENVIRONMENT)

    def test_files(self) -> None:
        self.check(cases.FILES)

    def test_rules(self) -> None:
        self.check(cases.RULES)

    def test_signatures(self) -> None:
        self.check(cases.SIGNATURES)

    def test_ip_whitelist_and_scalr(self) -> None:
        self.check(cases.IP_AND_SCALR)

    def test_bodies(self) -> None:
        self.check(cases.BODIES)


class WebhookAnswersAsTheTableSays(TableGroups, SynchronousTestCase):
    """One webhook for each group of cases (one hooks file); every mismatch listed at once."""

    if WEBHOOK is None:
        skip = "webhook (adnanh/webhook 2.8.0, the Debian package) is not installed"

    def check(self, group: Sequence[Case]) -> None:
        observed = observe(self, start_webhook, group)
        found = [line for case in group for line in differences(case, observed[case.name])]
        self.assertEqual(found, [], "\n".join(found))


class TheDifferentialTest(SynchronousTestCase):
    """L{compare_servers}, the differential test's core, with webhook on both sides."""

    if WEBHOOK is None:
        skip = "webhook (adnanh/webhook 2.8.0, the Debian package) is not installed"

    def test_webhook_against_itself_differs_nowhere(self) -> None:
        group = (*cases.ROUTING, *cases.GLOBAL_FLAGS, *cases.ENVIRONMENT, *cases.FILES)
        self.assertEqual(compare_servers(self, start_webhook, group), [])

    def test_another_answer_is_found(self) -> None:
        def other_header(test: SynchronousTestCase, workspace: Workspace, flags: Flags) -> Server:
            return start_webhook(test, workspace, evolve(flags, headers=(("X-Global", "no"),)))

        [case] = [case for case in cases.GLOBAL_FLAGS if case.name == "global_header_on_success"]
        self.assertEqual(
            compare_servers(self, other_header, [case]),
            [
                "global_header_on_success: header x-global: webhook ('yes',), other ('no',)",
                "global_header_on_success: header x-both: webhook ('global',), other None",
            ],
        )


class TheTable(SynchronousTestCase):
    def test_names_are_unique(self) -> None:
        names = [case.name for case in cases.CASES]
        self.assertEqual(sorted(names), sorted(set(names)))

    def test_hook_ids_are_unique_within_a_server(self) -> None:
        ids: dict[object, set[str]] = {}
        for case in cases.CASES:
            if case.hook is not None:
                seen = ids.setdefault(case.flags, set())
                self.assertNotIn(case.hook["id"], seen, case.name)
                seen.add(case.hook["id"])
