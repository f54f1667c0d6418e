#include "gtgm/core/fault_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

namespace gtgm::core {
namespace {

struct FaultSpec {
  bool armed = false;
  std::string point, file;  // file empty: any file
  long long nth = 0;
  long long seen = 0;
  std::mutex mutex;
};

// Parsed once; a malformed value disarms (the variable is for tests, not users).
FaultSpec& fault_spec() {
  static FaultSpec* spec = [] {
    auto* s = new FaultSpec();
    const char* v = std::getenv("GTGM_FAULT_STOP");
    if (v == nullptr || *v == '\0') return s;
    const std::string text = v;
    const auto at = text.rfind('@');
    if (at == std::string::npos) return s;
    try {
      s->nth = std::stoll(text.substr(at + 1));
    } catch (const std::exception&) {
      return s;
    }
    const std::string name = text.substr(0, at);
    const auto colon = name.find(':');
    s->point = name.substr(0, colon);
    if (colon != std::string::npos) s->file = name.substr(colon + 1);
    s->armed = s->nth >= 1 && !s->point.empty();
    return s;
  }();
  return *spec;
}

}  // namespace

bool fault_hit(const char* point, const std::string& file) {
  FaultSpec& s = fault_spec();
  if (!s.armed || s.point != point || (!s.file.empty() && s.file != file)) return false;
  std::lock_guard<std::mutex> lock(s.mutex);
  return ++s.seen == s.nth;
}

void fault_stop(const char* point, const std::string& file) {
  const std::string line = fmt::format("gtgm: fault point {}:{}@{} reached (GTGM_FAULT_STOP); stopping\n", point, file,
                                       fault_spec().nth);
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  ::raise(SIGSTOP);
}

}  // namespace gtgm::core
