#pragma once
// `gtgm bench WHAT`: each benchmark case lives in its own src/cli/bench_<what>.cpp holding
//   GTGM_REGISTER_BENCH("what", "one-line help", add_options_fn, run_fn);
// add_options_fn adds the case's own options to the shared `bench` subcommand (prefix them with
// the case name, e.g. --data-cache, so cases never clash); run_fn runs after parsing with the
// options shared by every case. The measuring code lives in the area libraries (src/bench/).
#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>

#include "common.h"
#include "gtgm/core/error.h"

namespace gtgm::cli {

/// Options every bench case understands.
struct BenchCommon {
  ConfigOptions config;  // --config / --set / --log-level
  int workers = 0;       // --workers: threads (0 = all cores)
  int iters = 0;         // --iters: measured iterations (0 = the case's default)
  int warmup = -1;       // --warmup: untimed iterations first (-1 = the case's default)
  std::string json;      // --json FILE: also write the figures as JSON
};

struct BenchCase {
  std::string help;
  std::function<void(CLI::App&)> add_options;
  std::function<void(const BenchCommon&)> run;
};

/// name -> case.
std::map<std::string, BenchCase>& bench_registry();

struct BenchRegistrar {
  BenchRegistrar(const std::string& name, BenchCase c) { bench_registry()[name] = std::move(c); }
};

}  // namespace gtgm::cli

#define GTGM_REGISTER_BENCH(name, help, add_options, run) \
  static const ::gtgm::cli::BenchRegistrar gtgm_bench_registrar_##run(name, {help, add_options, run})
