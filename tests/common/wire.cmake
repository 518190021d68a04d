# Wire protocol: unit tests, and the Python reference subscriber decoding a
# real C publisher (docs/examples/subscriber.py).
sm_add_unit_test(test_wire SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_wire.c LABELS wire)
# The bounded msgpack reader under the decoder, on hostile bytes.
sm_add_unit_test(test_mpread SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_mpread.c LABELS wire)
# Exact bytes and JSON of a representative message of every kind.
sm_add_unit_test(test_wire_golden SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_wire_golden.c
  LABELS wire)

add_executable(wire_publisher ${CMAKE_CURRENT_LIST_DIR}/wire_publisher.c)
target_link_libraries(wire_publisher PRIVATE stackmon_common)
add_test(NAME protocol_python_subscriber
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/protocol_python_subscriber.sh
          $<TARGET_FILE:wire_publisher> ${PROJECT_SOURCE_DIR}/docs/examples/subscriber.py)
set_tests_properties(protocol_python_subscriber PROPERTIES LABELS "integration;wire" TIMEOUT 60)

# The fuzz target's properties, replayed over the seed corpus and every
# input that ever crashed it (fuzz/regressions), in every build.
sm_add_fuzz_replay(wire SOURCE fuzz/fuzz_wire_decode.c LIBS stackmon_common LABELS wire)
# Brief records: encoder, decoder and the receiver's expansion (sm_brief).
sm_add_unit_test(test_sm_brief SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_brief.c LABELS wire)
