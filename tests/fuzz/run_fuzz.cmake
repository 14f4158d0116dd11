# Builds one libFuzzer target with clang in BUILD_DIR and fuzzes it for SECONDS seconds over a
# seed corpus (generated small inputs, the bundled example models and tests/fuzz/regressions).
#
# libFuzzer runs in fork mode and keeps going after a crash, hang or out-of-memory, saving each
# as an artifact. Every artifact is then replayed and classified by the first stack frame that
# is not the sanitizer, libFuzzer or the C/C++ runtime:
#   - inside libhdf5 itself: a known library bug (BitLens reads HDF5 in an isolated reader
#     process for exactly this reason); copied to BUILD_DIR/known-libhdf5/ and reported;
#   - anywhere else (BitLens code): the test fails and names the artifact;
#   - a hang whose stack sample is outside libhdf5 is replayed with 10 s: if it then finishes it
#     was a slow input, not a hang; an artifact that does not fail alone is listed, not failed.
# -DCLASSIFY_ONLY=ON classifies what an earlier (long) run left in BUILD_DIR.
# Usage: cmake -DSOURCE_DIR= -DBUILD_DIR= -DFUZZ_TARGET= -DMODELS_DIR= -DCLANG= -DCLANGXX= -DSECONDS= -P run_fuzz.cmake
foreach(v SOURCE_DIR BUILD_DIR FUZZ_TARGET MODELS_DIR CLANG CLANGXX SECONDS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzz.cmake: ${v} is not set")
  endif()
endforeach()

# -DCLASSIFY_ONLY=ON: only classify the artifacts a previous (long) run left in BUILD_DIR.
if(NOT CLASSIFY_ONLY)
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BUILD_DIR} -G Ninja
          -DCMAKE_C_COMPILER=${CLANG} -DCMAKE_CXX_COMPILER=${CLANGXX}
          -DCMAKE_BUILD_TYPE=RelWithDebInfo
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the fuzz build failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} -j2 --target ${FUZZ_TARGET} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building ${FUZZ_TARGET} failed")
endif()

endif()
set(fuzzer ${BUILD_DIR}/${FUZZ_TARGET})
set(corpus ${BUILD_DIR}/corpus-${FUZZ_TARGET})
set(artifacts ${BUILD_DIR}/artifacts-${FUZZ_TARGET})

# Classifying a failure needs symbolized stacks (function names of the fuzz binary's own frames).
find_program(SYMBOLIZER NAMES llvm-symbolizer llvm-symbolizer-14 PATHS /usr/lib/llvm-14/bin)
if(NOT SYMBOLIZER)
  message(FATAL_ERROR "llvm-symbolizer not found: install llvm-14 (packaging/deps.sh does); without it "
                      "fuzzer stacks cannot be told apart")
endif()
set(ENV{ASAN_SYMBOLIZER_PATH} ${SYMBOLIZER})
set(ENV{ASAN_OPTIONS} "detect_leaks=1:allocator_may_return_null=1")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")

