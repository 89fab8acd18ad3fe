"""
L{hookdaemon.delivery}'s field list: where each field's value goes is said once,
beside the field, and the lists the rest of the daemon derives from it hold.
"""

from __future__ import annotations

from attrs import NOTHING, fields
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import (
    CARRIED,
    JOURNALED_FIELDS,
    SHOWN_FIELDS,
    VARIABLE_FIELDS,
    Delivery,
)


class CarriedTests(SynchronousTestCase):
    def test_everyFieldSaysWhereItGoes(self) -> None:
        """Every field is in L{CARRIED}, in order (one without its L{Carried} does not import)."""
        self.assertEqual(
            [name for name, _ in CARRIED], [attribute.name for attribute in fields(Delivery)]
        )

    def test_variablesAreTextUnderNamesOfTheirOwn(self) -> None:
        """An environment holds text: a field a step sees is a str, under one HOOK_ name."""
        by_name = {attribute.name: attribute for attribute in fields(Delivery)}
        variables = [variable for variable, _ in VARIABLE_FIELDS]
        self.assertEqual(len(set(variables)), len(variables))
        for variable, name in VARIABLE_FIELDS:
            self.assertTrue(variable.startswith("HOOK_"), variable)
            default = by_name[name].default
            self.assertTrue(default is NOTHING or isinstance(default, str), name)

    def test_whatGoesWhere(self) -> None:
        """
        The contract as DESIGN.md, README and the journal's schema write it out: a
        field added to one of these lists must be added to them as well.
        """
        self.assertEqual(
            VARIABLE_FIELDS,
            (
                ("HOOK_FORGE", "forge"),
                ("HOOK_EVENT", "event"),
                ("HOOK_DELIVERY", "delivery_id"),
                ("HOOK_REF", "ref"),
                ("HOOK_BRANCH", "branch"),
                ("HOOK_TAG", "tag"),
                ("HOOK_BEFORE", "before"),
                ("HOOK_AFTER", "after"),
                ("HOOK_REPOSITORY", "repository"),
                ("HOOK_CLONE_URL", "clone_url"),
                ("HOOK_PUSHER", "pusher"),
            ),
        )
        self.assertEqual(
            set(name for name, _ in CARRIED) - set(JOURNALED_FIELDS),
            {"changes", "changed_nothing"},
        )
        self.assertEqual(
            SHOWN_FIELDS,
            (
                ("forge", "forge"),
                ("event", "event"),
                ("id", "delivery_id"),
                ("ref", "ref"),
                ("branch", "branch"),
                ("tag", "tag"),
                ("before", "before"),
                ("after", "after"),
                ("repository", "repository"),
                ("pusher", "pusher"),
            ),
        )

    def test_changesAreNeverCarriedOnTheirOwn(self) -> None:
        """A push's changes are chosen from by filters; the one chosen is what goes on."""
        carried = dict(CARRIED)
        for name in ("changes", "changed_nothing"):
            self.assertEqual(
                (carried[name].variable, carried[name].journaled, carried[name].shown_as),
                (None, False, None),
                name,
            )
