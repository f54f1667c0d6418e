// Parsing of the launch environment (torchrun, Slurm) and of Slurm's compressed hostlists.
// Pure string handling: no rendezvous happens here.
#include <cstdlib>
#include <limits>

#include "gtgm/core/error.h"
#include "gtgm/dist/launch_env.h"

namespace gtgm::dist {
namespace {

int parse_int(const std::string& name, const std::string& value, int lo, int hi) {
  std::size_t used = 0;
  long long v = 0;
  bool ok = !value.empty();
  if (ok) {
    try {
      v = std::stoll(value, &used);
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok || used != value.size()) {
    throw ConfigError(fmt::format("environment variable {}='{}' is not an integer", name, value));
  }
  if (v < lo || v > hi) {
    throw ConfigError(fmt::format("environment variable {}={} is out of range: expected {} to {}", name, v, lo, hi));
  }
  return static_cast<int>(v);
}

// The bracket-free parts and bracket groups of one hostname pattern, expanded.
std::vector<std::string> expand_one(const std::string& pattern, const std::string& whole) {
  std::vector<std::string> out{""};
  std::size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == ']') throw ConfigError(fmt::format("hostlist '{}': unbalanced ']'", whole));
    if (c != '[') {
      for (auto& s : out) s += c;
      ++i;
      continue;
    }
    const std::size_t close = pattern.find(']', i);
    if (close == std::string::npos) throw ConfigError(fmt::format("hostlist '{}': unbalanced '['", whole));
    const std::string body = pattern.substr(i + 1, close - i - 1);
    if (body.empty() || body.find('[') != std::string::npos) {
      throw ConfigError(fmt::format("hostlist '{}': empty or nested bracket group", whole));
    }
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= body.size()) {
      std::size_t comma = body.find(',', start);
      if (comma == std::string::npos) comma = body.size();
      const std::string range = body.substr(start, comma - start);
      const std::size_t dash = range.find('-');
      const std::string lo_s = range.substr(0, dash);
      const std::string hi_s = dash == std::string::npos ? lo_s : range.substr(dash + 1);
      auto all_digits = [](const std::string& s) {
        return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
      };
      if (!all_digits(lo_s) || !all_digits(hi_s)) {
        throw ConfigError(fmt::format("hostlist '{}': bad range '{}' (expected N or N-M)", whole, range));
      }
      const long long lo = std::stoll(lo_s), hi = std::stoll(hi_s);
      if (hi < lo) throw ConfigError(fmt::format("hostlist '{}': reversed range '{}'", whole, range));
      if (hi - lo > 100000) throw ConfigError(fmt::format("hostlist '{}': range '{}' is too large", whole, range));
      const std::size_t width = lo_s.size();  // Slurm keeps the zero padding of the lower bound
      for (long long v = lo; v <= hi; ++v) {
        std::string num = std::to_string(v);
        if (num.size() < width) num.insert(0, width - num.size(), '0');
        items.push_back(num);
      }
      start = comma + 1;
    }
    std::vector<std::string> next;
    next.reserve(out.size() * items.size());
    for (const auto& prefix : out) {
      for (const auto& item : items) next.push_back(prefix + item);
    }
    out = std::move(next);
    i = close + 1;
  }
  return out;
}

}  // namespace

EnvGetter process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::vector<std::string> expand_hostlist(const std::string& hostlist) {
  std::vector<std::string> hosts;
  std::string current;
  int depth = 0;
  auto flush = [&]() {
    if (current.empty()) throw ConfigError(fmt::format("hostlist '{}': empty host name", hostlist));
    for (auto& h : expand_one(current, hostlist)) hosts.push_back(std::move(h));
    current.clear();
  };
  for (char c : hostlist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (depth < 0) throw ConfigError(fmt::format("hostlist '{}': unbalanced ']'", hostlist));
    if (c == ',' && depth == 0) {
      flush();
    } else if (c != ' ') {
      current += c;
    }
  }
  if (depth != 0) throw ConfigError(fmt::format("hostlist '{}': unbalanced '['", hostlist));
  flush();
  return hosts;
}

LaunchEnv read_launch_env(const EnvGetter& env) {
  constexpr int kMaxInt = std::numeric_limits<int>::max();
  LaunchEnv out;
  const auto rank = env("RANK");
  const auto world = env("WORLD_SIZE");
  const auto slurm_rank = env("SLURM_PROCID");
  auto slurm_world = env("SLURM_STEP_NUM_TASKS");
  if (!slurm_world) slurm_world = env("SLURM_NTASKS");
  // Which launcher: torchrun's variables win (torchrun inside a Slurm allocation is common).
  if (rank || world) {
    if (!rank || !world) {
      throw ConfigError(fmt::format("environment: {} is set but {} is not; set both (torchrun sets RANK, "
                                    "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT)",
                                    rank ? "RANK" : "WORLD_SIZE", rank ? "WORLD_SIZE" : "RANK"));
    }
    out.launcher = Launcher::Torchrun;
    out.world_size = parse_int("WORLD_SIZE", *world, 1, kMaxInt);
    out.rank = parse_int("RANK", *rank, 0, kMaxInt);
    if (const auto lr = env("LOCAL_RANK")) out.local_rank = parse_int("LOCAL_RANK", *lr, 0, kMaxInt);
    out.source = "RANK/WORLD_SIZE (torchrun)";
  } else if (slurm_rank && slurm_world) {
    out.launcher = Launcher::Slurm;
    const std::string world_name = env("SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
    out.world_size = parse_int(world_name, *slurm_world, 1, kMaxInt);
    out.rank = parse_int("SLURM_PROCID", *slurm_rank, 0, kMaxInt);
    if (const auto lr = env("SLURM_LOCALID")) out.local_rank = parse_int("SLURM_LOCALID", *lr, 0, kMaxInt);
    out.source = "SLURM_PROCID/" + world_name + " (srun)";
  } else {
    return out;  // single process
  }
  if (out.rank >= out.world_size) {
    throw ConfigError(fmt::format("environment ({}): rank {} is not below the world size {}", out.source, out.rank,
                                  out.world_size));
  }
  if (out.world_size == 1) return out;

  // Master address and port.
  if (const auto addr = env("MASTER_ADDR"); addr && !addr->empty()) {
    out.master_addr = *addr;
  } else if (out.launcher == Launcher::Slurm) {
    for (const char* name : {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"}) {
      if (const auto list = env(name); list && !list->empty()) {
        try {
          out.master_addr = expand_hostlist(*list).front();
        } catch (const ConfigError& e) {
          throw ConfigError(fmt::format("environment variable {}: {}", name, e.message()));
        }
        break;
      }
    }
    if (out.master_addr.empty()) {
      throw ConfigError("environment (srun): no MASTER_ADDR and no SLURM_STEP_NODELIST / SLURM_JOB_NODELIST / "
                        "SLURM_NODELIST to take the first host from");
    }
  } else {
    throw ConfigError(fmt::format("environment ({}): world size {} needs MASTER_ADDR (the host of rank 0)",
                                  out.source, out.world_size));
  }
  if (const auto port = env("MASTER_PORT"); port && !port->empty()) {
    out.master_port = parse_int("MASTER_PORT", *port, 1, 65535);
  } else if (out.launcher == Launcher::Slurm) {
    const auto job = env("SLURM_JOB_ID");
    out.master_port = 29500 + (job ? parse_int("SLURM_JOB_ID", *job, 0, kMaxInt) % 1000 : 0);
  } else {
    throw ConfigError(fmt::format("environment ({}): world size {} needs MASTER_PORT", out.source, out.world_size));
  }
  return out;
}

}  // namespace gtgm::dist
