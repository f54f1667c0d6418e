# Generates gtgm/version_info.h with the project version and the git hash at configure time.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  OUTPUT_VARIABLE GTGM_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT GTGM_GIT_HASH)
  set(GTGM_GIT_HASH "unknown")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/version_info.h.in
  ${PROJECT_BINARY_DIR}/generated/gtgm/version_info.h @ONLY)
# Only the file that prints the version sees the generated folder: every other compile command is
# then identical across build folders, so ccache shares objects between them.
function(gtgm_version_for source)
  set_source_files_properties(${PROJECT_SOURCE_DIR}/${source} PROPERTIES
    INCLUDE_DIRECTORIES ${PROJECT_BINARY_DIR}/generated)
endfunction()
