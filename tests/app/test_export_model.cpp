// Exported fine-tuned networks rebuilt in plain PyTorch (python/gtgm_models.py, run by
// /usr/bin/python3) give gtgm's logits to 1e-5: a table of tiny encoder x decoder x norm x
// upsampling configurations exported through the library, and one real tiny fine-tuning run
// exported by the `gtgm export` binary. Also: `--pretrained` reads the export's encoder.pt (and a
// dict written by Python's torch.save) to the same tensors as encoder.safetensors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gtgm/app/export.h"
#include "gtgm/app/finetune.h"
#include "gtgm/app/load_predictor.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/synth.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/io/torch_dict.h"
#include "gtgm/models/registry.h"
#include "gtgm/train/segmentation_task.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

bool python_has_torch() {
  static const bool ok =
      fs::exists("/usr/bin/python3") && test::run_command("/usr/bin/python3 -c 'import torch' 2>&1").exit_code == 0;
  return ok;
}

/// Non-trivial eval-mode state: BatchNorm running statistics and every 1-D tensor (norm affine
/// parameters, conv biases) perturbed, so the comparison exercises them.
void randomise_vectors(torch::nn::Module& model, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard ng;
  for (const auto& item : model.named_buffers(true)) {
    auto t = item.value();
    if (!t.is_floating_point()) continue;
    const auto& name = item.key();
    if (name.size() >= 11 && name.compare(name.size() - 11, 11, "running_var") == 0) {
      t.uniform_(0.5, 2.0);
    } else {
      t.normal_(0.0, 0.2);
    }
  }
  for (auto& p : model.parameters(true)) {
    if (p.dim() == 1) p.add_(torch::randn_like(p) * 0.2);
  }
}

