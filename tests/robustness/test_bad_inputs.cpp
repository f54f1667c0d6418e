// The bad-input suite (#16): one row per fault that a fault-injection pass found (and the bad
// inputs that were already handled), each run through the real `gtgm` binary. Every row asserts
// the exit code, that the message names the file/case/key and what was expected, that no crash
// text (abort, raw filesystem error, std::stoll) appears, and that no file already written before
// the run changed. Rows use demo-size data; nothing here measures time.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/checksum.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/synth.h"
#include "gtgm/io/dicom_io.h"
#include "gtgm/io/nifti.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/io/volume_io.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/embedding_cache.h"
#include "io/io_test_util.h"
#include "io/nifti_patch.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;

// ---- shared inputs, made once -------------------------------------------------------------------

// A small synthetic CT task, its preprocessed cache and captions, and a pretraining config over
// them: what the training rows start from. Read-only for the rows.
struct Shared {
  test::TempDir dir;
  fs::path config() const { return dir / "pretrain.yaml"; }
};

const Shared& shared() {
  static Shared* s = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    s = new Shared();
    data::PhantomOptions p;
    p.modality = "CT";
    p.num_train = 2;
    p.num_test = 0;
    p.shape = {8, 24, 24};
    data::write_phantom_task(s->dir / "task", p);
    test::write_file(s->config(), fmt::format(R"(run:
  device: cpu
  precision: fp32
  threads: 1
  log_level: info
data:
  root: {0}/task
  cache_dir: {0}/cache
  modality: CT
  crop_size: [8, 16, 16]
  batch_size: 2
  num_workers: 1
  prefetch: 1
model:
  type: resnet3d
  depth: 10
  base_channels: 4
  embed_dim: 16
  proj_hidden: 16
  proj_dim: 8
  text_embed_dim: 12
text:
  model_dir: {1}
  max_length: 16
  caption_cache: {0}/captions.jsonl
optim:
  lr: 1.0e-3
  warmup_steps: 0
train:
  steps: 2
  log_every: 1
  checkpoint_every: 2
)",
                                              s->dir.path().string(), test::bert_tiny_dir().string()));
    const auto cfg = config::load_config(s->config());
    data::run_preprocess(cfg.data, cfg.run.seed);
    text::CaptionWriter w(s->dir / "captions.jsonl");
    for (const auto& e : data::read_cache_index(s->dir / "cache"))
      w.append({e.id, {4, 12, 12}, "liver and kidney", "template", ""});
  });
  return *s;
}

// A valid NIfTI-1 file (oblique geometry, int16) to damage.
fs::path good_nifti() { return fs::path(GTGM_TEST_DATA_DIR) / "nifti" / "oblique_int16.nii.gz"; }

// A two-case MSD task in `dir`/task (written by synth, so synth may replace it).
fs::path small_task(const fs::path& dir) {
  data::PhantomOptions p;
  p.modality = "CT";
  p.num_train = 2;
  p.num_test = 0;
  p.shape = {4, 16, 16};
  data::write_phantom_task(dir / "task", p);
  return dir / "task";
}

// A pid that belonged to a process that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// ---- the table -------------------------------------------------------------------------------------

struct Row {
  std::string name;
  /// Writes the bad input under `dir` and returns the gtgm arguments ("{dir}" is not expanded here).
  std::function<std::string(const fs::path& dir)> setup;
  int exit_code;
  /// Substrings the output must hold; "{dir}" stands for the row's folder.
  std::vector<std::string> expect;
  /// Extra checks after the run (files that must or must not exist).
  std::function<void(const fs::path& dir)> after = nullptr;
  /// Files under these relative prefixes may change or go (what the row is about: a rebuilt
  /// cache, removed temp files); everything else written before the run must stay as it was.
  std::vector<std::string> may_change = {};
};

const char* kCrashTexts[] = {"Aborted",   "terminate called",   "filesystem error", "stoll",
                             "LOG ERROR", "Segmentation fault", "vnl_matrix"};

std::string expand(std::string s, const fs::path& dir) {
  for (size_t at; (at = s.find("{dir}")) != std::string::npos;) s.replace(at, 5, dir.string());
  return s;
}

