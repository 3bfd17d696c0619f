# Build helpers shared by every folder.

# ccache when present; CCACHE_BASEDIR and CCACHE_NOHASHDIR (the build dir is
# otherwise hashed because of -g) make hits portable across clones (CI builds
# a fresh clone); the sloppiness lets precompiled headers be cached.
find_program(SSLAB_CCACHE ccache)
if(SSLAB_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      CCACHE_NOHASHDIR=1 CCACHE_COMPRESS=1 ${SSLAB_CCACHE})
endif()

# Warnings for our code. Third-party headers come in as SYSTEM includes.
set(SSLAB_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# Applies the project's warnings and include root to a target.
function(sslab_target_defaults target)
  target_compile_options(${target} PRIVATE ${SSLAB_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

# One precompiled <torch/torch.h> shared by every torch-heavy target: compiling
# it takes ~30 s, so it is built once and reused (REUSE_FROM).
function(sslab_define_torch_pch)
  # CONFIGURE rewrites the file only when its content changes, so a
  # reconfigure does not rebuild the (minutes-long) PCH.
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/torch_pch.cc CONTENT "// PCH carrier\n")
  add_library(sslab_torch_pch STATIC ${CMAKE_BINARY_DIR}/torch_pch.cc)
  target_link_libraries(sslab_torch_pch PUBLIC ${TORCH_LIBRARIES})
  target_compile_options(sslab_torch_pch PRIVATE ${SSLAB_WARNINGS})
  target_precompile_headers(sslab_torch_pch PRIVATE <torch/torch.h>)
endfunction()

# Makes `target` reuse the shared torch PCH. The target must use the same
# compile options and definitions as sslab_torch_pch (warnings + torch).
function(sslab_use_torch_pch target)
  target_precompile_headers(${target} REUSE_FROM sslab_torch_pch)
endfunction()

# sslab_add_test(NAME name SOURCES a_test.cc ... DEPS lib ... [TORCH] [LABELS l ...])
# Builds a GoogleTest binary and registers each test case with CTest.
function(sslab_add_test)
  cmake_parse_arguments(T "TORCH" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT SSLAB_BUILD_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  sslab_target_defaults(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} sslab_common_testing
                        GTest::gmock GTest::gtest_main)
  if(T_TORCH)
    target_link_libraries(${T_NAME} PRIVATE ${TORCH_LIBRARIES})
    sslab_use_torch_pch(${T_NAME})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  # OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning,
  # which otherwise steals the CPU from parallel tests on 2 cores. (One
  # variable only: gtest_discover_tests splits a list-valued ENVIRONMENT and
  # keeps its first entry. Tests that need paths get compile definitions.)
  set(props TIMEOUT ${T_TIMEOUT} ENVIRONMENT "OMP_WAIT_POLICY=PASSIVE")
  if(T_LABELS)
    list(APPEND props LABELS "${T_LABELS}")
  endif()
  gtest_discover_tests(${T_NAME}
    DISCOVERY_MODE PRE_TEST
    # Listing a LibTorch binary's tests takes seconds (library load); the
    # default 5 s limit fails on a loaded 2-core machine.
    DISCOVERY_TIMEOUT 120
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES ${props})
endfunction()
