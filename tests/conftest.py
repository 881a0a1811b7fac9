"""Root test configuration. Kept free of application imports so that the pure rules tests
(tests/rules) run even when the service layer does not import.

Hypothesis: no per-example deadline (speed is measured by ``bench/``, not by wall-clock
limits on a shared machine), and under CI (``CI=true``, as ``.ci/run`` sets) the examples
are derived from each test, so a red build always reproduces; local runs explore anew.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "screening",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],  # a wall-clock check as well
    derandomize=os.environ.get("CI") == "true",
    print_blob=True,
)
settings.load_profile("screening")
