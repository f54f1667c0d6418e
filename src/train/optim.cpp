#include "gtgm/train/optim.h"

#include <map>
#include <set>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "gtgm/core/torch_compat.h"

namespace gtgm::train {
namespace {

std::string count_text(int64_t n) {
  if (n >= 1000000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
  if (n >= 1000) return fmt::format("{:.1f}K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

// The state-map key LibTorch uses for a parameter (a string in 1.13, the TensorImpl* in 2.x).
auto state_key(const torch::optim::Optimizer& opt, const torch::Tensor& p) { return core::compat::optim_state_key(opt, p); }

}  // namespace

bool uses_weight_decay(const std::string& name, const torch::Tensor& param) {
  return param.dim() >= 2 && !core::ends_with(name, "bias");
}

Optimizer::Optimizer(const config::OptimConfig& o, torch::nn::Module& module) : kind_(o.name), weight_decay_(o.weight_decay) {
  std::vector<std::string> decay_names, plain_names;
  std::vector<torch::Tensor> decay, plain;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    if (uses_weight_decay(item.key(), item.value())) {
      decay_names.push_back(item.key());
      decay.push_back(item.value());
    } else {
      plain_names.push_back(item.key());
      plain.push_back(item.value());
    }
  }
  GTGM_CHECK(!decay.empty() || !plain.empty(), "optimiser {}: the module has no trainable parameters",
             config::to_string(o.name));
  num_decay_ = decay.size();
  names_ = decay_names;
  names_.insert(names_.end(), plain_names.begin(), plain_names.end());
  params_ = decay;
  params_.insert(params_.end(), plain.begin(), plain.end());

  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (o.name == config::OptimizerName::AdamW) {
    GTGM_CHECK(o.betas.size() == 2, "optim.betas: expected 2 values, got {}", o.betas.size());
    auto base = torch::optim::AdamWOptions(o.lr).betas({o.betas[0], o.betas[1]}).eps(o.eps).weight_decay(o.weight_decay);
    auto no_decay = base;
    no_decay.weight_decay(0.0);
    if (!decay.empty()) groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(base));
    if (!plain.empty()) groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(no_decay));
    opt_ = std::make_unique<torch::optim::AdamW>(groups, base);
  } else if (o.name == config::OptimizerName::SGD) {
    auto base = torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.momentum > 0).weight_decay(o.weight_decay);
    auto no_decay = base;
    no_decay.weight_decay(0.0);
    if (!decay.empty()) groups.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(base));
    if (!plain.empty()) groups.emplace_back(plain, std::make_unique<torch::optim::SGDOptions>(no_decay));
    opt_ = std::make_unique<torch::optim::SGD>(groups, base);
  } else {
    throw ConfigError(
        fmt::format("optim.name: unknown optimiser '{}'; expected adamw or sgd", config::to_string(o.name)));
  }
}

void Optimizer::set_lr(double lr) {
  for (auto& g : opt_->param_groups()) g.options().set_lr(lr);
}

void Optimizer::step() { opt_->step(); }

void Optimizer::zero_grad() {
  for (auto& p : params_) {
    if (p.grad().defined()) p.mutable_grad().reset();
  }
}

std::vector<torch::Tensor> Optimizer::grads() const {
  std::vector<torch::Tensor> out;
  out.reserve(params_.size());
  for (const auto& p : params_) {
    if (p.grad().defined()) out.push_back(p.grad());
  }
  return out;
}

std::string Optimizer::summary() const {
  int64_t n_decay = 0, n_plain = 0;
  for (size_t i = 0; i < params_.size(); ++i) (i < num_decay_ ? n_decay : n_plain) += params_[i].numel();
  return fmt::format("{}: {} tensors ({} values) with weight decay {}, {} tensors ({} values) without",
                     config::to_string(kind_), num_decay_, count_text(n_decay), weight_decay_,
                     params_.size() - num_decay_, count_text(n_plain));
}

io::NamedTensors Optimizer::state_tensors() const {
  io::NamedTensors out;
  const auto& state = opt_->state();
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto it = state.find(state_key(*opt_, params_[i]));
    if (it == state.end()) continue;
    if (kind_ == config::OptimizerName::AdamW) {
      const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      out.emplace_back(names_[i] + ".exp_avg", s.exp_avg());
      out.emplace_back(names_[i] + ".exp_avg_sq", s.exp_avg_sq());
      if (s.max_exp_avg_sq().defined()) out.emplace_back(names_[i] + ".max_exp_avg_sq", s.max_exp_avg_sq());
    } else {
      const auto& s = static_cast<const torch::optim::SGDParamState&>(*it->second);
      if (s.momentum_buffer().defined()) out.emplace_back(names_[i] + ".momentum_buffer", s.momentum_buffer());
    }
  }
  return out;
}

