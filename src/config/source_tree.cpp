#include "source_tree.h"

#include <yaml-cpp/depthguard.h>

#include <algorithm>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"

namespace fs = std::filesystem;

namespace gtgm::config::detail {

const SourceNode* SourceNode::find(const std::string& key) const {
  for (const auto& [k, child] : children) {
    if (k == key) return &child;
  }
  return nullptr;
}

SourceNode* SourceNode::find(const std::string& key) {
  return const_cast<SourceNode*>(static_cast<const SourceNode*>(this)->find(key));
}

SourceNode to_source_tree(const YAML::Node& node, const std::string& file, const std::string& base_dir) {
  SourceNode out;
  out.file = file;
  out.base_dir = base_dir;
  out.line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
  if (node.IsMap()) {
    out.is_map = true;
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (out.find(key) != nullptr) {
        throw ConfigError(fmt::format("{}:{}: duplicate key '{}'", file, kv.first.Mark().line + 1, key));
      }
      SourceNode child = to_source_tree(kv.second, file, base_dir);
      // A key's line is where the key is written (the value of `a:` on the next lines starts later).
      child.line = kv.first.Mark().line + 1;
      out.children.emplace_back(key, std::move(child));
    }
  } else {
    out.value.reset(node);
  }
  return out;
}

namespace {

// Merges `over` onto `base`: maps key by key (recursively), anything else replaces.
void merge(SourceNode& base, const SourceNode& over) {
  if (!(base.is_map && over.is_map)) {
    base = over;
    return;
  }
  for (const auto& [key, child] : over.children) {
    if (SourceNode* existing = base.find(key)) {
      merge(*existing, child);
    } else {
      base.children.emplace_back(key, child);
    }
  }
}

}  // namespace

SourceNode load_tree(const std::string& text, const std::string& name, const fs::path& base_dir,
                     std::vector<std::string> chain) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp stops at its depth limit with the message "bad file".
    throw ConfigError(
        fmt::format("{}:{}: invalid YAML: nested too deeply ({} levels, above yaml-cpp's limit); a "
                    "config needs a few levels (section: key: value)",
                    name, e.mark.line + 1, e.depth()));
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}: invalid YAML: {}", name, e.mark.line + 1, e.msg));
  }
  if (doc.IsNull()) {
    SourceNode empty;
    empty.file = name;
    empty.base_dir = base_dir.string();
    empty.is_map = true;
    return empty;
  }
  if (!doc.IsMap()) {
    throw ConfigError(fmt::format("{}:{}: a config file must be a mapping of sections (run:, data:, ...)", name,
                                  doc.Mark().line + 1));
  }
  SourceNode tree = to_source_tree(doc, name, base_dir.string());
  auto it = std::find_if(tree.children.begin(), tree.children.end(), [](const auto& kv) { return kv.first == "inherit"; });
  if (it == tree.children.end()) return tree;

  const SourceNode inherit = it->second;
  tree.children.erase(it);
  if (inherit.is_map || !inherit.value.IsScalar()) {
    throw ConfigError(fmt::format("{}: inherit: expected one parent file name (a string); gtgm supports a single parent",
                                  inherit.where()));
  }
  const fs::path parent_path = base_dir / inherit.value.as<std::string>();
  const std::string parent_name = parent_path.lexically_normal().string();
  chain.push_back(name);
  if (std::find(chain.begin(), chain.end(), parent_name) != chain.end()) {
    throw ConfigError(fmt::format("{}: inherit cycle: {} -> {}", inherit.where(), fmt::join(chain, " -> "), parent_name));
  }
  if (!fs::exists(parent_path)) {
    throw ConfigError(fmt::format("{}: inherit: parent file {} does not exist", inherit.where(), parent_name));
  }
  if (fs::is_directory(parent_path)) {
    throw ConfigError(fmt::format("{}: inherit: {} is a folder; expected a YAML file", inherit.where(), parent_name));
  }
  SourceNode parent = load_tree(core::read_text_file(parent_path), parent_name, parent_path.parent_path(), chain);
  merge(parent, tree);
  return parent;
}

void apply_set(SourceNode& root, const std::string& assignment) {
  const std::string where = "--set " + assignment;
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(fmt::format("{}: expected section.key=value (e.g. --set optim.lr=1e-4)", where));
  }
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts) {
    if (p.empty()) throw ConfigError(fmt::format("{}: empty component in key path '{}'", where, path));
  }
  SourceNode leaf;
  leaf.file = where;
  try {
    // An empty value means the empty string (e.g. --set text.model_dir=).
    leaf.value.reset(value.empty() ? YAML::Node(std::string()) : YAML::Load(value));
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: value is not valid YAML: {}", where, e.msg));
  }
  if (leaf.value.IsMap()) {
    throw ConfigError(fmt::format("{}: set one key at a time, not a mapping", where));
  }
  SourceNode* node = &root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    SourceNode* next = node->find(parts[i]);
    if (next == nullptr) {
      SourceNode section;
      section.file = where;
      section.is_map = true;
      node->children.emplace_back(parts[i], section);
      next = &node->children.back().second;
    } else if (!next->is_map) {
      throw ConfigError(fmt::format("{}: '{}' is a value, not a section", where, parts[i]));
    }
    node = next;
  }
  if (SourceNode* existing = node->find(parts.back())) {
    *existing = leaf;
  } else {
    node->children.emplace_back(parts.back(), leaf);
  }
}

}  // namespace gtgm::config::detail
