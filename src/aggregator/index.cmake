# stackmon_index: the aggregator's sqlite3 index (docs/INDEX.md). A static
# library of its own so the aggregator writes it and the dashboard reads it
# (read-only) with the same code. Included from src/aggregator/CMakeLists.txt.
add_library(stackmon_index STATIC
  ${CMAKE_CURRENT_LIST_DIR}/index.c
  ${CMAKE_CURRENT_LIST_DIR}/index_schema.c
)
target_include_directories(stackmon_index PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(stackmon_index PUBLIC stackmon_common PkgConfig::SQLITE3 m)

# Benchmark of the hot path (bench/aggregator/index_bench.sh runs it).
if(EXISTS ${PROJECT_SOURCE_DIR}/bench/aggregator/index_bench.c)
  find_package(Threads REQUIRED)
  add_executable(index_bench ${PROJECT_SOURCE_DIR}/bench/aggregator/index_bench.c)
  target_link_libraries(index_bench PRIVATE stackmon_index Threads::Threads)
endif()