/// Runs python/gtgm_models.py on `export_dir` with the tensor "input" of `input` and returns its
/// logits ("logits", "deep.<i>") in order.
std::vector<torch::Tensor> python_logits(const fs::path& export_dir, const torch::Tensor& x, const fs::path& work) {
  fs::create_directories(work);
  io::save_safetensors(work / "input.safetensors", {{"input", x}});
  const auto r = test::run_command(
      fmt::format("/usr/bin/python3 {}/python/gtgm_models.py {} --input {} --output {} 2>&1", GTGM_SOURCE_ROOT,
                  export_dir.string(), (work / "input.safetensors").string(), (work / "logits.safetensors").string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return {};
  std::map<std::string, torch::Tensor> by_name;
  for (auto& [name, t] : io::load_safetensors(work / "logits.safetensors")) by_name[name] = t;
  std::vector<torch::Tensor> out{by_name.at("logits")};
  for (size_t i = 0; by_name.count(fmt::format("deep.{}", i)) != 0; ++i)
    out.push_back(by_name.at(fmt::format("deep.{}", i)));
  return out;
}

void expect_same_logits(const std::vector<torch::Tensor>& gtgm, const std::vector<torch::Tensor>& python,
                        const std::string& what) {
  ASSERT_EQ(gtgm.size(), python.size()) << what;
  for (size_t i = 0; i < gtgm.size(); ++i) {
    ASSERT_EQ(gtgm[i].sizes(), python[i].sizes()) << what << " level " << i;
    const double diff = (gtgm[i] - python[i]).abs().max().item<double>();
    EXPECT_LE(diff, 1e-5) << what << " level " << i << ": max |gtgm - python| = " << diff << " (logits up to "
                          << gtgm[i].abs().max().item<double>() << ")";
  }
}

struct Row {
  std::string name;
  std::vector<std::string> sets;
  std::vector<int64_t> input;  ///< [B, C, *S]
};

// Every encoder x decoder pair build_segmentation_model accepts, with each norm, activation,
// upsampling mode, head and the padding path (sizes that are not multiples of the stride).
const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"resnet10_batch_transposed_deep_padded",
       {"model.type=resnet3d", "model.depth=10", "model.base_channels=4", "model.embed_dim=16",
        "model.deep_supervision=true", "model.num_classes=3"},
       {2, 1, 10, 20, 24}},
      {"resnet18_group_interpolate_nopool_leaky",
       {"model.type=resnet3d", "model.depth=18", "model.base_channels=4", "model.embed_dim=0", "model.norm=group",
        "model.norm_groups=2", "model.upsample=interpolate", "model.stem_pool=false", "model.activation=leaky_relu",
        "model.stem_kernel=[3, 3, 3]", "model.stem_stride=[2, 2, 2]"},
       {1, 1, 16, 16, 16}},
      {"resnet50_instance_gelu",
       {"model.type=resnet3d", "model.depth=50", "model.base_channels=2", "model.embed_dim=0", "model.norm=instance",
        "model.activation=gelu", "model.in_channels=2"},
       {1, 2, 16, 32, 32}},
      {"resnet18_resunet_decoder_deep_padded",
       {"model.type=resnet3d", "model.depth=18", "model.base_channels=4", "model.embed_dim=0", "model.decoder=resunet",
        "model.deep_supervision=true", "model.num_classes=3"},
       {1, 1, 10, 36, 40}},
      {"resunet_batch_aniso_blocks_deep",
       {"model.type=resunet", "model.stages=3", "model.channels=[4, 8, 8]", "model.strides=[\"1\", \"1x2x2\", \"2\"]",
        "model.kernels=[\"1x3x3\", \"3\", \"3\"]", "model.blocks=[1, 2, 1]", "model.norm=batch",
        "model.deep_supervision=true", "model.embed_dim=0"},
       {1, 1, 6, 12, 12}},
      {"resunet_instance_interpolate_affinity",
       {"model.type=resunet", "model.stages=3", "model.base_channels=4", "model.norm=instance",
        "model.upsample=interpolate", "model.head=affinity", "model.embed_dim=8"},
       {1, 1, 8, 8, 8}},
      {"unet_group_interpolate",
       {"model.type=unet", "model.stages=4", "model.base_channels=4", "model.max_channels=8", "model.norm=group",
        "model.norm_groups=4", "model.upsample=interpolate", "model.decoder_channels=[4, 4, 8]", "model.embed_dim=0"},
       {1, 1, 8, 16, 16}},
      {"unet_2d_batch",
       {"model.type=unet", "model.spatial_dims=2", "model.stages=3", "model.base_channels=4", "model.norm=batch",
        "model.embed_dim=0", "model.num_classes=4"},
       {2, 1, 12, 20}},
      {"vit_unetr_learnable_resized_deep",
       {"model.type=vit3d", "model.decoder=unetr", "model.patch_size=[4, 8, 8]", "model.input_size=[8, 16, 16]",
        "model.hidden_size=12", "model.num_layers=3", "model.num_heads=2", "model.mlp_dim=16",
        "model.unetr_feature_size=4", "model.norm=instance", "model.activation=leaky_relu", "model.embed_dim=0",
        "model.deep_supervision=true"},
       {1, 1, 8, 24, 24}},
      {"vit_unetr_sincos_batch",
       {"model.type=vit3d", "model.patch_size=[4, 4, 4]", "model.input_size=[8, 8, 8]", "model.hidden_size=12",
        "model.num_layers=2", "model.num_heads=3", "model.mlp_dim=8", "model.pos_embed=sincos",
        "model.unetr_feature_size=2", "model.norm=batch", "model.embed_dim=6"},
       {1, 1, 8, 8, 12}},
  };
  return r;
}

}  // namespace

class ExportModelTable : public ::testing::TestWithParam<size_t> {};

TEST_P(ExportModelTable, PythonRebuildGivesGtgmLogits) {
  const Row& row = rows()[GetParam()];
  test::TempDir dir;
  std::vector<std::string> sets = {"model.in_channels=1", "model.num_classes=2"};  // the row may override them
  sets.insert(sets.end(), row.sets.begin(), row.sets.end());
  const config::Config cfg = config::default_config(sets);
  models::SegmentationModel model = models::build_segmentation_model(cfg.model);
  randomise_vectors(*model, 7 + GetParam());
  model->eval();
  torch::manual_seed(11);
  const torch::Tensor x = torch::randn(row.input);
  std::vector<torch::Tensor> expected;
  {
    torch::NoGradGuard ng;
    expected = model->forward_deep(x);
  }
  const app::ExportResult r = app::export_segmentation_model(*model, cfg, dir / "export");
  EXPECT_EQ(r.format, "gtgm-segmentation");
  const auto arch = nlohmann::json::parse(core::read_text_file(dir / "export" / "architecture.json"));
  EXPECT_EQ(arch["network"]["encoder"]["type"], config::to_string(cfg.model.type)) << row.name;
  EXPECT_EQ(arch["tensors"].size(), io::module_state(*model).size()) << row.name;
  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 has no torch: cannot check python/gtgm_models.py";
  expect_same_logits(expected, python_logits(dir / "export", x, dir / "py"), row.name);
}

