# Builds the loader fuzzer with clang in BUILD_DIR and runs it for SECONDS seconds over a seed
# corpus (generated small models + the bundled example models). Fails on any crash.
foreach(v SOURCE_DIR BUILD_DIR MODELS_DIR CLANG CLANGXX SECONDS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzz.cmake: ${v} is not set")
  endif()
endforeach()

execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BUILD_DIR} -G Ninja
          -DCMAKE_C_COMPILER=${CLANG} -DCMAKE_CXX_COMPILER=${CLANGXX}
          -DCMAKE_BUILD_TYPE=RelWithDebInfo
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the fuzz build failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} -j2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the fuzz target failed")
endif()

set(corpus ${BUILD_DIR}/corpus)
file(REMOVE_RECURSE ${corpus})
file(MAKE_DIRECTORY ${corpus})
set(ENV{BITLENS_FUZZ_WRITE_SEEDS} ${corpus})
execute_process(COMMAND ${BUILD_DIR}/bitlens_loader_fuzz RESULT_VARIABLE rc)
unset(ENV{BITLENS_FUZZ_WRITE_SEEDS})
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "writing the seed corpus failed")
endif()
foreach(m forum_1layer_pad0.h5 forum_2layer_padp1.h5)
  if(EXISTS ${MODELS_DIR}/${m})
    file(COPY ${MODELS_DIR}/${m} DESTINATION ${corpus})
  endif()
endforeach()

set(ENV{ASAN_OPTIONS} "detect_leaks=1:allocator_may_return_null=1")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
execute_process(
  COMMAND ${BUILD_DIR}/bitlens_loader_fuzz -max_total_time=${SECONDS} -timeout=90
          -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1
          -artifact_prefix=${BUILD_DIR}/ ${corpus}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the loader fuzzer found a crash (exit ${rc}); see the artifact in ${BUILD_DIR}")
endif()
message(STATUS "loader fuzzer: ${SECONDS} s without a crash")