if(NOT CLASSIFY_ONLY)
file(REMOVE_RECURSE ${corpus} ${artifacts})
file(MAKE_DIRECTORY ${corpus} ${artifacts})
set(ENV{BITLENS_FUZZ_WRITE_SEEDS} ${corpus})
execute_process(COMMAND ${fuzzer} RESULT_VARIABLE rc)
unset(ENV{BITLENS_FUZZ_WRITE_SEEDS})
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "writing the seed corpus failed")
endif()
if(FUZZ_TARGET STREQUAL "bitlens_model_fuzz")
  file(GLOB seeds ${MODELS_DIR}/*.h5 ${MODELS_DIR}/*.keras ${SOURCE_DIR}/regressions/*.h5 ${SOURCE_DIR}/regressions/*.keras
       ${SOURCE_DIR}/../data/*.h5)
  foreach(s ${seeds})
    file(COPY ${s} DESTINATION ${corpus})
  endforeach()
endif()

execute_process(
  COMMAND ${fuzzer} -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1
          -max_total_time=${SECONDS} -timeout=3 -rss_limit_mb=4096 -malloc_limit_mb=4096
          -max_len=262144 -print_final_stats=1 -artifact_prefix=${artifacts}/ ${corpus}
  RESULT_VARIABLE rc OUTPUT_VARIABLE log ERROR_VARIABLE log)
string(REGEX MATCHALL "stat::number_of_executed_units: [0-9]+|#[0-9]+: cov: [0-9]+ ft: [0-9]+" stats "${log}")
list(LENGTH stats nstats)
if(nstats GREATER 0)
  list(GET stats -1 last)
  message(STATUS "${FUZZ_TARGET}: ${last}")
endif()
endif()

# Replays one artifact and returns in `where_var` "libhdf5" or the first frame in other code.
# The sanitizers' libc interceptors (malloc, strdup, memcpy, ...) live in the fuzz binary but
# only report the access: the frame that counts is their caller (libhdf5's H5MM_strdup reading
# a damaged attribute name is libhdf5's, not BitLens').
function(classify artifact seconds where_var report_var)
  execute_process(COMMAND ${fuzzer} -timeout=${seconds} -rss_limit_mb=4096 -malloc_limit_mb=4096 ${artifact}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 300)
  # An out-of-memory from the RSS watcher prints libFuzzer's own stack, not the allocation's (a
  # damaged vlen string made libhdf5 malloc 4,095.9 MB, just under the 4,096 MB single-malloc
  # limit): replay with a lower limit so the allocation that grows memory reports its caller.
  if(out MATCHES "out-of-memory \\(used:")
    execute_process(COMMAND ${fuzzer} -timeout=${seconds} -rss_limit_mb=4096 -malloc_limit_mb=1024 ${artifact}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 300)
  endif()
  # Symbolized ("#3 0x.. in H5HG_read (/lib/.../libhdf5_serial.so.103+0x..)") or not
  # ("#1 0x..  (/lib/.../libhdf5_serial.so.103+0x..)"): a library frame names its module.
  string(REGEX MATCHALL "#[0-9]+ 0x[0-9a-f]+ [^\n]*" frames "${out}")
  set(where "")
  foreach(f ${frames})
    if(f MATCHES "__interceptor_|__asan_|__asan::|__ubsan_|__lsan_|__sanitizer_|compiler-rt|sanitizer|libFuzzer|fuzzer::| in operator (new|delete)|/libc\\.so|libc\\.so\\.6|sysdeps/|libstdc\\+\\+|libgcc|__cxa_|__gxx_|std::terminate|__GI_|abort|raise|/nptl/|LLVMFuzzerTestOneInput| in (malloc|calloc|realloc|free|posix_memalign|aligned_alloc|operator new|operator delete|strdup|strndup|strlen|strnlen|strcpy|strncpy|strcat|strncat|strcmp|strncmp|strchr|strrchr|memcpy|memmove|memset|memcmp|memchr) ")
      continue()
    endif()
    if(f MATCHES "libhdf5|in H5[A-Za-z0-9_]+ ")
      set(where "libhdf5")
    else()
      set(where "${f}")
    endif()
    break()
  endforeach()
  if(where STREQUAL "" AND rc EQUAL 0)
    set(where "does not reproduce")
  elseif(where STREQUAL "")
    set(where "no stack (exit ${rc})")
  endif()
  string(REGEX MATCH "ERROR: [^\n]*|SUMMARY: [^\n]*" first "${out}")
  set(${where_var} "${where}" PARENT_SCOPE)
  set(${report_var} "${first}" PARENT_SCOPE)
endfunction()

file(GLOB found ${artifacts}/crash-* ${artifacts}/timeout-* ${artifacts}/oom-* ${artifacts}/leak-* ${artifacts}/slow-unit-*)
set(known 0)
set(bugs "")
foreach(a ${found})
  classify(${a} 3 where report)
  # One stack sample of a slow input can land anywhere: a "hang" outside libhdf5 counts only
  # if it still does not finish with 10 s.
  if(a MATCHES "/(timeout|slow-unit)-" AND NOT where STREQUAL "libhdf5")
    classify(${a} 10 where report)
  endif()
  if(where STREQUAL "libhdf5")
    math(EXPR known "${known} + 1")
    file(COPY ${a} DESTINATION ${BUILD_DIR}/known-libhdf5)
    message(STATUS "known libhdf5 failure (not BitLens): ${a}: ${report}")
  elseif(where STREQUAL "does not reproduce")
    # In-process libhdf5 keeps state across inputs, and a fork-mode child reports leaks and
    # slowness at its end: an artifact that passes alone cannot be attributed; listed, kept.
    message(STATUS "did not reproduce alone (depends on earlier inputs or load): ${a}: ${report}")
  else()
    list(APPEND bugs "${a}: ${report} at ${where}")
  endif()
endforeach()
if(bugs)
  string(REPLACE ";" "\n  " text "${bugs}")
  message(FATAL_ERROR "${FUZZ_TARGET} found failures in BitLens code:\n  ${text}")
endif()
if(NOT CLASSIFY_ONLY AND NOT rc EQUAL 0 AND NOT found)
  string(LENGTH "${log}" n)
  math(EXPR start "${n} - 3000")
  if(start LESS 0)
    set(start 0)
  endif()
  string(SUBSTRING "${log}" ${start} -1 tail)
  message(FATAL_ERROR "${FUZZ_TARGET} stopped with exit ${rc} and no artifact:\n${tail}")
endif()
message(STATUS "${FUZZ_TARGET}: ${SECONDS} s, no failure in BitLens code (${known} known libhdf5 failure(s))")