nlohmann::json Optimizer::state_meta() const {
  nlohmann::json params = nlohmann::json::array();
  const auto& state = opt_->state();
  for (size_t i = 0; i < params_.size(); ++i) {
    nlohmann::json p = {{"name", names_[i]}, {"group", i < num_decay_ ? 0 : 1}, {"shape", params_[i].sizes().vec()}};
    const auto it = state.find(state_key(*opt_, params_[i]));
    p["has_state"] = it != state.end();
    if (it != state.end() && kind_ == config::OptimizerName::AdamW) {
      p["step"] = static_cast<const torch::optim::AdamWParamState&>(*it->second).step();
    }
    params.push_back(p);
  }
  return {{"optimizer", config::to_string(kind_)}, {"weight_decay", weight_decay_}, {"params", params}};
}

void Optimizer::load_state(const io::NamedTensors& tensors, const nlohmann::json& meta) {
  const std::string saved_kind = meta.value("optimizer", "");
  GTGM_CHECK(saved_kind == config::to_string(kind_), "optimizer state is for '{}' but this run uses '{}' (optim.name)",
             saved_kind, config::to_string(kind_));
  std::map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  std::map<std::string, nlohmann::json> saved;
  for (const auto& p : meta.at("params")) saved[p.at("name").get<std::string>()] = p;
  std::vector<std::string> missing, unexpected;
  std::set<std::string> mine(names_.begin(), names_.end());
  for (const auto& n : names_) {
    if (saved.count(n) == 0) missing.push_back(n);
  }
  for (const auto& [n, _] : saved) {
    if (mine.count(n) == 0) unexpected.push_back(n);
  }
  GTGM_CHECK(missing.empty() && unexpected.empty(),
             "optimizer state does not match the model's trainable parameters: missing [{}], unexpected [{}]",
             fmt::join(missing, ", "), fmt::join(unexpected, ", "));

  auto tensor = [&](const std::string& key, const torch::Tensor& param) {
    const auto it = by_name.find(key);
    GTGM_CHECK(it != by_name.end(), "optimizer state: tensor '{}' is missing", key);
    GTGM_CHECK(it->second.sizes() == param.sizes(), "optimizer state: '{}' has shape {} but the parameter has {}", key,
               it->second.sizes(), param.sizes());
    return it->second.to(param.device(), param.scalar_type()).clone();
  };
  auto& state = opt_->state();
  state.clear();
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = saved.at(names_[i]);
    const int saved_group = p.at("group").get<int>();
    const int group = i < num_decay_ ? 0 : 1;
    GTGM_CHECK(saved_group == group, "optimizer state: parameter '{}' was in weight-decay group {} but is now in {}",
               names_[i], saved_group, group);
    if (!p.value("has_state", false)) continue;
    const auto& param = params_[i];
    if (kind_ == config::OptimizerName::AdamW) {
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->step(p.at("step").get<int64_t>());
      s->exp_avg(tensor(names_[i] + ".exp_avg", param));
      s->exp_avg_sq(tensor(names_[i] + ".exp_avg_sq", param));
      if (by_name.count(names_[i] + ".max_exp_avg_sq") != 0) s->max_exp_avg_sq(tensor(names_[i] + ".max_exp_avg_sq", param));
      state[state_key(*opt_, param)] = std::move(s);
    } else {
      auto s = std::make_unique<torch::optim::SGDParamState>();
      if (by_name.count(names_[i] + ".momentum_buffer") != 0) {
        s->momentum_buffer(tensor(names_[i] + ".momentum_buffer", param));
      }
      state[state_key(*opt_, param)] = std::move(s);
    }
  }
}

torch::Tensor global_grad_norm(const std::vector<torch::Tensor>& grads) {
  if (grads.empty()) return torch::zeros({}, torch::kFloat);
  // One fused kernel for the per-tensor norms, one for their norm; computed in fp32.
  const std::vector<torch::Tensor> norms = at::_foreach_norm(grads);
  return torch::stack(norms).to(torch::kFloat).norm();
}

void clip_grads_(const std::vector<torch::Tensor>& grads, const torch::Tensor& norm, double max_norm) {
  if (grads.empty() || max_norm <= 0) return;
  const torch::Tensor coef = (max_norm / (norm + 1e-6)).clamp_max(1.0);
  for (const auto& g : grads) g.mul_(coef.to(g.scalar_type()));
}

}  // namespace gtgm::train
