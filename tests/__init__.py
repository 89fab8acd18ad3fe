"""
The test suite. Hypothesis runs derandomized, so every run of a commit (CI's
included) tries the same examples; C{HYPOTHESIS_PROFILE=explore} draws new
ones each run, to look for what the fixed ones miss.
"""

import os

from hypothesis import settings

settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))
