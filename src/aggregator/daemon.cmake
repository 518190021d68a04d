# stackmon-aggregator: the daemon (docs/AGGREGATOR.md). Its parts are a
# static library private to the aggregator, so the tests link exactly the
# code the daemon runs; only main.c is the program itself. Included from
# src/aggregator/CMakeLists.txt, after the whisper and index libraries.
find_package(Threads REQUIRED)

add_library(stackmon_aggregator_core STATIC
  ${CMAKE_CURRENT_LIST_DIR}/layout.c
  ${CMAKE_CURRENT_LIST_DIR}/metric_map.c
  ${CMAKE_CURRENT_LIST_DIR}/fcache.c
  ${CMAKE_CURRENT_LIST_DIR}/datadir.c
  ${CMAKE_CURRENT_LIST_DIR}/writer.c
  ${CMAKE_CURRENT_LIST_DIR}/frame_loss.c
)
target_include_directories(stackmon_aggregator_core PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(stackmon_aggregator_core PUBLIC stackmon_whisper stackmon_index
                      stackmon_common m)

add_executable(stackmon-aggregator ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(stackmon-aggregator PRIVATE stackmon_aggregator_core Threads::Threads)

# The daemon-level benchmark (bench/aggregator/run.sh runs it).
if(EXISTS ${PROJECT_SOURCE_DIR}/bench/aggregator/agg_bench.c)
  add_executable(agg_bench ${PROJECT_SOURCE_DIR}/bench/aggregator/agg_bench.c)
  target_link_libraries(agg_bench PRIVATE stackmon_aggregator_core)
endif()
