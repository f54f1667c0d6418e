#include "registry.h"

namespace gtgm::cli {

std::map<std::string, RegisterFn>& command_registry() {
  static std::map<std::string, RegisterFn> registry;  // function-local: safe during static init
  return registry;
}

}  // namespace gtgm::cli
