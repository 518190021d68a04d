# sm_upstream: fail-over between collectors, with real ipc:// sockets.
sm_add_unit_test(test_upstream SOURCES test_upstream.c LABELS "common;collector")
set_tests_properties(test_upstream PROPERTIES TIMEOUT 120)
