// `gtgm synth`: writes synthetic CT/MRI phantoms (MSD task folders) and EM volumes (CREMI HDF5).
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/core/error.h"
#include "gtgm/core/timer.h"
#include "gtgm/data/synth.h"

namespace gtgm::cli {

namespace {

std::array<int64_t, 3> to_shape(const std::vector<int64_t>& v, const char* option) {
  if (v.size() != 3) throw gtgm::ConfigError(fmt::format("{} takes three sizes D,H,W (found {})", option, v.size()));
  for (auto s : v)
    if (s < 1) throw gtgm::ConfigError(fmt::format("{}: sizes must be >= 1 (found {})", option, s));
  return {v[0], v[1], v[2]};
}

}  // namespace

void register_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write synthetic CT/MRI/EM datasets in their real formats");
  struct Args {
    std::string out;
    std::vector<std::string> kinds{"ct", "mri", "em"};
    int cases = 12, test_cases = 2;
    std::vector<int64_t> shape{32, 64, 64};
    int em_volumes = 3, em_cells = 40;
    std::vector<int64_t> em_shape{16, 128, 128};
    uint64_t seed = 42;
    std::string suite;
    std::vector<std::string> only;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--out", a->out, "Output folder (gets Task01_SynthCT/, Task02_SynthMRI/, cremi_synth/)")->required();
  cmd->add_option("--kind", a->kinds, "Datasets to write: ct, mri, em (repeat or comma-separate)")
      ->delimiter(',')
      ->check(CLI::IsMember({"ct", "mri", "em"}))
      ->capture_default_str();
  cmd->add_option("--cases", a->cases, "Labelled cases per phantom task")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--test-cases", a->test_cases, "Unlabelled test cases per phantom task (imagesTs)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--shape", a->shape, "Phantom size D,H,W in voxels")->delimiter(',')->capture_default_str();
  cmd->add_option("--em-volumes", a->em_volumes, "EM volumes (sample_A.hdf, ...)")
      ->check(CLI::Range(1, 26))
      ->capture_default_str();
  cmd->add_option("--em-shape", a->em_shape, "EM volume size z,y,x in voxels")->delimiter(',')->capture_default_str();
  cmd->add_option("--em-cells", a->em_cells, "Cells per EM volume")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed: the same seed writes the same voxels")->capture_default_str();
  cmd->add_option(
         "--suite", a->suite,
         "demo13: stand-ins for the 13 datasets of the paper's table instead of --kind (Task01_BrainTumour"
         " .. Task10_Colon with the real channels and classes, cremi/A, cremi/B, cremi/C); defaults 8+1 "
         "cases of 24x48x48 and 20x64x64 EM unless --cases/--test-cases/--shape/--em-shape/--em-cells are given")
      ->check(CLI::IsMember({"demo13"}));
  auto* only =
      cmd->add_option("--only", a->only, "With --suite: datasets to write (comma-separated), e.g. Task03_Liver,CREMI_A")
          ->delimiter(',');
  cmd->callback([a, cmd, only] {
    if (a->suite == "demo13") {
      if (cmd->count("--kind") > 0) throw gtgm::ConfigError("gtgm synth: --kind and --suite are exclusive");
      data::Demo13Options d;
      d.out = a->out;
      d.only = a->only;
      d.phantom.seed = a->seed;
      if (cmd->count("--cases") > 0) d.phantom.num_train = a->cases;
      if (cmd->count("--test-cases") > 0) d.phantom.num_test = a->test_cases;
      if (cmd->count("--shape") > 0) d.phantom.shape = to_shape(a->shape, "--shape");
      if (cmd->count("--em-shape") > 0) d.em.shape = to_shape(a->em_shape, "--em-shape");
      if (cmd->count("--em-cells") > 0) d.em.num_cells = a->em_cells;
      core::Stopwatch watch;
      for (const auto& dir : data::write_demo13(d)) std::cout << "wrote " << dir.string() << "\n";
      std::cout << fmt::format("synth: demo13 done in {:.1f} s (seed {})\n", watch.seconds(), a->seed);
      return;
    }
    if (only->count() > 0) throw gtgm::ConfigError("gtgm synth: --only needs --suite demo13");
    data::SynthOptions o;
    o.out = a->out;
    o.kinds = a->kinds;
    o.phantom.num_train = a->cases;
    o.phantom.num_test = a->test_cases;
    o.phantom.shape = to_shape(a->shape, "--shape");
    o.phantom.seed = a->seed;
    o.em.num_volumes = a->em_volumes;
    o.em.shape = to_shape(a->em_shape, "--em-shape");
    o.em.num_cells = a->em_cells;
    core::Stopwatch watch;
    for (const auto& dir : data::run_synth(o)) std::cout << "wrote " << dir.string() << "\n";
    std::cout << fmt::format("synth: done in {:.1f} s (seed {})\n", watch.seconds(), a->seed);
  });
}

}  // namespace gtgm::cli
