#include "gtgm/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/checksum.h"
#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/seed.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gtgm::train {
namespace {

constexpr const char* kManifest = "manifest.json";

void write_json(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::binary);
  out << j.dump(2) << "\n";
  GTGM_CHECK(out.good(), "cannot write {}", path.string());
}

json read_json(const fs::path& path) {
  const std::string text = core::read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    GTGM_THROW("{}: not valid JSON ({})", path.string(), e.what());
  }
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  GTGM_CHECK(out.good(), "cannot write {}", path.string());
}

}  // namespace

fs::path checkpoints_root(const fs::path& run_dir) { return run_dir / "checkpoints"; }

fs::path checkpoint_dir(const fs::path& run_dir, int64_t step) {
  return checkpoints_root(run_dir) / fmt::format("step_{:09d}", step);
}

void write_checkpoint(const fs::path& dir, const CheckpointData& data) {
  core::atomic_write_dir(dir, [&](const fs::path& tmp) {
    const std::map<std::string, std::string> meta = {{"format", kCheckpointFormat},
                                                     {"step", std::to_string(data.step)}};
    io::save_safetensors(tmp / "model.safetensors", data.weights, meta);
    io::save_safetensors(tmp / "optimizer.safetensors", data.optimizer, meta);
    write_json(tmp / "optimizer.json", data.optimizer_meta);
    io::save_safetensors(tmp / "rng.safetensors", data.rng, meta);
    write_json(tmp / "trainer.json", data.trainer);
    write_json(tmp / "loader.json", data.loader);
    write_text(tmp / "config.yaml", data.config_yaml);
    json files = json::object();
    for (const char* name : {"model.safetensors", "optimizer.safetensors", "optimizer.json", "rng.safetensors",
                             "trainer.json", "loader.json", "config.yaml"}) {
      files[name] = {{"bytes", fs::file_size(tmp / name)}, {"sha256", core::sha256_file(tmp / name)}};
    }
    const json manifest = {{"format", kCheckpointFormat},
                           {"version", kCheckpointVersion},
                           {"gtgm_version", core::gtgm_version()},
                           {"git", core::gtgm_git_hash()},
                           {"step", data.step},
                           {"files", files}};
    write_json(tmp / kManifest, manifest);
  });
}

json read_manifest(const fs::path& dir) {
  GTGM_CHECK(fs::exists(dir / kManifest), "{}: no {} (not a gtgm checkpoint, or its write was interrupted)",
             dir.string(), kManifest);
  return read_json(dir / kManifest);
}

std::string verify_checkpoint(const fs::path& dir) {
  if (!fs::is_directory(dir)) return "not a directory";
  if (!fs::exists(dir / kManifest)) return std::string(kManifest) + " missing (incomplete checkpoint)";
  json m;
  try {
    m = read_json(dir / kManifest);
  } catch (const Error& e) {
    return e.message();
  }
  if (m.value("format", "") != kCheckpointFormat)
    return fmt::format("{}: format is not '{}'", kManifest, kCheckpointFormat);
  if (m.value("version", 0) != kCheckpointVersion) {
    return fmt::format("{}: checkpoint version {} is not supported (this gtgm reads version {})", kManifest,
                       m.value("version", 0), kCheckpointVersion);
  }
  if (!m.contains("files") || !m["files"].is_object() || m["files"].empty())
    return fmt::format("{}: no file list", kManifest);
  for (const auto& [name, info] : m["files"].items()) {
    const fs::path f = dir / name;
    if (!fs::exists(f)) return name + ": missing";
    const auto bytes = info.value("bytes", static_cast<uint64_t>(0));
    if (fs::file_size(f) != bytes) {
      return fmt::format("{}: {} bytes, manifest says {} (truncated or partial copy)", name, fs::file_size(f), bytes);
    }
    if (core::sha256_file(f) != info.value("sha256", "")) return name + ": sha256 mismatch (corrupted)";
  }
  return "";
}

CheckpointData read_checkpoint(const fs::path& dir) {
  const std::string problem = verify_checkpoint(dir);
  GTGM_CHECK(problem.empty(), "checkpoint {} is not usable: {}", dir.string(), problem);
  const json m = read_json(dir / kManifest);
  CheckpointData d;
  d.step = m.at("step").get<int64_t>();
  d.weights = io::load_safetensors(dir / "model.safetensors");
  d.optimizer = io::load_safetensors(dir / "optimizer.safetensors");
  d.optimizer_meta = read_json(dir / "optimizer.json");
  d.rng = io::load_safetensors(dir / "rng.safetensors");
  d.trainer = read_json(dir / "trainer.json");
  d.loader = read_json(dir / "loader.json");
  d.config_yaml = core::read_text_file(dir / "config.yaml");
  return d;
}

