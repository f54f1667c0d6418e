#pragma once
#include <string>

namespace gtgm::io {

/// ITK version this binary links ("5.2.1"), or "not built with ITK".
std::string itk_version();

}  // namespace gtgm::io
