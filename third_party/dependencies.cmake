# Dependency glue. Packages come from the system (Debian) or CMAKE_PREFIX_PATH; for the small
# libraries a pinned FetchContent fallback is used when no package is found (never vendored).
# Each dependency is exposed as an INTERFACE target <name>_deps so areas link one name.
include(FetchContent)
find_package(Threads REQUIRED)

# ---- LibTorch (required; point CMAKE_PREFIX_PATH at a CUDA LibTorch 2.x on clusters) ----
find_package(Torch REQUIRED)
# LibTorch 2.14+ headers stop with "#error C++20 or later compatible compiler is required"; older
# ones build as C++17 (the top-level default). Decide from the headers themselves, so a new
# LibTorch needs no edit here (scripts/check_torch2.py makes the same choice).
foreach(_d ${TORCH_INCLUDE_DIRS})
  if(EXISTS "${_d}/torch/csrc/api/include/torch/all.h")
    file(STRINGS "${_d}/torch/csrc/api/include/torch/all.h" _gtgm_cxx20 REGEX "C\\+\\+20 or later")
    if(_gtgm_cxx20 AND CMAKE_CXX_STANDARD LESS 20)
      set(CMAKE_CXX_STANDARD 20)
    endif()
    break()
  endif()
endforeach()
add_library(torch_deps INTERFACE)
target_link_libraries(torch_deps INTERFACE ${TORCH_LIBRARIES})
separate_arguments(_gtgm_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(torch_deps INTERFACE ${_gtgm_torch_flags})
# c10d (distributed) headers and libraries: Debian splits them, PyTorch wheels keep them in libtorch.
# Gloo needs its own headers too (gloo/algorithm.h): PyTorch wheels do not ship them, so a CUDA
# wheel build uses NCCL only. GTGM_HAVE_GLOO is what gtgm code tests (torch's targets may define
# USE_C10D_GLOO even when the gloo headers are missing).
find_path(GTGM_C10D_INCLUDE torch/csrc/distributed/c10d/ProcessGroupGloo.hpp
  HINTS ${TORCH_INCLUDE_DIRS} /usr/include)
find_path(GTGM_GLOO_INCLUDE gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS} /usr/include)
set(GTGM_HAVE_GLOO OFF)
if(GTGM_C10D_INCLUDE AND GTGM_GLOO_INCLUDE)
  set(GTGM_HAVE_GLOO ON)
  target_compile_definitions(torch_deps INTERFACE USE_C10D_GLOO=1 GTGM_HAVE_GLOO=1)
  find_library(GTGM_GLOO_LIB gloo)
  if(GTGM_GLOO_LIB)
    target_link_libraries(torch_deps INTERFACE ${GTGM_GLOO_LIB})
  endif()
endif()
# NCCL: detected from the LibTorch build (a CUDA build ships ProcessGroupNCCL).
set(GTGM_HAVE_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES OR CUDA_FOUND)
  set(GTGM_HAVE_CUDA ON)
endif()
set(GTGM_HAVE_NCCL OFF)
find_path(GTGM_NCCL_HEADER torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp
  HINTS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH)
if(GTGM_HAVE_CUDA AND GTGM_NCCL_HEADER)
  # ProcessGroupNCCL.hpp includes <nccl.h>: a PyTorch wheel keeps it in the nvidia-nccl package
  # beside torch (site-packages/nvidia/*/include), not in torch/include.
  file(GLOB _gtgm_nccl_hints "${TORCH_INSTALL_PREFIX}/../nvidia/*/include" "${TORCH_INSTALL_PREFIX}/../nvidia/*/*/include")
  find_path(GTGM_NCCL_INCLUDE nccl.h HINTS ${TORCH_INCLUDE_DIRS} ${_gtgm_nccl_hints} ENV NCCL_ROOT PATH_SUFFIXES include)
  if(GTGM_NCCL_INCLUDE)
    set(GTGM_HAVE_NCCL ON)
    target_include_directories(torch_deps SYSTEM INTERFACE ${GTGM_NCCL_INCLUDE})
    get_filename_component(_gtgm_nccl_root "${GTGM_NCCL_INCLUDE}" DIRECTORY)
    find_library(GTGM_NCCL_LIB NAMES nccl libnccl.so.2 HINTS "${_gtgm_nccl_root}/lib")
    if(GTGM_NCCL_LIB)
      target_link_libraries(torch_deps INTERFACE ${GTGM_NCCL_LIB})
    endif()
    target_compile_definitions(torch_deps INTERFACE USE_C10D_NCCL=1 GTGM_HAVE_NCCL=1)
  else()
    message(WARNING "gtgm: LibTorch has ProcessGroupNCCL but nccl.h was not found (set NCCL_ROOT); building without NCCL")
  endif()