// sha256 of every regular file under `dir`, by relative path.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it) {
    std::error_code ec;
    if (it->is_symlink(ec)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out[fs::relative(it->path(), dir).string()] = core::sha256_file(it->path());
  }
  return out;
}

std::vector<Row> rows() {
  std::vector<Row> r;
  const auto info_config = [](const std::string& sets) { return "info --print-config " + sets; };

  // -- config values and files --
  r.push_back({"ConfigLrInf",
               [=](const fs::path&) { return info_config("--set optim.lr=inf"); },
               2,
               {"--set optim.lr=inf: optim.lr: must be finite, got inf"}});
  r.push_back({"ConfigNanInFile",
               [](const fs::path& d) {
                 test::write_file(d / "c.yaml", "optim:\n  weight_decay: nan\n");
                 return "info --print-config --config " + q(d / "c.yaml");
               },
               2,
               {"{dir}/c.yaml:2: optim.weight_decay: must be finite, got nan"}});
  r.push_back({"ConfigOverflowingNumber",
               [=](const fs::path&) { return info_config("--set loss.vlp_weight=1e999"); },
               2,
               {"loss.vlp_weight: must be finite, got inf"}});
  r.push_back({"ConfigIsAFolder",
               [](const fs::path& d) {
                 fs::create_directories(d / "cfgdir");
                 return "info --print-config --config " + q(d / "cfgdir");
               },
               2,
               {"config file {dir}/cfgdir is a folder; expected a YAML file"}});
  r.push_back({"ConfigDeeplyNestedYaml",
               [](const fs::path& d) {
                 test::write_file(d / "deep.yaml", "a: " + std::string(100000, '[') + std::string(100000, ']') + "\n");
                 return "info --print-config --config " + q(d / "deep.yaml");
               },
               2,
               {"{dir}/deep.yaml:1: invalid YAML: nested too deeply"}});
  r.push_back({"ConfigUnknownKey",
               [](const fs::path& d) {
                 test::write_file(d / "c.yaml", "optim:\n  lrr: 1\n");
                 return "info --print-config --config " + q(d / "c.yaml");
               },
               2,
               {"{dir}/c.yaml:2: unknown key 'optim.lrr' (did you mean 'optim.lr'?)"}});
  r.push_back({"ConfigMissing",
               [](const fs::path& d) { return "info --print-config --config " + q(d / "no.yaml"); },
               2,
               {"config file {dir}/no.yaml does not exist"}});

  // -- NIfTI headers (ITK aborted on some before #16) --
  const auto nifti_row = [&](const std::string& name, const std::string& file, auto patch,
                             std::vector<std::string> expect) {
    r.push_back({name,
                 [file, patch](const fs::path& d) {
                   patch(d / file);
                   return "info --volume " + q(d / file);
                 },
                 1, expect});
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  nifti_row("NiftiSformNan", "srow.nii.gz",
            [=](const fs::path& p) { test::patch_nifti(good_nifti(), p, test::nifti1::kSrowX, nan); },
            {"{dir}/srow.nii.gz: NIfTI-1 header field srow_x has NaN"});
  nifti_row("NiftiSformInf", "srow_inf.nii",
            [=](const fs::path& p) { test::patch_nifti(good_nifti(), p, test::nifti1::kSrowX + 32, inf); },
            {"{dir}/srow_inf.nii: NIfTI-1 header field srow_z has Inf"});
  nifti_row("NiftiQformInf", "qform.nii.gz",
            [=](const fs::path& p) { test::patch_nifti(good_nifti(), p, test::nifti1::kQuaternB + 4, inf); },
            {"{dir}/qform.nii.gz: NIfTI-1 header field quatern_c is Inf"});
  nifti_row("NiftiPixdimZero", "pixdim0.nii.gz",
            [=](const fs::path& p) { test::patch_nifti(good_nifti(), p, test::nifti1::kPixdim + 4, 0.0f); },
            {"{dir}/pixdim0.nii.gz: NIfTI-1 header field pixdim[1] = 0: voxel spacing must be > 0"});
  nifti_row("NiftiPixdimAbsurd", "pixdim_huge.nii.gz",
            [=](const fs::path& p) { test::patch_nifti(good_nifti(), p, test::nifti1::kPixdim + 8, 1e30f); },
            {"{dir}/pixdim_huge.nii.gz: NIfTI-1 header field pixdim[2] =", "mm is not a plausible spacing"});
  nifti_row("Nifti2", "two.nii.gz", [](const fs::path& p) { test::write_nifti2(p, 3, 4, 5); },
            {"{dir}/two.nii.gz: NIfTI-2 is not supported by this ITK build"});
  nifti_row("NiftiTruncated", "cut.nii",
            [](const fs::path& p) {
              std::string b = test::read_nifti_bytes(good_nifti());
              test::write_nifti_bytes(p, b.substr(0, b.size() - 100));
            },
            {"{dir}/cut.nii: truncated"});

  // -- datasets --
  r.push_back({"PlanCheckListsTheBadCaseAndGoesOn",
               [=](const fs::path& d) {
                 const auto task = small_task(d);
                 const auto img = task / "imagesTr" / "synthct_001.nii.gz";
                 test::patch_nifti(img, img, test::nifti1::kSrowX, nan);
                 return "plan --check --set data.root=" + q(task);
               },
               1,
               {"synthct_001", "{dir}/task/imagesTr/synthct_001.nii.gz: NIfTI-1 header field srow_x has NaN",
                "1 problem(s) found"}});
  r.push_back({"PreprocessNamesTheBadCase",
               [=](const fs::path& d) {
                 const auto task = small_task(d);
                 const auto img = task / "imagesTr" / "synthct_000.nii.gz";
                 test::patch_nifti(img, img, test::nifti1::kPixdim + 4, 0.0f);
                 return "preprocess --set data.root=" + q(task) + " --set data.cache_dir=" + q(d / "cache");
               },
               1,
               {"synthct_000", "pixdim[1] = 0: voxel spacing must be > 0"}});
  r.push_back({"ScoreBadPrediction",
               [=](const fs::path& d) {
                 test::patch_nifti(good_nifti(), d / "pred.nii.gz", test::nifti1::kSrowX + 4, nan);
                 fs::copy_file(good_nifti(), d / "ref.nii.gz");
                 return "score --pred " + q(d / "pred.nii.gz") + " --ref " + q(d / "ref.nii.gz");
               },
               1,
               {"{dir}/pred.nii.gz: NIfTI-1 header field srow_x has NaN"}});
  r.push_back({"ScoreOutputIsAFolder",
               [](const fs::path& d) {
                 fs::copy_file(good_nifti(), d / "p.nii.gz");
                 test::write_file(d / "results/summary.json", "{\"previous\": true}\n");
                 return "score --pred " + q(d / "p.nii.gz") + " --ref " + q(d / "p.nii.gz") + " -o " + q(d / "results");
               },
               1,
               {"score -o (summary.json path): {dir}/results is a folder; expected a file path"}});
  r.push_back({"ExportOutIsAFile",
               [](const fs::path& d) {
                 test::write_file(d / "out", "a file");
                 fs::create_directories(d / "run" / "checkpoints");
                 return "export " + q(d / "run") + " --out " + q(d / "out");
               },
               1,
               {"export --out: {dir}/out is a file; expected a folder"}});
  r.push_back({"StrayCheckpointFolder",
               [](const fs::path& d) {
                 fs::create_directories(d / "run" / "checkpoints" / "step_99999999999999999999999");
                 return "export " + q(d / "run") + " --out " + q(d / "out");
               },
               1,
               {"ignoring {dir}/run/checkpoints/step_99999999999999999999999: its step number does not fit"}});
  r.push_back({"SymlinkLoopAsDataRoot",
               [](const fs::path& d) {
                 fs::create_symlink(d / "loop", d / "loop");
                 return "plan --check --set data.root=" + q(d / "loop");
               },
               1,
               {"{dir}/loop", "symbolic links"}});
  r.push_back({"NonUtf8FileName",
               [=](const fs::path& d) {
                 fs::create_directories(d / "vols");
                 fs::copy_file(good_nifti(), d / "vols" / "ok.nii.gz");
                 fs::copy_file(good_nifti(), d / "vols" / "bad\xff\xfe.nii.gz");
                 return "plan --check --set data.format=glob --set data.root=" + q(d / "vols");
               },
               1,
               {"{dir}/vols/bad\\xff\\xfe.nii.gz: file name is not valid UTF-8"}});
  r.push_back({"EmptyTrainingList",
               [](const fs::path& d) {
                 test::write_file(d / "task/dataset.json",
                                  R"({"name": "x", "labels": {"0": "background"}, "modality": {"0": "CT"}, )"
                                  R"("training": [], "test": []})");
                 return "plan --check --set data.root=" + q(d / "task");
               },
               1,
               {"{dir}/task: the manifest lists no training cases"}});
  r.push_back({"DicomJitterIsReadWithAWarning",
               [](const fs::path& d) {
                 io::Volume v = test::ramp_volume(torch::kShort);
                 v.geometry.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
                 v.geometry.origin = {0, 0, 10.25};
                 v.geometry.spacing = {1, 1, 2.5};
                 io::write_dicom_series(v, d / "s");
                 std::string b = core::read_text_file(d / "s" / "slice_0002.dcm");
                 b.replace(b.find("\\15.25") + 1, 5, "15.27");
                 test::write_file(d / "s" / "slice_0002.dcm", b);
                 return "info --volume " + q(d / "s");
               },
               0,
               {"slice positions jitter by up to 0.02 mm", "read as uniform spacing"}});
  r.push_back({"DicomMissingSliceIsRefused",
               [](const fs::path& d) {
                 io::write_dicom_series(test::ramp_volume(torch::kShort), d / "s");
                 fs::remove(d / "s" / "slice_0002.dcm");
                 return "info --volume " + q(d / "s");
               },
               1,
               {"{dir}/s: irregular slice spacing", "above the 10% tolerated"}});
  r.push_back({"SynthKeepsUserFiles",
               [](const fs::path& d) {
                 data::PhantomOptions p;
                 p.num_train = 1;
                 p.num_test = 0;
                 p.shape = {4, 16, 16};
                 data::write_phantom_task(d / "Task01_SynthCT", p);
                 test::write_file(d / "Task01_SynthCT" / "notes.txt", "mine");
                 return "synth --out " + q(d) + " --kind ct --cases 1 --test-cases 0 --shape 4,16,16";
               },
               1,
               {"notes.txt", "refusing to replace it"}});
  r.push_back(
      {"StaleCacheIsRebuilt",
       [](const fs::path& d) {
         const auto task = small_task(d);
         const auto cfg =
             config::default_config({"data.root=" + task.string(), "data.cache_dir=" + (d / "cache").string()});
         data::run_preprocess(cfg.data, cfg.run.seed);
         // The label of case 1 is replaced after preprocessing (same grid, one organ erased).
         const auto label = task / "labelsTr" / "synthct_001.nii.gz";
         io::Volume v = io::read_volume(label);
         v.data = v.data.masked_fill(v.data == 1, 0);
         io::write_volume(v, label);
         return "preprocess --set data.root=" + q(task) + " --set data.cache_dir=" + q(d / "cache");
       },
       0,
       {"case 'synthct_001' is rebuilt: {dir}/task/labelsTr/synthct_001.nii.gz changed", "1 cases written, 1 reused"}});
  r.back().may_change = {"cache/"};
  r.push_back({"KilledPreprocessTempFilesAreRemoved",
               [](const fs::path& d) {
                 const auto task = small_task(d);
                 const auto cfg =
                     config::default_config({"data.root=" + task.string(), "data.cache_dir=" + (d / "cache").string()});
                 data::run_preprocess(cfg.data, cfg.run.seed);
                 test::write_file(d / "cache" / "cases" / fmt::format(".synthct_000.gvol.tmp.{}.0", dead_pid()), "cut");
                 return "preprocess --set data.root=" + q(task) + " --set data.cache_dir=" + q(d / "cache");
               },
               0,
               {"removed 1 temp file(s) left by a killed earlier run"},
               [](const fs::path& d) {
                 for (const auto& e : fs::directory_iterator(d / "cache" / "cases"))
                   EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
               }});
  r.back().may_change = {"cache/cases/.synthct_000.gvol.tmp."};

  // -- training --
  const auto pretrain = [](const fs::path& d, const std::string& sets) {
    return "pretrain --config " + q(shared().config()) + " --set run.dir=" + q(d / "run") + " " + sets;
  };
  r.push_back({"CropFarLargerThanTheCases",
               [=](const fs::path& d) { return pretrain(d, "--set data.crop_size=[64,128,128]"); },
               1,
               {"data.crop_size [64, 128, 128] is more than 4x case", "cached shape [D, H, W]"}});
  r.push_back({"NanTextEmbeddings",
               [=](const fs::path& d) {
                 auto emb = torch::ones({2, 12});
                 emb[1][3] = std::numeric_limits<float>::quiet_NaN();
                 text::save_embedding_cache(d / "emb.safetensors", emb, torch::zeros({2}, torch::kLong),
                                            torch::ones({2}, torch::kUInt8), {});
                 return pretrain(d, "--set text.embedding_cache=" + q(d / "emb.safetensors"));
               },
               1,
               {"{dir}/emb.safetensors: text-embedding row 1 holds NaN/Inf"}});
  r.push_back({"SafetensorsShapeOverflow",
               [=](const fs::path& d) {
                 const std::string header =
                     R"({"embeddings":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
                 std::string bytes(8, '\0');
                 const uint64_t n = header.size();
                 std::memcpy(bytes.data(), &n, 8);
                 test::write_file(d / "emb.safetensors", bytes + header);
                 return pretrain(d, "--set text.embedding_cache=" + q(d / "emb.safetensors"));
               },
               1,
               {"{dir}/emb.safetensors: tensor 'embeddings': shape [4294967296,4294967296]",
                "more elements than 64-bit sizes can count"}});
  r.push_back({"LogFileOnAFullDisk",
               [=](const fs::path& d) {
                 fs::create_directories(d / "run");
                 fs::create_symlink("/dev/full", d / "run" / "log.txt");
                 return pretrain(d, "");
               },
               0,
               {"gtgm: warning: cannot write the log file {dir}/run/log.txt"},
               [](const fs::path& d) {
                 // Training went on and wrote its checkpoint.
                 EXPECT_TRUE(fs::exists(d / "run" / "checkpoints" / "step_000000002" / "manifest.json"));
               }});
  return r;
}

class BadInput : public ::testing::TestWithParam<Row> {};

TEST_P(BadInput, RefusedClearlyWithoutDamage) {
  const Row& row = GetParam();
  if (row.name == "LogFileOnAFullDisk" && !fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  test::TempDir dir;
  const std::string args = row.setup(dir.path());
  const auto before = snapshot(dir.path());
  const auto res = test::run_gtgm(args);
  SCOPED_TRACE("gtgm " + args + "\n" + res.output);
  EXPECT_EQ(res.exit_code, row.exit_code);
  for (const auto& e : row.expect) {
    const std::string want = expand(e, dir.path());
    EXPECT_NE(res.output.find(want), std::string::npos) << "expected the output to contain: " << want;
  }
  for (const char* crash : kCrashTexts) EXPECT_EQ(res.output.find(crash), std::string::npos) << crash;
  // Nothing written before the run changed (new files, such as a log, may appear).
  const auto after = snapshot(dir.path());
  for (const auto& [file, hash] : before) {
    bool may = false;
    for (const auto& prefix : row.may_change) may = may || file.rfind(prefix, 0) == 0;
    if (may) continue;
    const auto it = after.find(file);
    if (it == after.end()) {
      ADD_FAILURE() << file << " was deleted";
    } else {
      EXPECT_EQ(it->second, hash) << file << " changed";
    }
  }
  if (row.after) row.after(dir.path());
}

INSTANTIATE_TEST_SUITE_P(Robustness, BadInput, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

}  // namespace
}  // namespace gtgm
