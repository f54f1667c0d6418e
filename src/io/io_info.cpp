#include "gtgm/io/io_info.h"

#ifdef GTGM_WITH_ITK
#include <itkVersion.h>
#endif

namespace gtgm::io {

std::string itk_version() {
#ifdef GTGM_WITH_ITK
  return itk::Version::GetITKVersion();
#else
  return "not built with ITK";
#endif
}

}  // namespace gtgm::io