INSTANTIATE_TEST_SUITE_P(Configs, ExportModelTable, ::testing::Range<size_t>(0, rows().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return rows()[info.param].name; });

TEST(ExportModel, UnsupportedArchitectureNamesTheKey) {
  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 has no torch";
  test::TempDir dir;
  const config::Config cfg = config::default_config({"model.in_channels=1", "model.num_classes=2", "model.type=unet",
                                                     "model.stages=2", "model.base_channels=2", "model.embed_dim=0"});
  models::SegmentationModel model = models::build_segmentation_model(cfg.model);
  app::export_segmentation_model(*model, cfg, dir / "export");
  auto arch = nlohmann::json::parse(core::read_text_file(dir / "export" / "architecture.json"));
  arch["network"]["decoder"]["upsample"] = "nearest";
  core::atomic_write_text(dir / "export" / "architecture.json", arch.dump(2));
  const auto r = test::run_command(
      fmt::format("/usr/bin/python3 {}/python/gtgm_models.py {} 2>&1", GTGM_SOURCE_ROOT, (dir / "export").string()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("network.decoder.upsample 'nearest' is not supported"), std::string::npos) << r.output;
}

TEST(ExportModel, RealFinetuneRunThroughTheExportBinary) {
  test::TempDir dir;
  data::PhantomOptions p;
  p.num_train = 3;
  p.num_test = 0;
  p.shape = {16, 32, 32};
  data::write_phantom_task(dir / "task", p);
  const config::Config cfg = config::default_config({"run.dir=" + (dir / "run").string(),
                                                     "run.device=cpu",
                                                     "model.in_channels=1",
                                                     "run.precision=fp32",
                                                     "run.log_level=warn",
                                                     "run.threads=1",
                                                     "data.root=" + (dir / "task").string(),
                                                     "data.cache_dir=" + (dir / "cache").string(),
                                                     "data.modality=CT",
                                                     "data.crop_size=[16, 32, 32]",
                                                     "data.batch_size=2",
                                                     "data.num_workers=1",
                                                     "data.prefetch=1",
                                                     "model.type=resnet3d",
                                                     "model.depth=10",
                                                     "model.base_channels=4",
                                                     "model.embed_dim=16",
                                                     "model.num_classes=5",
                                                     "optim.lr=1e-2",
                                                     "train.steps=3",
                                                     "train.validate_every=100",
                                                     "train.checkpoint_every=3",
                                                     "train.log_every=3"});
  app::FinetuneOptions fo;
  fo.predict = false;
  const app::FinetuneResult fr = app::run_finetune(cfg, fo);
  const fs::path out = dir / "export";
  const auto r = test::run_gtgm("export " + fr.run_dir.string() + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("gtgm-segmentation"), std::string::npos) << r.output;
  for (const char* f : {"model.safetensors", "model.pt", "architecture.json"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto arch = nlohmann::json::parse(core::read_text_file(out / "architecture.json"));
  EXPECT_EQ(arch["format"], "gtgm-segmentation");
  EXPECT_EQ(arch["network"]["head"]["out_channels"], 5);
  EXPECT_EQ(arch["network"]["decoder"]["type"], "unet");
  EXPECT_TRUE(arch.contains("plan"));
  EXPECT_EQ(arch["step"], 3);
  // The export holds the checkpoint's tensors unchanged.
  const fs::path ck = arch["source_checkpoint"].get<std::string>();
  const io::NamedTensors stored = io::load_safetensors(ck / "model.safetensors");
  const io::NamedTensors exported = io::load_safetensors(out / "model.safetensors");
  ASSERT_EQ(stored.size(), exported.size());
  std::map<std::string, torch::Tensor> by_name(exported.begin(), exported.end());
  for (const auto& [name, t] : stored) EXPECT_TRUE(torch::equal(t, by_name.at(name))) << name;
  const io::NamedTensors pt = io::load_torch_dict(out / "model.pt");
  ASSERT_EQ(pt.size(), exported.size());
  for (const auto& [name, t] : pt) EXPECT_TRUE(torch::equal(t, by_name.at(name))) << name;
  // Training moved the BatchNorm statistics away from (0, 1), so eval mode is really compared.
  EXPECT_GT(by_name.at("encoder.bn1.running_mean").abs().max().item<double>(), 0.0);

  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 has no torch: cannot check python/gtgm_models.py";
  auto loaded = app::load_predictor(ck, torch::kCPU);
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({1, 1, 16, 32, 32});
  torch::Tensor expected;
  {
    torch::NoGradGuard ng;
    expected = loaded.model->forward(x);
  }
  expect_same_logits({expected}, python_logits(out, x, dir / "py"), "finetune run");
  // A pretraining export is refused with a clear message by the network loader.
  const auto bad =
      test::run_command(fmt::format("/usr/bin/python3 -c \"import sys; sys.path.insert(0, '{}/python'); "
                                    "import gtgm_models; gtgm_models.build_network({{'format': "
                                    "'gtgm-encoder'}})\" 2>&1",
                                    GTGM_SOURCE_ROOT));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("encoder-only export"), std::string::npos) << bad.output;
}

TEST(ExportModel, PretrainedAcceptsTheExportsEncoderPt) {
  test::TempDir dir;
  const config::Config cfg = config::default_config(
      {"model.in_channels=1", "model.type=resnet3d", "model.depth=10", "model.base_channels=4", "model.embed_dim=16"});
  auto source = models::build_encoder(cfg.model);
  randomise_vectors(*source, 5);
  const io::NamedTensors state = io::module_state(*source);
  // What export_encoder writes: encoder.safetensors and encoder.pt of the same tensors.
  io::save_safetensors(dir / "encoder.safetensors", state);
  io::save_torch_dict(dir / "encoder.pt", state);

  auto from_st = models::build_encoder(cfg.model);
  auto from_pt = models::build_encoder(cfg.model);
  const auto rs = train::init_encoder_from(*from_st, dir / "encoder.safetensors");
  const auto rp = train::init_encoder_from(*from_pt, dir / "encoder.pt");
  EXPECT_EQ(rp.loaded, static_cast<int64_t>(state.size())) << rp.text();
  EXPECT_EQ(rp.loaded, rs.loaded);
  EXPECT_EQ(rp.missing_encoder, 0);
  const io::NamedTensors a = io::module_state(*from_st), b = io::module_state(*from_pt);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
    EXPECT_TRUE(torch::equal(a[i].second, state[i].second)) << a[i].first;
  }
  // Errors name the file.
  test::write_file(dir / "junk.pt", "not a pickle");
  EXPECT_THROW_MSG(train::init_encoder_from(*from_pt, dir / "junk.pt"), (dir / "junk.pt").string());
  test::write_file(dir / "weights.bin", "x");
  EXPECT_THROW_MSG(train::init_encoder_from(*from_pt, dir / "weights.bin"), "encoder.pt");

  // A state dict saved by Python's torch.save reads the same way.
  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 has no torch";
  const auto r = test::run_command(
      fmt::format("/usr/bin/python3 -c \"import sys, torch; sys.path.insert(0, '{}/python'); import gtgm_models; "
                  "torch.save(gtgm_models.read_safetensors('{}')[0], '{}')\" 2>&1",
                  GTGM_SOURCE_ROOT, (dir / "encoder.safetensors").string(), (dir / "py_encoder.pt").string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto from_py = models::build_encoder(cfg.model);
  EXPECT_EQ(train::init_encoder_from(*from_py, dir / "py_encoder.pt").loaded, static_cast<int64_t>(state.size()));
  const io::NamedTensors c = io::module_state(*from_py);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, c[i].second)) << a[i].first;
}
