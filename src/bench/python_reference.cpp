#include "gtgm/bench/python_reference.h"

#include <fstream>

#include "gtgm/core/error.h"
#include "gtgm/core/process.h"

namespace gtgm::bench {

nlohmann::json run_python_reference(const std::string& kind, const std::string& python, const std::string& script,
                                    const std::string& args) {
  GTGM_CHECK(std::ifstream(script).good(),
             "bench {}: reference script {} not found (run from the source tree, pass --{}-reference PATH, or "
             "--{}-no-reference)",
             kind, script, kind, kind);
  const std::string cmd = python + " " + script + " " + args;
  const core::CommandResult r = core::run_command(cmd);
  GTGM_CHECK(r.exit_code == 0, "bench {}: the Python reference failed (exit status {}): {}\n{}", kind, r.exit_code, cmd,
             r.output);
  const size_t start = r.output.rfind("{\"impl\"");
  GTGM_CHECK(start != std::string::npos, "bench {}: no JSON result in the reference output of {}:\n{}", kind, cmd,
             r.output);
  return nlohmann::json::parse(r.output.substr(start));
}

}  // namespace gtgm::bench
