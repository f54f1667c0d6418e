# Generates gtgm/version_info.h with the project version and the git hash at configure time.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  OUTPUT_VARIABLE GTGM_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT GTGM_GIT_HASH)
  set(GTGM_GIT_HASH "unknown")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/version_info.h.in
  ${PROJECT_BINARY_DIR}/generated/gtgm/version_info.h @ONLY)
add_library(gtgm_version INTERFACE)
target_include_directories(gtgm_version INTERFACE ${PROJECT_BINARY_DIR}/generated)
