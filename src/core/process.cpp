#include "gtgm/core/process.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace gtgm::core {

CommandResult run_command(const std::string& command_line) {
  CommandResult r;
  const std::string cmd = command_line + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace gtgm::core
