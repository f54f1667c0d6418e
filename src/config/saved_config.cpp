#include "gtgm/config/saved_config.h"

#include <yaml-cpp/yaml.h>

#include "gtgm/config/load.h"

namespace gtgm::config {

Config load_saved_config(const std::string& yaml, const std::string& name, const std::vector<std::string>& sets) {
  std::vector<std::string> all;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception&) {
    root = YAML::Node();  // load_config_string reports the syntax error with the file name
  }
  const YAML::Node model = root.IsMap() ? root["model"] : YAML::Node();
  if (model && model.IsMap() && !model["stem_pool_stride"]) {
    const YAML::Node dims = model["spatial_dims"];
    all.push_back(dims && dims.IsScalar() && dims.Scalar() == "2" ? "model.stem_pool_stride=[2, 2]"
                                                                  : "model.stem_pool_stride=[2, 2, 2]");
  }
  // Before data.em_pretrain_z, EM pretraining sampled the whole volume (test slices included).
  const YAML::Node data = root.IsMap() ? root["data"] : YAML::Node();
  if (data && data.IsMap() && !data["em_pretrain_z"]) all.push_back("data.em_pretrain_z=1");
  all.insert(all.end(), sets.begin(), sets.end());
  return load_config_string(yaml, name, all);
}

}  // namespace gtgm::config
