#pragma once
/// Loading, overriding, writing and comparing configurations. YAML appears only inside config/.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "gtgm/config/config.h"

namespace gtgm::config {

/// Reads `file` (following `inherit: parent.yaml`, single parent, merged key by key), applies each
/// `--set a.b.c=value` in order, binds strictly and validates. All problems found are reported in
/// one gtgm::ConfigError, one per line: "<file>:<line>: <key path>: <what was expected/found>".
Config load_config(const std::filesystem::path& file, const std::vector<std::string>& sets = {});
/// Same from YAML text (`name` stands for the file in messages; inherit resolves against `base_dir`).
Config load_config_string(const std::string& yaml, const std::string& name = "<string>",
                          const std::vector<std::string>& sets = {},
                          const std::filesystem::path& base_dir = ".");
/// The defaults of a config read from YAML: `Config{}` except that the keys that follow the dataset
/// are `auto` (model.num_classes, model.in_channels, data.modality, data.crop_size); a run fills them
/// from dataset.json and the plan at start (app::resolve_dataset_auto). Code that builds a Config
/// directly keeps Config{}'s concrete values.
Config file_defaults();
/// The keys whose values are file-system paths, resolved against the file that writes them (the
/// scalar keys, then the lists of paths: train.mix_datasets).
std::vector<std::string> path_keys();
/// Defaults + overrides only.
Config default_config(const std::vector<std::string>& sets = {});

/// Cross-field validation (bound values are already range/enum checked). Throws ConfigError.
void validate(const Config& cfg);

/// The full resolved config as YAML; load_config_string(to_yaml(c)) == c.
std::string to_yaml(const Config& cfg);
/// Writes RUN_DIR/config.resolved.yaml atomically.
void write_resolved(const Config& cfg, const std::filesystem::path& run_dir);

/// ("section.key", "value") for every field, in declaration order.
std::vector<std::pair<std::string, std::string>> flatten(const Config& cfg);
/// "key: a -> b" for every field that differs (empty when equal).
std::vector<std::string> diff(const Config& a, const Config& b);
inline bool operator==(const Config& a, const Config& b) { return diff(a, b).empty(); }
inline bool operator!=(const Config& a, const Config& b) { return !(a == b); }
/// The resolved config as an aligned two-column table (printed by rank 0 at start).
std::string format_table(const Config& cfg);
/// docs/configs.md: every key, its type, default, constraint and meaning.
std::string config_docs_markdown();

}  // namespace gtgm::config
