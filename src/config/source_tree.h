#pragma once
// Private to config/: the YAML document as a tree that remembers, for every node, the file and
// line it came from, so errors can point at them after `inherit` merges and `--set` overrides.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace gtgm::config::detail {

struct SourceNode {
  std::string file;  // file name, or "--set key=value"
  int line = 0;      // 1-based; 0 when not from a file
  std::string base_dir;  // the folder relative paths in this node resolve against (the file's; "" = working dir)
  bool is_map = false;
  YAML::Node value;  // scalars, sequences, nulls (when !is_map)
  std::vector<std::pair<std::string, SourceNode>> children;  // when is_map, in document order

  SourceNode() = default;
  SourceNode(const SourceNode&) = default;
  // YAML::Node's operator= writes through to the node it refers to (aliasing other trees);
  // assignment here must rebind instead.
  SourceNode& operator=(const SourceNode& o) {
    if (this == &o) return *this;
    file = o.file;
    line = o.line;
    base_dir = o.base_dir;
    is_map = o.is_map;
    value.reset(o.value);
    children = o.children;
    return *this;
  }

  std::string where() const { return line > 0 ? file + ":" + std::to_string(line) : file; }
  const SourceNode* find(const std::string& key) const;
  SourceNode* find(const std::string& key);
};

/// A parsed YAML node as a SourceNode tree whose nodes remember `file` and their line; throws
/// ConfigError on a duplicate key. Used for the document's top level and for mappings inside lists.
/// `base_dir` is the folder of `file` (relative path values resolve against it).
SourceNode to_source_tree(const YAML::Node& node, const std::string& file, const std::string& base_dir = "");
/// Parses a YAML document; follows `inherit:` (relative to `base_dir`) and merges key by key.
SourceNode load_tree(const std::string& text, const std::string& name, const std::filesystem::path& base_dir,
                     std::vector<std::string> chain = {});
/// Applies "a.b.c=value" (value parsed as YAML) over `root`. Throws ConfigError on bad syntax.
void apply_set(SourceNode& root, const std::string& assignment);

}  // namespace gtgm::config::detail
