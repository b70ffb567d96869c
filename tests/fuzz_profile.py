"""Hypothesis settings of the suite: few cases by default, 1000 per entry with MOLMTD_FUZZ=full."""

import os

# Hypothesis: the default run tries a few cases per fuzzed entry; MOLMTD_FUZZ=full runs
# >= 1000 per entry (tests/test_fuzz.py reads FUZZ_EXAMPLES). No example database is
# written (the repository stays clean), and examples are derandomised in the default run
# so that it is reproducible.
try:
    from hypothesis import HealthCheck, settings

    FUZZ_FULL = os.environ.get("MOLMTD_FUZZ", "") == "full"
    # cases per cheap entry; MOLMTD_FUZZ_EXAMPLES=N overrides (e.g. a quicker partial run)
    FUZZ_EXAMPLES = int(os.environ.get("MOLMTD_FUZZ_EXAMPLES", 1000 if FUZZ_FULL else 10))
    _slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large,
                HealthCheck.function_scoped_fixture]
    settings.register_profile("molmtd-default", max_examples=10, deadline=None, database=None,
                              derandomize=True, suppress_health_check=_slow_ok,
                              print_blob=True)
    settings.register_profile("molmtd-full", max_examples=1000, deadline=None, database=None,
                              suppress_health_check=_slow_ok, print_blob=True)
    settings.load_profile("molmtd-full" if FUZZ_FULL else "molmtd-default")
except ImportError:  # hypothesis is a dev dependency; test_fuzz.py skips without it
    FUZZ_FULL, FUZZ_EXAMPLES = False, 0