std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& run_dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  const fs::path root = checkpoints_root(run_dir);
  if (!fs::is_directory(root)) return out;
  static const std::regex kName(R"(step_(\d+))");
  for (const auto& e : fs::directory_iterator(root)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || !std::regex_match(name, m, kName)) continue;
    // A stray folder such as step_99999999999999999999999 (no step can reach it) is not ours.
    int64_t step = 0;
    const std::string digits = m[1].str();
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      GTGM_WARN("ignoring {}: its step number does not fit in 64 bits (not a gtgm checkpoint)", e.path().string());
      continue;
    }
    out.emplace_back(step, e.path());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

std::optional<fs::path> latest_valid_checkpoint(const fs::path& run_dir, std::vector<std::string>* rejected) {
  for (const auto& [step, dir] : list_checkpoints(run_dir)) {
    const std::string problem = verify_checkpoint(dir);
    if (problem.empty()) return dir;
    if (rejected) rejected->push_back(dir.string() + ": " + problem);
  }
  return std::nullopt;
}

fs::path resolve_checkpoint(const fs::path& path, bool best) {
  GTGM_CHECK(fs::exists(path), "{} does not exist (expected a run directory or a checkpoint directory)", path.string());
  if (fs::exists(path / kManifest)) {
    const std::string problem = verify_checkpoint(path);
    GTGM_CHECK(problem.empty(), "checkpoint {} is not usable: {}", path.string(), problem);
    return path;
  }
  if (best) {
    const json b = read_best(path);
    GTGM_CHECK(!b.is_null(), "{}: no best checkpoint recorded ({} missing)", path.string(),
               (checkpoints_root(path) / "best.json").string());
    const fs::path dir = checkpoint_dir(path, b.at("step").get<int64_t>());
    const std::string problem = verify_checkpoint(dir);
    GTGM_CHECK(problem.empty(), "best checkpoint {} is not usable: {}", dir.string(), problem);
    return dir;
  }
  std::vector<std::string> rejected;
  const auto dir = latest_valid_checkpoint(path, &rejected);
  for (const auto& r : rejected) GTGM_WARN("skipping checkpoint {}", r);
  GTGM_CHECK(dir.has_value(), "{}: no usable checkpoint under {}{}", path.string(), checkpoints_root(path).string(),
             rejected.empty() ? std::string(" (none written yet)")
                              : fmt::format(" (rejected: {})", fmt::join(rejected, "; ")));
  return *dir;
}

void prune_checkpoints(const fs::path& run_dir, int keep_last, int64_t keep_step) {
  const auto all = list_checkpoints(run_dir);
  int kept = 0;
  for (const auto& [step, dir] : all) {
    // Directories without a manifest are not ours to judge (a partial copy, a user's folder): they
    // are neither counted towards keep_last nor deleted.
    if (!fs::exists(dir / kManifest)) continue;
    if (kept < keep_last) {
      ++kept;
      continue;
    }
    if (step == keep_step) continue;
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) GTGM_WARN("could not remove old checkpoint {}: {}", dir.string(), ec.message());
  }
  // Temp / old directories left behind by a crash during atomic_write_dir.
  const fs::path root = checkpoints_root(run_dir);
  if (!fs::is_directory(root)) return;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind(".step_", 0) == 0) {
      std::error_code ec;
      fs::remove_all(e.path(), ec);
    }
  }
}

void write_best(const fs::path& run_dir, const json& best) {
  core::atomic_write_text(checkpoints_root(run_dir) / "best.json", best.dump(2) + "\n");
}

json read_best(const fs::path& run_dir) {
  const fs::path p = checkpoints_root(run_dir) / "best.json";
  if (!fs::exists(p)) return nullptr;
  return read_json(p);
}

io::NamedTensors capture_torch_rng() {
  io::NamedTensors out;
  auto cpu = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    out.emplace_back("cpu", cpu.get_state());
  }
  for (int i = 0; i < core::cuda_device_count(); ++i) {
    auto gen = at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    out.emplace_back(fmt::format("cuda:{}", i), gen.get_state());
  }
  return out;
}

void restore_torch_rng(const io::NamedTensors& states) {
  for (const auto& [name, state] : states) {
    if (name == "cpu") {
      auto cpu = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(cpu.mutex());
      cpu.set_state(state);
      continue;
    }
    GTGM_CHECK(name.rfind("cuda:", 0) == 0, "rng state: unknown generator '{}' (expected cpu or cuda:N)", name);
    const int index = std::stoi(name.substr(5));
    if (index >= core::cuda_device_count()) {
      // A CUDA run resumed on fewer devices: its CUDA streams cannot continue exactly.
      GTGM_WARN("rng state for {} not restored: only {} CUDA device(s) visible", name, core::cuda_device_count());
      continue;
    }
    auto gen = at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  }
}

json capture_std_rng() {
  std::ostringstream ss;
  ss << core::global_engine();
  return {{"global_engine", ss.str()}};
}

void restore_std_rng(const json& state) {
  std::istringstream ss(state.at("global_engine").get<std::string>());
  ss >> core::global_engine();
  GTGM_CHECK(!ss.fail(), "rng state: cannot parse the saved std engine state");
}

}  // namespace gtgm::train
