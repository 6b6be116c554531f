# Instrumented builds (docs/reliability.md, "Fuzzing and sanitizers"). Included from
# the top-level CMakeLists.txt before any target, so the exporter core, the binary,
# the tools and the tests are all compiled the same way. Debian's prometheus-cpp,
# yaml-cpp, spdlog and GoogleTest stay uninstrumented; that is fine for ASan/UBSan.
option(LLM_COST_EXPORTER_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(LLM_COST_EXPORTER_FUZZ "Build the libFuzzer targets in fuzz/ (clang only; implies SANITIZE)" OFF)
option(LLM_COST_EXPORTER_TSAN "Build with ThreadSanitizer (not combinable with SANITIZE or FUZZ)" OFF)

if(LLM_COST_EXPORTER_TSAN)
  if(LLM_COST_EXPORTER_SANITIZE OR LLM_COST_EXPORTER_FUZZ)
    message(FATAL_ERROR "LLM_COST_EXPORTER_TSAN cannot be combined with SANITIZE or FUZZ (ASan and TSan exclude each other)")
  endif()
  # The reload paths (SIGHUP's thread and HTTP workers) and the record stage's
  # locking, under scripts/test-sanitizers. Uninstrumented Debian libraries are
  # fine: TSan intercepts their pthread calls, it only misses their own accesses.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

if(LLM_COST_EXPORTER_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "LLM_COST_EXPORTER_FUZZ needs clang (CXX=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  set(LLM_COST_EXPORTER_SANITIZE ON)
  # Coverage feedback for libFuzzer in every object; only fuzz targets link the
  # fuzzer runtime (-fsanitize=fuzzer), which brings its own main().
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(LLM_COST_EXPORTER_SANITIZE)
  # Any report is fatal: a test run that only prints a UBSan warning must fail.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's -Wmaybe-uninitialized misfires inside <regex>/<functional> under ASan.
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()
