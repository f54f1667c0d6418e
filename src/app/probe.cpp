#include "gtgm/app/probe.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "gtgm/app/train_setup.h"
#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/loader.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/io/volume_io.h"
#include "gtgm/train/checkpoint.h"
#include "gtgm/train/pretrain_task.h"

namespace gtgm::app {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// What one encoder makes of the crops.
struct ProbeFeatures {
  torch::Tensor e;        // [N, embed_dim] pooled features
  torch::Tensor v;        // [N, proj_dim] image projection
  torch::Tensor caption;  // [U, proj_dim] projected distinct captions (undefined without text)
};

ProbeFeatures probe_features(train::PretrainTask& task, const std::vector<data::PretrainBatch>& batches,
                             const torch::Tensor& distinct_text, int64_t n, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  task.module().eval();
  auto& model = task.model();
  std::vector<torch::Tensor> e, v;
  for (const auto& b : batches) {
    const auto out = model->encode_image(b.view1);
    e.push_back(out.embedding.to(torch::kCPU, torch::kDouble));
    v.push_back(out.projection.to(torch::kCPU, torch::kDouble));
  }
  ProbeFeatures f;
  f.e = torch::cat(e).slice(0, 0, n);
  f.v = torch::cat(v).slice(0, 0, n);
  if (distinct_text.defined())
    f.caption = model->project_text(distinct_text.to(device, torch::kFloat)).to(torch::kCPU, torch::kDouble);
  return f;
}

std::string ratio(double v) { return fmt::format("{:.3f}", v); }

}  // namespace

int64_t majority_label(const torch::Tensor& label, const std::array<int64_t, 3>& corner,
                       const std::array<int64_t, 3>& centre) {
  GTGM_CHECK(label.dim() == 3, "majority label: expected a [D, H, W] label volume, got {}", label.sizes());
  using torch::indexing::Slice;
  std::vector<torch::indexing::TensorIndex> box;
  for (int a = 0; a < 3; ++a) {
    const int64_t size = label.size(a);
    const int64_t lo = std::clamp<int64_t>(std::min(corner[a], centre[a]), 0, size - 1);
    const int64_t hi = std::clamp<int64_t>(std::max(2 * centre[a] - corner[a], centre[a]), 0, size - 1);
    box.emplace_back(Slice(lo, hi + 1));
  }
  const auto values = label.index(box).flatten().to(torch::kLong);
  const int64_t low = values.min().item<int64_t>();
  GTGM_CHECK(low >= 0, "majority label: negative label {} in the volume", low);
  return torch::bincount(values).argmax().item<int64_t>();
}

