// `gtgm bench WHAT`: dispatches to the cases registered in bench_*.cpp (see bench_registry.h).
#include <fmt/format.h>

#include "bench_registry.h"
#include "commands.h"
#include "gtgm/core/error.h"

namespace gtgm::cli {

std::map<std::string, BenchCase>& bench_registry() {
  static std::map<std::string, BenchCase> r;
  return r;
}

void register_bench(CLI::App& app) {
  std::string names, help;
  for (const auto& [name, c] : bench_registry()) {
    names += (names.empty() ? "" : ", ") + name;
    help += fmt::format("\n  {:<6} {}", name, c.help);
  }
  auto* cmd = app.add_subcommand("bench", "Throughput benchmarks (figures printed, nothing asserted)" + help);
  auto what = std::make_shared<std::string>();
  auto common = std::make_shared<BenchCommon>();
  cmd->add_option("what", *what, "Which benchmark: " + names)->required();
  add_config_options(*cmd, common->config, false);
  cmd->add_option("--workers", common->workers, "Threads / loader workers (0 = all cores)");
  cmd->add_option("--iters", common->iters, "Measured iterations (0 = the benchmark's default)");
  cmd->add_option("--warmup", common->warmup, "Untimed iterations before measuring (-1 = default)");
  cmd->add_option("--json", common->json, "Also write the figures to this JSON file");
  for (const auto& [name, c] : bench_registry()) {
    if (c.add_options) c.add_options(*cmd);
  }
  cmd->callback([what, common, names] {
    const auto it = bench_registry().find(*what);
    if (it == bench_registry().end()) {
      throw ConfigError(fmt::format("gtgm bench: unknown benchmark '{}'; available: {}", *what, names));
    }
    it->second.run(*common);
  });
}

}  // namespace gtgm::cli