endif()
if(GTGM_HAVE_CUDA)
  target_compile_definitions(torch_deps INTERFACE GTGM_HAVE_CUDA=1)
endif()
message(STATUS "gtgm: LibTorch ${Torch_VERSION} C++${CMAKE_CXX_STANDARD} cuda=${GTGM_HAVE_CUDA} nccl=${GTGM_HAVE_NCCL} gloo=${GTGM_HAVE_GLOO}")

# ---- fmt + spdlog ----
find_package(fmt QUIET)
find_package(spdlog QUIET)
if(NOT spdlog_FOUND)
  FetchContent_Declare(fmt GIT_REPOSITORY https://github.com/fmtlib/fmt.git
    GIT_TAG 9.1.0 GIT_SHALLOW TRUE)
  set(SPDLOG_FMT_EXTERNAL ON CACHE BOOL "" FORCE)
  FetchContent_Declare(spdlog GIT_REPOSITORY https://github.com/gabime/spdlog.git
    GIT_TAG v1.10.0 GIT_SHALLOW TRUE)
  FetchContent_MakeAvailable(fmt spdlog)
endif()
add_library(spdlog_deps INTERFACE)
target_link_libraries(spdlog_deps INTERFACE spdlog::spdlog fmt::fmt)
# PyTorch wheels bundle their own (newer) fmt headers in torch/include. spdlog must see the fmt it
# was built against, so that fmt's folder goes first as a plain -I (searched before -isystem).
foreach(_d ${TORCH_INCLUDE_DIRS})
  if(EXISTS "${_d}/fmt/core.h" AND TARGET fmt::fmt)
    get_target_property(_gtgm_fmt_inc fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
    if(_gtgm_fmt_inc AND NOT _gtgm_fmt_inc STREQUAL "/usr/include" AND NOT _gtgm_fmt_inc STREQUAL _d)
      target_include_directories(spdlog_deps INTERFACE ${_gtgm_fmt_inc})
      message(STATUS "gtgm: LibTorch bundles fmt in ${_d}; using ${_gtgm_fmt_inc} first for spdlog")
    endif()
    break()
  endif()
endforeach()

# ---- yaml-cpp (yaml-cpp 0.7's target is `yaml-cpp`) ----
find_package(yaml-cpp QUIET)
if(NOT yaml-cpp_FOUND)
  set(YAML_CPP_BUILD_TESTS OFF CACHE BOOL "" FORCE)
  set(YAML_CPP_BUILD_TOOLS OFF CACHE BOOL "" FORCE)
  FetchContent_Declare(yaml-cpp GIT_REPOSITORY https://github.com/jbeder/yaml-cpp.git
    GIT_TAG yaml-cpp-0.7.0 GIT_SHALLOW TRUE)
  FetchContent_MakeAvailable(yaml-cpp)
endif()
if(NOT TARGET yaml-cpp AND TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp ALIAS yaml-cpp::yaml-cpp)
endif()

# ---- CLI11 (header only) ----
find_package(CLI11 QUIET)
if(NOT CLI11_FOUND)
  FetchContent_Declare(CLI11 GIT_REPOSITORY https://github.com/CLIUtils/CLI11.git
    GIT_TAG v2.3.1 GIT_SHALLOW TRUE)
  FetchContent_MakeAvailable(CLI11)
endif()
add_library(CLI11_deps INTERFACE)
target_link_libraries(CLI11_deps INTERFACE CLI11::CLI11)

# ---- nlohmann_json (header only) ----
find_package(nlohmann_json QUIET)
if(NOT nlohmann_json_FOUND)
  FetchContent_Declare(json GIT_REPOSITORY https://github.com/nlohmann/json.git
    GIT_TAG v3.11.2 GIT_SHALLOW TRUE)
  FetchContent_MakeAvailable(json)
endif()
add_library(json_deps INTERFACE)
target_link_libraries(json_deps INTERFACE nlohmann_json::nlohmann_json)

# ---- zlib (built-in NIfTI .nii.gz I/O, PNG) ----
find_package(ZLIB REQUIRED)
add_library(zlib_deps INTERFACE)
target_link_libraries(zlib_deps INTERFACE ZLIB::ZLIB)

# ---- libcrypto (OpenSSL; SHA-256 of checkpoint files) ----
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
add_library(crypto_deps INTERFACE)
target_link_libraries(crypto_deps INTERFACE OpenSSL::Crypto)

# ---- zstd (optional: compressed preprocessing caches; raw caches need nothing) ----
find_path(GTGM_ZSTD_INCLUDE zstd.h)
find_library(GTGM_ZSTD_LIB zstd)
add_library(zstd_deps INTERFACE)
if(GTGM_ZSTD_INCLUDE AND GTGM_ZSTD_LIB)
  target_include_directories(zstd_deps INTERFACE ${GTGM_ZSTD_INCLUDE})
  target_link_libraries(zstd_deps INTERFACE ${GTGM_ZSTD_LIB})
  target_compile_definitions(zstd_deps INTERFACE GTGM_HAVE_ZSTD=1)
endif()
message(STATUS "gtgm: zstd=${GTGM_ZSTD_LIB}")

# ---- libcurl (optional: the OpenAI-compatible captioner of `gtgm caption`; template captions need nothing) ----
find_package(CURL QUIET)
add_library(curl_deps INTERFACE)
if(CURL_FOUND)
  target_link_libraries(curl_deps INTERFACE CURL::libcurl)
  target_compile_definitions(curl_deps INTERFACE GTGM_HAVE_CURL=1)
endif()
message(STATUS "gtgm: curl=${CURL_FOUND}")

# ---- HDF5 (C API; CREMI EM volumes). Optional so a cluster build without it still works. ----
add_library(hdf5_deps INTERFACE)
if(GTGM_WITH_HDF5)
  find_package(HDF5 COMPONENTS C REQUIRED)
  target_include_directories(hdf5_deps INTERFACE ${HDF5_INCLUDE_DIRS})
  target_link_libraries(hdf5_deps INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(hdf5_deps INTERFACE ${HDF5_DEFINITIONS} GTGM_WITH_HDF5=1)
endif()

# ---- ITK (medical image I/O; include(ITK_USE_FILE) registers the IO factories). Optional: without
# it gtgm still reads/writes NIfTI through its built-in reader (io/nifti.h). ----
add_library(itk_deps INTERFACE)
if(GTGM_WITH_ITK)
  find_package(ITK REQUIRED COMPONENTS ITKCommon ITKIOImageBase ITKIONIFTI ITKIONRRD ITKIOMeta
    ITKIOTIFF ITKIOGDCM)
  include(${ITK_USE_FILE})
  target_link_libraries(itk_deps INTERFACE ${ITK_LIBRARIES})
  target_compile_definitions(itk_deps INTERFACE GTGM_WITH_ITK=1)
endif()

# ---- GoogleTest ----
if(GTGM_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    FetchContent_Declare(googletest GIT_REPOSITORY https://github.com/google/googletest.git
    GIT_TAG release-1.12.1 GIT_SHALLOW TRUE)
    FetchContent_MakeAvailable(googletest)
  endif()
endif()
