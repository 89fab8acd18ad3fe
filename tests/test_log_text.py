"""L{hookdaemon.log_text}: twistd's text for every event, made faster for some."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.logger import LogLevel, eventAsText, formatEventAsClassicLogText
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.log_text import ClassicText, event_text

LEVELS = st.sampled_from(list(LogLevel.iterconstants()))
TEXT = st.text(max_size=60)


def events() -> st.SearchStrategy[dict[str, Any]]:
    """Events as loggers make them: one field, another format, a system or none."""
    return st.fixed_dictionaries(
        {
            "log_format": st.sampled_from(
                ["{line}", "{log_io}", "job {job} went", "{line} {job}"]
            ),
            "line": TEXT,
            "log_io": TEXT,
            "job": st.integers(),
            "log_level": LEVELS,
            "log_namespace": st.sampled_from(["hookdaemon.log_lines", "twisted.python.log"]),
            # Some within one second of each other, on both sides of a second.
            "log_time": st.one_of(
                st.floats(min_value=-1e9, max_value=4e9),
                st.sampled_from([-0.5, 0.0, 0.5, 0.999, 1.0, 1.25, 2.0]),
            ),
        },
        optional={"log_system": st.one_of(st.none(), TEXT)},
    )


class ClassicTextTests(SynchronousTestCase):
    @given(st.lists(events(), max_size=8))
    def test_theTextTwistedWrites(self, logged: list[dict[str, Any]]) -> None:
        """One formatter over a run of events, as the observer holds one: its second too."""
        text = ClassicText()
        for event in logged:
            self.assertEqual(text(event), formatEventAsClassicLogText(event))

    @given(events())
    def test_theTextJournaldIsGiven(self, event: dict[str, Any]) -> None:
        self.assertEqual(
            event_text(event), eventAsText(event, includeTimestamp=False, includeSystem=False)
        )

    def test_aFailureIsTwistedsToo(self) -> None:
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            failure = Failure()
        event = {
            "log_format": "{line}",
            "line": "job 1 crashed",
            "log_failure": failure,
            "log_level": LogLevel.critical,
            "log_namespace": "x",
            "log_time": 1.0,
        }
        shown = ClassicText()(event)
        self.assertEqual(shown, formatEventAsClassicLogText(event))
        assert shown is not None
        self.assertIn("ZeroDivisionError", shown)

    def test_withoutTextNothingIsWritten(self) -> None:
        event = {"log_format": "{line}", "line": "", "log_level": LogLevel.info, "log_time": 1.0}
        self.assertIsNone(ClassicText()(event))
