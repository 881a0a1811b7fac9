"""Root test configuration. Kept free of application imports so that the pure rules tests
(tests/rules) run even when the service layer does not import.

Hypothesis: no per-example deadline (speed is measured by ``bench/``, not by wall-clock
limits on a shared machine), and under CI (``CI`` set, as ``.ci/run`` does) the examples
are derived from each test, so a red build always reproduces; local runs explore anew.
"""

import os

from hypothesis import settings

settings.register_profile("screening", deadline=None, derandomize=bool(os.environ.get("CI")),
                          print_blob=True)
settings.load_profile("screening")