ProbeReport run_probe(const fs::path& run_dir, const config::Config& cfg, const ProbeOptions& options) {
  GTGM_CHECK(options.crops >= 4, "gtgm probe: --crops {} (expected at least 4)", options.crops);
  ProbeReport rep;
  rep.run_dir = run_dir.string();
  const fs::path ck = train::resolve_checkpoint(run_dir);
  rep.checkpoint = ck.string();
  const train::CheckpointData saved = train::read_checkpoint(ck);
  rep.step = saved.step;
  rep.seed = static_cast<uint64_t>(options.seed.value_or(cfg.run.seed + 1));

  const torch::Device device = core::select_device(cfg.run.device);
  const dist::Context ctx(device);
  const auto task_cfg = pretrain_task_config(cfg);
  train::PretrainTask pretrained(task_cfg, device, train::make_loader_source(cfg.data, cfg.run.seed, device, ctx));
  io::load_state_into(pretrained.module(), saved.weights, /*strict=*/true, (ck / "model.safetensors").string());
  torch::manual_seed(static_cast<uint64_t>(cfg.run.seed));  // the random encoder's initialisation
  train::PretrainTask random(task_cfg, device, train::make_loader_source(cfg.data, cfg.run.seed, device, ctx));
  rep.text_source = pretrained.text_source();

  // The crops: the pretraining loader without augmentation, seeded by the probe's seed.
  const auto ds = data::CacheDataset::open(data::resolve_cache_dir(cfg.data));
  data::LoaderOptions lo;
  lo.seed = rep.seed;
  lo.device = device;
  lo.augment = false;
  data::PretrainLoader loader(ds, cfg.data, lo);
  std::vector<data::PretrainBatch> batches;
  int64_t n = 0;
  while (n < options.crops) {
    batches.push_back(loader.next());
    n += static_cast<int64_t>(batches.back().case_ids.size());
  }
  n = options.crops;
  rep.crops = n;

  // Majority labels from the source label volumes (as the captions, in source voxels).
  std::map<std::string, torch::Tensor> label_of;
  std::vector<int64_t> labels;
  bool have_labels = true;
  for (const auto& b : batches) {
    const auto pos = b.positions.to(torch::kLong).contiguous();
    const auto cor = b.corners.to(torch::kLong).contiguous();
    for (size_t i = 0; i < b.case_ids.size() && static_cast<int64_t>(labels.size()) < n && have_labels; ++i) {
      const std::string& id = b.case_ids[i];
      if (!label_of.count(id)) {
        const auto& entry = ds->at(ds->index_of(id)).entry;
        if (entry.source_label.empty()) {
          have_labels = false;
          rep.probe_note = fmt::format("case '{}' has no label in {}: no linear probe", id, ds->dir().string());
          break;
        }
        label_of[id] = io::read_volume(entry.source_label).data[0];
      }
      const auto c = cor[static_cast<int64_t>(i)], p = pos[static_cast<int64_t>(i)];
      labels.push_back(majority_label(label_of[id], {c[0].item<int64_t>(), c[1].item<int64_t>(), c[2].item<int64_t>()},
                                      {p[0].item<int64_t>(), p[1].item<int64_t>(), p[2].item<int64_t>()}));
    }
  }
  if (have_labels) {
    for (int64_t l : labels) ++rep.labels[l];
    if (rep.labels.size() < 2)
      rep.probe_note = fmt::format("every crop's majority label is {}: no linear probe (try more --crops)",
                                   rep.labels.begin()->first);
  }

  // Distinct captions: the crops' caption texts (the cache rows pretraining pairs them with),
  // deduplicated by text and encoded in one batch, so one text is one caption whatever padding a
  // batch would give it.
  torch::Tensor distinct, caption_of;
  if (pretrained.objective()->uses_text()) {
    std::vector<int64_t> rows;
    for (const auto& b : batches) {
      const auto r = pretrained.caption_rows(b);
      rows.insert(rows.end(), r.begin(), r.end());
    }
    rows.resize(static_cast<size_t>(n));
    std::map<std::string, int64_t> text_index;  // text -> distinct caption (sorted by text)
    for (const int64_t r : rows) text_index.emplace(pretrained.captions().text(r), 0);
    std::vector<int64_t> representative;
    for (auto& [text, k] : text_index) {
      k = static_cast<int64_t>(representative.size());
      representative.push_back(-1);
    }
    std::vector<int64_t> of(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const int64_t k = text_index.at(pretrained.captions().text(rows[i]));
      if (representative[static_cast<size_t>(k)] < 0) representative[static_cast<size_t>(k)] = rows[i];
      of[i] = k;
    }
    {
      torch::NoGradGuard no_grad;
      distinct = pretrained.caption_embeddings(representative).to(torch::kCPU, torch::kFloat);
    }
    caption_of = torch::tensor(of, torch::kLong);
    rep.captions = distinct.size(0);
  }

  infer::LinearProbeOptions po;
  po.steps = options.probe_steps;
  po.train_fraction = options.train_fraction;
  po.seed = rep.seed;
  for (auto* task : {&pretrained, &random}) {
    EncoderProbe ep;
    ep.name = task == &pretrained ? "pretrained" : "random";
    const auto f = probe_features(*task, batches, distinct, n, device);
    if (distinct.defined()) ep.retrieval = infer::retrieval(f.v, f.caption, caption_of, options.ks);
    if (rep.probe_note.empty()) ep.probe = infer::linear_probe(f.e, torch::tensor(labels, torch::kLong), po);
    ep.effective_rank = infer::effective_rank(f.e);
    ep.spread = infer::dimension_spread(f.e);
    rep.encoders.push_back(ep);
  }
  return rep;
}

