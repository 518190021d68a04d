# Tests of stackmon-aggregator (label "aggregator"): unit tests of its parts
# (names and paths, the metric mapping, the file cache, the writer on real
# files and a real index), the test publisher the scenarios drive it with,
# and the end-to-end scenarios tests/e2e/aggregator_*.sh (real sockets,
# real collector and monitor where they matter, python3-whisper and sqlite3
# to read what it wrote). Included from tests/aggregator/CMakeLists.txt.
sm_add_unit_test(test_agg_layout SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_agg_layout.c
                 LIBS stackmon_aggregator_core LABELS aggregator)
sm_add_unit_test(test_fcache SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fcache.c
                 LIBS stackmon_aggregator_core LABELS aggregator)
sm_add_unit_test(test_frame_loss SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_frame_loss.c
                 LIBS stackmon_aggregator_core LABELS aggregator)
sm_add_unit_test(test_writer SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_writer.c
                 LIBS stackmon_aggregator_core LABELS aggregator)
set_tests_properties(test_writer PROPERTIES TIMEOUT 300)

add_executable(agg_testpub ${CMAKE_CURRENT_LIST_DIR}/agg_testpub.c)
target_link_libraries(agg_testpub PRIVATE stackmon_common)

file(GLOB aggregator_e2e CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/e2e/aggregator_*.sh)
foreach(script ${aggregator_e2e})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME ${name}
    COMMAND ${script} $<TARGET_FILE:stackmon-aggregator> $<TARGET_FILE:agg_testpub>
            $<TARGET_FILE:stackmon-collector> $<TARGET_FILE:stackmon-monitor>)
  set_tests_properties(${name} PROPERTIES LABELS "e2e;aggregator" TIMEOUT 300
    SKIP_RETURN_CODE 77
    ENVIRONMENT "STACKMON_BINARY_DIR=${PROJECT_BINARY_DIR};STACKMON_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endforeach()
