"""
The test suite. Hypothesis runs derandomized, so every run of a commit (CI's
included) tries the same examples; C{HYPOTHESIS_PROFILE=explore} draws new
ones each run, to look for what the fixed ones miss. Neither profile judges
time: Hypothesis' deadline and its "input generation is slow" health check are
timing assertions, which fail on a loaded machine (they did, under trial -j4)
and say nothing about the code; speed is bench/'s business.
"""

import os

from hypothesis import HealthCheck, settings

untimed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fixed", untimed, derandomize=True, database=None)
settings.register_profile("explore", untimed, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))
