# Tests of the aggregator's sqlite index (label "index"): one cmocka
# executable on real sqlite files in a temp dir. Included from
# tests/aggregator/CMakeLists.txt.
sm_add_unit_test(test_index SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_index.c
                 LIBS stackmon_index LABELS index)
set_tests_properties(test_index PROPERTIES TIMEOUT 300)
