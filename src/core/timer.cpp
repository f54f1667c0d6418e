#include "gtgm/core/timer.h"

#include "gtgm/core/logging.h"

namespace gtgm::core {

ScopedTimer::~ScopedTimer() {
  const double s = watch_.seconds();
  if (accumulator_ != nullptr) *accumulator_ += s;
  GTGM_DEBUG("{}: {:.3f} ms", name_, s * 1e3);
}

}  // namespace gtgm::core