std::string format_probe_text(const ProbeReport& r) {
  std::ostringstream ss;
  ss << fmt::format("gtgm probe {} (checkpoint step {}): {} crops (seed {}), {} distinct caption(s); text: {}\n",
                    r.run_dir, r.step, r.crops, r.seed, r.captions, r.text_source);
  if (!r.labels.empty()) {
    std::vector<std::string> l;
    for (const auto& [k, v] : r.labels) l.push_back(fmt::format("{}: {}", k, v));
    ss << fmt::format("majority labels of the crops: {}\n", fmt::join(l, ", "));
  }
  ss << fmt::format("\n{:<28}{:>12}{:>12}{:>12}\n", "", "pretrained", "random", "chance");
  auto line = [&](const std::string& name, const std::string& a, const std::string& b, const std::string& c) {
    ss << fmt::format("{:<28}{:>12}{:>12}{:>12}\n", name, a, b, c);
  };
  const auto& p = r.encoders.at(0);
  const auto& q = r.encoders.at(1);
  if (p.retrieval && q.retrieval) {
    for (size_t k = 0; k < p.retrieval->ks.size(); ++k) {
      line(fmt::format("image->text top-{}", p.retrieval->ks[k]), ratio(p.retrieval->image_to_text[k]),
           ratio(q.retrieval->image_to_text[k]), ratio(p.retrieval->image_to_text_chance[k]));
      line(fmt::format("text->image top-{}", p.retrieval->ks[k]), ratio(p.retrieval->text_to_image[k]),
           ratio(q.retrieval->text_to_image[k]), ratio(p.retrieval->text_to_image_chance[k]));
    }
  } else {
    ss << "retrieval: n/a (no text: loss.vlp_weight = 0)\n";
  }
  if (p.probe && q.probe) {
    line("linear probe test accuracy", ratio(p.probe->test_accuracy), ratio(q.probe->test_accuracy),
         ratio(p.probe->majority_baseline));
    line("linear probe train accuracy", ratio(p.probe->train_accuracy), ratio(q.probe->train_accuracy), "");
  } else {
    ss << "linear probe: n/a (" << r.probe_note << ")\n";
  }
  line("effective rank of E", fmt::format("{:.2f}", p.effective_rank), fmt::format("{:.2f}", q.effective_rank),
       fmt::format("/ {}", p.spread.dims));
  line("per-dim sd of E: min", fmt::format("{:.2e}", p.spread.min), fmt::format("{:.2e}", q.spread.min), "");
  line("per-dim sd of E: median", fmt::format("{:.2e}", p.spread.median), fmt::format("{:.2e}", q.spread.median), "");
  line("per-dim sd of E: max", fmt::format("{:.2e}", p.spread.max), fmt::format("{:.2e}", q.spread.max), "");
  line("dims with sd < 1e-4", std::to_string(p.spread.dead), std::to_string(q.spread.dead), "");
  return ss.str();
}

json probe_json(const ProbeReport& r) {
  json j = {
      {"schema", "gtgm-probe/1"},  {"run_dir", r.run_dir}, {"checkpoint", r.checkpoint}, {"step", r.step},
      {"crops", r.crops},          {"seed", r.seed},       {"captions", r.captions},     {"text_source", r.text_source},
      {"probe_note", r.probe_note}};
  json labels = json::object();
  for (const auto& [k, v] : r.labels) labels[std::to_string(k)] = v;
  j["labels"] = labels;
  j["encoders"] = json::array();
  for (const auto& e : r.encoders) {
    json x = {{"name", e.name},         {"effective_rank", e.effective_rank}, {"dims", e.spread.dims},
              {"sd_min", e.spread.min}, {"sd_median", e.spread.median},       {"sd_mean", e.spread.mean},
              {"sd_max", e.spread.max}, {"dead_dims", e.spread.dead}};
    if (e.retrieval) {
      x["retrieval"] = {{"k", e.retrieval->ks},
                        {"image_to_text", e.retrieval->image_to_text},
                        {"text_to_image", e.retrieval->text_to_image},
                        {"image_to_text_chance", e.retrieval->image_to_text_chance},
                        {"text_to_image_chance", e.retrieval->text_to_image_chance}};
    } else {
      x["retrieval"] = nullptr;
    }
    if (e.probe) {
      x["linear_probe"] = {{"test_accuracy", e.probe->test_accuracy},
                           {"train_accuracy", e.probe->train_accuracy},
                           {"majority_baseline", e.probe->majority_baseline},
                           {"train", e.probe->train},
                           {"test", e.probe->test},
                           {"classes", e.probe->classes}};
    } else {
      x["linear_probe"] = nullptr;
    }
    j["encoders"].push_back(x);
  }
  return j;
}

}  // namespace gtgm::app
