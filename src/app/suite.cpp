#include "gtgm/app/suite.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "gtgm/app/pretraining_overlap.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/log_file_only.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/timer.h"
#include "gtgm/train/checkpoint.h"

namespace gtgm::app {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kRequestFile = "suite_request.yaml";
constexpr const char* kResultFile = "suite_result.json";
constexpr const char* kResultSchema = "gtgm-suite-result/1";
constexpr const char* kReportSchema = "gtgm-eval-report/1";

std::string frac_text(double f) { return fmt::format("{:g}", f); }
std::string percent_text(double f) { return fmt::format("{:g}%", f * 100); }

// A YAML double-quoted scalar, so a --set value is read as this exact string.
std::string yaml_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string error_text(const std::exception& e) {
  if (const auto* g = dynamic_cast<const Error*>(&e)) return g->message();
  return e.what();
}

// How the reports show each suite metric (config::suite_metric_names()); others: as named, 3 decimals.
struct MetricStyle {
  const char* name;
  const char* header;
  int decimals;
  bool percent;  // reported x 100
};
constexpr MetricStyle kSuiteMetricStyles[] = {
    {"dice", "Dice %", 2, true}, {"dice_with_bg", "Dice % (with background)", 2, true},
    {"nsd", "NSD %", 2, true},   {"hd95", "HD95", 2, false},
    {"voi", "VOI", 3, false},    {"arand", "ARAND", 3, false}};

const MetricStyle* metric_style(const std::string& metric) {
  for (const auto& s : kSuiteMetricStyles) {
    if (metric == s.name) return &s;
  }
  return nullptr;
}

int decimals(const std::string& metric) {
  const MetricStyle* s = metric_style(metric);
  return s != nullptr ? s->decimals : 3;
}

std::string value_cell(const std::optional<double>& v, const std::string& metric, bool sign = false) {
  if (!v) return "-";
  return sign ? fmt::format("{:+.{}f}", *v, decimals(metric)) : fmt::format("{:.{}f}", *v, decimals(metric));
}

// A value in a log line: "0.75%" for a percent metric (a table cell's header carries the unit instead).
std::string value_text(const std::optional<double>& v, const std::string& metric) {
  const MetricStyle* s = metric_style(metric);
  return value_cell(v, metric) + (v && s != nullptr && s->percent ? "%" : "");
}

std::string metric_header(const std::string& metric) {
  const MetricStyle* s = metric_style(metric);
  return s != nullptr ? s->header : metric;
}

// ours - paper, ours computed the paper's way (Dice with background).
std::optional<double> delta(const SuiteRow& r) {
  if (r.ours_as_paper && r.paper) return *r.ours_as_paper - *r.paper;
  return std::nullopt;
}

bool row_ok(const SuiteRow& r) {
  return r.status == RowStatus::Done || r.status == RowStatus::Reused || r.status == RowStatus::Resumed;
}

void fill_from_result(SuiteRow& row, const json& j) {
  for (const auto& [k, v] : j.at("metrics").items()) {
    if (v.is_number()) row.metrics[k] = v.get<double>();
  }
  row.summary_json = j.value("summary_json", "");
  row.init_report = j.value("init_report", "");
  row.train_cases = j.value("train_cases", int64_t{0});
  row.test_cases = j.value("test_cases", int64_t{0});
  row.seconds = j.value("seconds", 0.0);
  const auto it = row.metrics.find(row.metric);
  if (it == row.metrics.end()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : row.metrics) names.push_back(k);
    row.status = RowStatus::Failed;
    row.message = fmt::format("the run's summary has no '{}' (it has: {})", row.metric, fmt::join(names, ", "));
  } else if (!std::isfinite(it->second)) {
    row.message = fmt::format("mean {} is undefined (NaN: every case empty?)", row.metric);
  } else {
    row.ours = report_value(row.metric, it->second);
  }
  const std::string paper_way = paper_way_metric(row.metric);
  const auto pw = row.metrics.find(paper_way);
  if (pw != row.metrics.end() && std::isfinite(pw->second)) row.ours_as_paper = report_value(paper_way, pw->second);
}

json result_json(const FinetuneResult& r, double seconds) {
  json metrics = json::object();
  for (const auto& [k, v] : r.mean_metrics) metrics[k] = std::isfinite(v) ? json(v) : json(nullptr);
  return {{"schema", kResultSchema},
          {"metrics", metrics},
          {"summary_json", r.summary_json.string()},
          {"predictions_dir", r.predictions_dir.string()},
          {"best_checkpoint", r.best_checkpoint.string()},
          {"train_cases", r.train_cases},
          {"test_cases", r.test_cases},
          {"init_report", r.init_report},
          {"steps", r.train.step},
          {"seconds", seconds}};
}

json read_result(const fs::path& file) {
  json j;
  try {
    j = json::parse(core::read_text_file(file));
  } catch (const json::exception& e) {
    GTGM_THROW("{}: not valid JSON ({})", file.string(), e.what());
  }
  GTGM_CHECK(j.is_object() && j.value("schema", "") == kResultSchema && j.contains("metrics"),
             "{}: not a gtgm eval run result (expected schema '{}')", file.string(), kResultSchema);
  return j;
}

// What to do with one run dir.
enum class SuiteRunMode { Reuse, Resume, Start, Refuse };
struct Plan {
  SuiteRunMode mode = SuiteRunMode::Start;
  std::string message;  // why a run dir is refused
};

Plan plan_run(const fs::path& dir, const config::Config& cfg) {
  const fs::path request = dir / kRequestFile;
  if (!fs::exists(request)) {
    std::error_code ec;
    if (fs::exists(dir) && !fs::is_empty(dir, ec))
      return {SuiteRunMode::Refuse,
              fmt::format("run dir {} exists but was not started by gtgm eval (no {}); move it away or "
                          "change output_dir",
                          dir.string(), kRequestFile)};
    return {SuiteRunMode::Start, ""};
  }
  std::vector<std::string> differences;
  try {
    differences = config::diff(config::load_config(request), cfg);
  } catch (const std::exception& e) {
    return {SuiteRunMode::Refuse, fmt::format("{} cannot be read back ({}); delete {} to rerun", request.string(),
                                              error_text(e), dir.string())};
  }
  if (!differences.empty()) {
    const size_t n = differences.size();
    differences.resize(std::min<size_t>(n, 3));
    return {SuiteRunMode::Refuse,
            fmt::format("run dir {} holds a run of another config ({} key(s) differ: {}{}); delete it to "
                        "rerun, or change output_dir",
                        dir.string(), n, fmt::join(differences, "; "), n > 3 ? "; ..." : "")};
  }
  if (fs::exists(dir / kResultFile)) {
    const json j = read_result(dir / kResultFile);
    const std::string summary = j.value("summary_json", "");
    if (!summary.empty() && fs::exists(summary)) return {SuiteRunMode::Reuse, ""};
  }
  // Resume only where a checkpoint folder exists: a run killed while writing its first checkpoint
  // leaves only that write's temp folder, and resuming it would fail with "no usable checkpoint".
  // The fresh start removes the temp files (RunSession).
  return {train::list_checkpoints(dir).empty() ? SuiteRunMode::Start : SuiteRunMode::Resume, ""};
}

SuiteRow run_one(const config::SuiteConfig& suite, const config::SuiteDataset& ds, size_t k,
                 const config::SuiteInit& init, std::optional<int64_t> seed, const SuiteRunOptions& options,
                 const std::string& tag) {
  SuiteRow row;
  row.dataset = ds.name;
  row.metric = ds.metric;
  row.fraction = ds.label_fractions[k];
  row.fraction_label = k < ds.fraction_labels.size() ? ds.fraction_labels[k] : percent_text(row.fraction);
  row.init = init.name;
  row.seed = seed.value_or(0);
  if (const auto p = suite.paper_value(ds, init.name, k)) row.paper = *p;
  const fs::path data = (fs::path(suite.data_root) / ds.data).lexically_normal();
  if (!fs::exists(data)) {
    row.status = RowStatus::DataMissing;
    row.message = "data missing: " + data.string();
    return row;
  }
  try {
    const fs::path dir = run_dir(suite, ds.name, init.name, row.fraction, seed);
    row.run_dir = dir.string();
    if (!init.path.empty() && !fs::exists(init.path)) {
      row.status = RowStatus::Failed;
      row.message = fmt::format("init '{}': {} does not exist (run gtgm pretrain first, or fix inits.{})", init.name,
                                init.path, init.name);
      GTGM_WARN("{} {}", tag, row.message);
      return row;
    }
    const config::Config cfg = run_config(suite, ds, row.fraction, init, seed);
    row.seed = cfg.run.seed;
    // A pretraining run that sampled this row's held-out slices would make the comparison unfair.
    const PretrainingOverlap overlap = check_pretraining_overlap(cfg, init.path);
    if (overlap.kind == PretrainingOverlap::Kind::Overlap && !suite.allow_pretraining_on_test_data) {
      row.status = RowStatus::Failed;
      row.message = fmt::format(
          "refused: {}; pretrain with data.em_pretrain_z <= finetune.em_train_z, or set "
          "allow_pretraining_on_test_data: true in the suite to compare anyway",
          overlap.message);
      GTGM_WARN("{} {}", tag, row.message);
      return row;
    }
    if (overlap.kind == PretrainingOverlap::Kind::Overlap) {
      row.message = "pretraining saw the held-out slices (allow_pretraining_on_test_data: true)";
      GTGM_WARN("{} {}: {}", tag, row.message, overlap.message);
    } else if (overlap.kind == PretrainingOverlap::Kind::Unknown) {
      GTGM_WARN("{} {}", tag, overlap.message);
    }
    const Plan plan = plan_run(dir, cfg);
    if (plan.mode == SuiteRunMode::Refuse) {
      row.status = RowStatus::Failed;
      row.message = plan.message;
      GTGM_WARN("{} {}", tag, row.message);
      return row;
    }
    if (plan.mode == SuiteRunMode::Reuse) {
      row.status = options.dry_run ? RowStatus::WouldReuse : RowStatus::Reused;
      fill_from_result(row, read_result(dir / kResultFile));
      GTGM_INFO("{} reused {} ({} = {})", tag, dir.string(), row.metric, value_text(row.ours, row.metric));
      return row;
    }
    if (options.dry_run) {
      row.status = plan.mode == SuiteRunMode::Resume ? RowStatus::WouldResume : RowStatus::WouldRun;
      return row;
    }
    GTGM_INFO("{} {} in {}", tag, plan.mode == SuiteRunMode::Resume ? "resuming" : "running", dir.string());
    fs::create_directories(dir);
    core::atomic_write_text(
        dir / kRequestFile,
        "# gtgm eval: the fine-tuning config of this run (compared before reuse/resume).\n" + config::to_yaml(cfg));
    FinetuneOptions fo;
    fo.pretrained = init.path;
    fo.resume = plan.mode == SuiteRunMode::Resume ? dir.string() : "";
    fo.predict = true;
    core::Stopwatch watch;
    const FinetuneResult res = options.runner(cfg, fo);
    row.seconds = watch.seconds();
    if (res.train.interrupted) {
      // A signal (Ctrl-C, Slurm's time limit) stops the whole suite, not just this run.
      row.status = RowStatus::Interrupted;
      row.message = fmt::format("interrupted ({}) at step {}; run gtgm eval again to resume", res.train.stop_reason,
                                res.train.step);
      return row;
    }
    GTGM_CHECK(!res.summary_json.empty() && fs::exists(res.summary_json),
               "the run finished without a summary.json (expected predictions scored under {}/predictions)",
               dir.string());
    const json j = result_json(res, row.seconds);
    core::atomic_write_text(dir / kResultFile, j.dump(2) + "\n");
    row.status = plan.mode == SuiteRunMode::Resume ? RowStatus::Resumed : RowStatus::Done;
    fill_from_result(row, j);
    GTGM_INFO("{} {} in {:.1f} s: {} = {} ({} train / {} test cases; {})", tag, config::to_string(row.status),
              row.seconds, row.metric, value_text(row.ours, row.metric), row.train_cases, row.test_cases,
              row.init_report);
  } catch (const std::exception& e) {
    row.status = RowStatus::Failed;
    row.message = error_text(e);
    core::record_error_in_failed_run_log(row.message);  // the row's own log.txt, when its run had started
    GTGM_WARN("{} failed: {}", tag, row.message);
  }
  return row;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> init_names(const config::SuiteConfig& suite) {
  std::vector<std::string> names;
  for (const auto& i : suite.inits) names.push_back(i.name);
  return names;
}

const SuiteRow* find_row(const std::vector<SuiteRow>& rows, const std::string& ds, double f, const std::string& init) {
  for (const auto& r : rows)
    if (r.dataset == ds && r.fraction == f && r.init == init) return &r;
  return nullptr;
}

std::vector<const SuiteRow*> find_rows(const std::vector<SuiteRow>& rows, const std::string& ds, double f,
                                       const std::string& init) {
  std::vector<const SuiteRow*> out;
  for (const auto& r : rows)
    if (r.dataset == ds && r.fraction == f && r.init == init) out.push_back(&r);
  return out;
}

// The table cell of one init over several seeds: ours and ours_as_paper are the means over the
// seeds that have them, `spread` becomes " ± sd (n=k)"; with no finished seed, the first row's
// status; messages are kept per seed ("s<seed>: ...").
SuiteRow merge_seeds(const std::vector<const SuiteRow*>& seeds, std::string& spread) {
  SuiteRow m = *seeds.front();
  m.message.clear();
  std::vector<double> ours, as_paper;
  std::vector<std::string> messages;
  for (const auto* r : seeds) {
    if (r->ours) ours.push_back(*r->ours);
    if (r->ours_as_paper) as_paper.push_back(*r->ours_as_paper);
    if (!r->message.empty()) messages.push_back(fmt::format("s{}: {}", r->seed, r->message));
    if (row_ok(*r) && !row_ok(m)) m.status = r->status;
  }
  m.ours = ours.empty() ? std::nullopt : std::optional<double>(infer::mean(ours));
  m.ours_as_paper = as_paper.empty() ? std::nullopt : std::optional<double>(infer::mean(as_paper));
  if (!ours.empty())
    spread = ours.size() >= 2
                 ? fmt::format(" ± {:.{}f} (n={})", infer::sample_sd(ours), decimals(m.metric), ours.size())
                 : " (n=1)";
  m.message = fmt::format("{}", fmt::join(messages, "; "));
  if (m.status == RowStatus::DataMissing && !messages.empty()) m.message = seeds.front()->message;
  return m;
}

}  // namespace

std::string paper_way_metric(const std::string& metric) { return metric == "dice" ? "dice_with_bg" : metric; }

double report_value(const std::string& metric, double scored) {
  const MetricStyle* s = metric_style(metric);
  return s != nullptr && s->percent ? 100.0 * scored : scored;
}

fs::path run_dir(const config::SuiteConfig& suite, const std::string& dataset, const std::string& init, double fraction,
                 std::optional<int64_t> seed) {
  return fs::path(suite.output_dir) / "runs" / dataset /
         (init + "-f" + frac_text(fraction) + (seed ? fmt::format("-s{}", *seed) : std::string()));
}

config::Config run_config(const config::SuiteConfig& suite, const config::SuiteDataset& ds, double fraction,
                          const config::SuiteInit& init, std::optional<int64_t> seed) {
  std::vector<std::string> sets = suite.sets;
  sets.insert(sets.end(), ds.sets.begin(), ds.sets.end());
  const fs::path dir = run_dir(suite, ds.name, init.name, fraction, seed);
  sets.push_back("data.root=" + yaml_quoted((fs::path(suite.data_root) / ds.data).lexically_normal().string()));
  sets.push_back("data.label_fraction=" + frac_text(fraction));
  sets.push_back("run.dir=" + yaml_quoted(dir.string()));
  sets.push_back("run.name=" + yaml_quoted(fmt::format("{}-{}-f{}{}", ds.name, init.name, frac_text(fraction),
                                                       seed ? fmt::format("-s{}", *seed) : std::string())));
  if (seed) sets.push_back(fmt::format("run.seed={}", *seed));
  sets.push_back("train.init=" + yaml_quoted(init.path));
  return config::load_config(ds.config, sets);
}

std::string format_report_table(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows) {
  const auto inits = init_names(suite);
  std::vector<std::string> head = {"Dataset", "Metric", "Labels"};
  for (const auto& i : inits) head.push_back("ours " + i);
  for (const auto& i : inits) {
    head.push_back("ours " + i + ", as paper");
    head.push_back("paper " + i);
  }
  for (const auto& i : inits) head.push_back("Δ " + i);
  head.push_back("Notes");
  std::ostringstream ss;
  ss << "| " << fmt::format("{}", fmt::join(head, " | ")) << " |\n|";
  for (size_t i = 0; i < head.size(); ++i) ss << (i < 3 || i + 1 == head.size() ? "---|" : "---:|");
  ss << "\n";
  for (const auto& ds : suite.datasets) {
    for (double f : ds.label_fractions) {
      // One cell per init: the row itself with one seed, else the mean over the seeds' finished runs.
      std::vector<SuiteRow> merged;
      std::vector<const SuiteRow*> cells;
      std::vector<std::string> spread(inits.size());
      merged.reserve(inits.size());
      for (size_t i = 0; i < inits.size(); ++i) {
        std::vector<const SuiteRow*> seeds = find_rows(rows, ds.name, f, inits[i]);
        if (seeds.size() <= 1) {
          cells.push_back(seeds.empty() ? nullptr : seeds.front());
          continue;
        }
        merged.push_back(merge_seeds(seeds, spread[i]));
        cells.push_back(&merged.back());
      }
      if (std::all_of(cells.begin(), cells.end(), [](const SuiteRow* r) { return r == nullptr; })) continue;
      const size_t k = static_cast<size_t>(std::find(ds.label_fractions.begin(), ds.label_fractions.end(), f) -
                                           ds.label_fractions.begin());
      std::vector<std::string> line = {ds.name, metric_header(ds.metric),
                                       k < ds.fraction_labels.size() ? ds.fraction_labels[k] : percent_text(f)};
      std::vector<std::string> notes;
      for (size_t i = 0; i < cells.size(); ++i) {
        const SuiteRow* r = cells[i];
        std::string c = r ? value_cell(r->ours, ds.metric) + spread[i] : "";
        if (r && !r->ours && !row_ok(*r)) c = config::to_string(r->status);
        line.push_back(c);
      }
      for (size_t i = 0; i < inits.size(); ++i) {
        const SuiteRow* r = cells[i];
        std::string c = r ? value_cell(r->ours_as_paper, ds.metric) : "";
        if (r && !r->ours_as_paper && !row_ok(*r)) c = config::to_string(r->status);
        line.push_back(c);
        line.push_back(value_cell(suite.paper_value(ds, inits[i], k), ds.metric));
      }
      for (const auto* r : cells) line.push_back(r ? value_cell(delta(*r), ds.metric, true) : "");
      // One note per distinct message (a missing dataset says so once, not per init).
      for (const auto* r : cells) {
        if (r == nullptr || r->message.empty()) continue;
        std::string m = r->message;
        std::replace(m.begin(), m.end(), '|', '/');
        std::replace(m.begin(), m.end(), '\n', ' ');
        const std::string note = r->status == RowStatus::DataMissing ? m : r->init + ": " + m;
        if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
      }
      line.push_back(fmt::format("{}", fmt::join(notes, "; ")));
      ss << "| " << fmt::format("{}", fmt::join(line, " | ")) << " |\n";
    }
  }
  return ss.str();
}

std::string format_report_markdown(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows,
                                   const std::map<std::string, std::vector<std::string>>& overlays,
                                   const std::map<std::string, std::vector<std::string>>& plots) {
  std::ostringstream ss;
  ss << "# " << suite.name << ": evaluation report\n\n";
  ss << "Written by `gtgm eval` on " << now_utc() << " from `"
     << (suite.file.empty() ? std::string("<string>") : suite.file.string()) << "`.\n\n";
  if (!suite.note.empty()) ss << suite.note << "\n\n";
  ss << "- data root: `" << suite.data_root << "` (from " << suite.data_root_source << ")\n";
  for (const auto& i : suite.inits)
    ss << "- init `" << i.name << "`: " << (i.path.empty() ? std::string("random initialisation") : "`" + i.path + "`")
       << "\n";
  ss << "\nDice and NSD in %, VOI and ARAND as scored (lower is better). \"ours\" = our metric as configured: Dice "
        "is nnU-Net's mean over the foreground classes. \"ours, as paper\" = the same run computed the way the "
        "paper's number was, placed beside it: Dice with the background class, MONAI DiceMetric(include_background="
        "True) as the reference code (finetune/task1.py:318): per case the mean over the classes present in its "
        "reference, background included, then the mean over cases (VOI and ARAND are computed alike, so both "
        "columns agree). Δ = ours as paper − paper. \"paper\" = the published numbers (PAPER.md); \"-\" = not "
        "published or not available.\n\n";
  if (!suite.seeds.empty())
    ss << fmt::format(
        "Seeds: {} (run.seed of every run; the case split stays fixed). With several seeds a cell is "
        "the mean ± sample sd over the seeds' runs (n = runs with a value).\n\n",
        fmt::join(suite.seeds, ", "));
  ss << format_report_table(suite, rows);

  if (!suite.seeds.empty()) ss << "\n" << format_seed_sections(suite, rows, plots);
  ss << "\n## Runs\n\n| Dataset | Labels | Init | Seed | Status | Train/test cases | Seconds | Run dir | Init report "
        "|\n"
        "|---|---|---|---:|---|---|---:|---|---|\n";
  for (const auto& r : rows) {
    std::string init_report = r.init_report;
    std::replace(init_report.begin(), init_report.end(), '|', '/');
    ss << fmt::format("| {} | {} | {} | {} | {} | {} | {:.1f} | {} | {} |\n", r.dataset, r.fraction_label, r.init,
                      r.seed, config::to_string(r.status),
                      row_ok(r) ? fmt::format("{}/{}", r.train_cases, r.test_cases) : "-", r.seconds,
                      r.run_dir.empty() ? "-" : "`" + r.run_dir + "`", init_report.empty() ? "-" : init_report);
  }
  if (!overlays.empty()) {
    ss << "\n## Overlays\n\nHeld-out cases, the axial slice with the most reference foreground in radiological view "
          "(anterior up, the patient's right on the left): image | prediction | reference, with case id, Dice "
          "and class legend.\n";
    for (const auto& [ds, files] : overlays) {
      ss << "\n### " << ds << "\n\n";
      for (const auto& f : files) ss << "![" << fs::path(f).stem().string() << "](" << f << ")\n";
    }
  }
  return ss.str();
}

std::string format_report_csv(const std::vector<SuiteRow>& rows) {
  std::set<std::string> metric_names;
  for (const auto& r : rows)
    for (const auto& [k, v] : r.metrics) metric_names.insert(k);
  std::ostringstream ss;
  ss << "dataset,metric,label_fraction,init,seed,status,ours,paper_metric,ours_as_paper,paper,delta";
  for (const auto& m : metric_names) ss << ",mean_" << m;
  ss << ",train_cases,test_cases,seconds,run_dir,message\n";
  auto num = [](const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string(); };
  for (const auto& r : rows) {
    ss << csv_field(r.dataset) << ',' << r.metric << ',' << frac_text(r.fraction) << ',' << csv_field(r.init) << ','
       << r.seed << ',' << csv_field(config::to_string(r.status)) << ',' << num(r.ours) << ','
       << paper_way_metric(r.metric) << ',' << num(r.ours_as_paper) << ',' << num(r.paper) << ',' << num(delta(r));
    for (const auto& m : metric_names) {
      const auto it = r.metrics.find(m);
      ss << ','
         << (it == r.metrics.end() || !std::isfinite(it->second) ? std::string() : fmt::format("{}", it->second));
    }
    ss << ',' << r.train_cases << ',' << r.test_cases << ',' << fmt::format("{:.1f}", r.seconds) << ','
       << csv_field(r.run_dir) << ',' << csv_field(r.message) << '\n';
  }
  return ss.str();
}

std::string format_report_json(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows,
                               const std::map<std::string, std::vector<std::string>>& overlays,
                               const std::map<std::string, std::vector<std::string>>& plots) {
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json j = {{"schema", kReportSchema},
            {"name", suite.name},
            {"note", suite.note},
            {"suite_file", suite.file.string()},
            {"created", now_utc()},
            {"output_dir", suite.output_dir},
            {"data_root", suite.data_root},
            {"data_root_source", suite.data_root_source},
            {"units",
             "dice and nsd in %, voi/arand/hd95 as scored; ours_as_paper = paper_metric (dice: with background, "
             "as the reference's MONAI DiceMetric); delta = ours_as_paper - paper"}};
  j["inits"] = json::array();
  for (const auto& i : suite.inits) j["inits"].push_back({{"name", i.name}, {"path", i.path}});
  j["rows"] = json::array();
  for (const auto& r : rows) {
    json m = json::object();
    for (const auto& [k, v] : r.metrics) m[k] = std::isfinite(v) ? json(v) : json(nullptr);
    j["rows"].push_back({{"dataset", r.dataset},
                         {"metric", r.metric},
                         {"label_fraction", r.fraction},
                         {"labels", r.fraction_label},
                         {"init", r.init},
                         {"seed", r.seed},
                         {"status", config::to_string(r.status)},
                         {"message", r.message},
                         {"ours", opt(r.ours)},
                         {"paper_metric", paper_way_metric(r.metric)},
                         {"ours_as_paper", opt(r.ours_as_paper)},
                         {"paper", opt(r.paper)},
                         {"delta", opt(delta(r))},
                         {"metrics", m},
                         {"run_dir", r.run_dir},
                         {"summary_json", r.summary_json},
                         {"init_report", r.init_report},
                         {"train_cases", r.train_cases},
                         {"test_cases", r.test_cases},
                         {"seconds", r.seconds}});
  }
  j["overlays"] = overlays;
  j["seeds"] = suite.seeds;
  if (!suite.seeds.empty()) add_seed_statistics(j, suite, rows, plots);
  return j.dump(2) + "\n";
}

SuiteResult run_suite(const config::SuiteConfig& suite, const SuiteRunOptions& options) {
  GTGM_CHECK(options.runner || options.dry_run, "gtgm eval: no fine-tuning runner given");
  std::vector<std::string> names;
  for (const auto& ds : suite.datasets) names.push_back(ds.name);
  for (const auto& o : options.only)
    if (std::find(names.begin(), names.end(), o) == names.end())
      throw ConfigError(fmt::format("--only: no dataset '{}' in the suite (datasets: {})", o, fmt::join(names, ", ")));
  auto selected = [&](const std::string& n) {
    return options.only.empty() || std::find(options.only.begin(), options.only.end(), n) != options.only.end();
  };

  // Temp files of a killed earlier `gtgm eval` (its report files; the runs clean their own dirs).
  if (!options.dry_run) core::remove_stale_temp_files(suite.output_dir);

  size_t total = 0;
  for (const auto& ds : suite.datasets)
    if (selected(ds.name))
      total += ds.label_fractions.size() * suite.inits.size() * std::max<size_t>(1, suite.seeds.size());
  SuiteResult out;
  core::Stopwatch watch;
  size_t n = 0;
  GTGM_INFO("gtgm eval {}: {} run(s) over {} dataset(s) x {} init(s); data root {} (from {}); output {}", suite.name,
            total, options.only.empty() ? suite.datasets.size() : options.only.size(), suite.inits.size(),
            suite.data_root, suite.data_root_source, suite.output_dir);
  bool stopped = false;
  for (const auto& ds : suite.datasets) {
    if (!selected(ds.name)) continue;
    for (size_t k = 0; k < ds.label_fractions.size(); ++k) {
      // Seeds outside inits: an interrupted suite leaves whole pairs (pretrained, random) of a seed.
      for (size_t si = 0; si < std::max<size_t>(1, suite.seeds.size()); ++si) {
        const std::optional<int64_t> seed =
            suite.seeds.empty() ? std::nullopt : std::optional<int64_t>(suite.seeds[si]);
        for (const auto& init : suite.inits) {
          const std::string tag =
              fmt::format("[{}/{}] {} {} {}{}:", ++n, total, ds.name,
                          k < ds.fraction_labels.size() ? ds.fraction_labels[k] : percent_text(ds.label_fractions[k]),
                          init.name, seed ? fmt::format(" seed {}", *seed) : std::string());
          if (stopped) {
            SuiteRow skipped;
            skipped.dataset = ds.name;
            skipped.metric = ds.metric;
            skipped.fraction = ds.label_fractions[k];
            skipped.fraction_label =
                k < ds.fraction_labels.size() ? ds.fraction_labels[k] : percent_text(skipped.fraction);
            skipped.init = init.name;
            skipped.seed = seed.value_or(0);
            if (const auto p = suite.paper_value(ds, init.name, k)) skipped.paper = *p;
            skipped.status = RowStatus::NotRun;
            skipped.message = "the suite was interrupted before this run";
            out.rows.push_back(skipped);
            continue;
          }
          out.rows.push_back(run_one(suite, ds, k, init, seed, options, tag));
          if (out.rows.back().status == RowStatus::DataMissing && init.name == suite.inits.front().name && si == 0)
            GTGM_WARN("{} {}", tag, out.rows.back().message);
          if (out.rows.back().status == RowStatus::Interrupted) {
            GTGM_WARN("{} {}; the remaining runs are not started", tag, out.rows.back().message);
            stopped = true;
          }
        }
      }
    }
    if (stopped || options.dry_run || !options.overlays || suite.overlay_cases == 0) continue;
    // Overlays from each init's run at the dataset's largest label fraction.
    const double f_max = *std::max_element(ds.label_fractions.begin(), ds.label_fractions.end());
    for (const auto& init : suite.inits) {
      const SuiteRow* r = find_row(out.rows, ds.name, f_max, init.name);
      if (r == nullptr || !row_ok(*r) || r->summary_json.empty()) continue;
      try {
        OverlayOptions oo;
        oo.max_cases = suite.overlay_cases;
        const std::optional<int64_t> seed = suite.seeds.empty() ? std::nullopt : std::optional<int64_t>(r->seed);
        const auto files = write_overlays(run_config(suite, ds, f_max, init, seed), r->summary_json,
                                          fs::path(suite.output_dir) / "overlays" / ds.name,
                                          fmt::format("{}-f{}_", init.name, frac_text(f_max)), oo);
        for (const auto& f : files)
          out.overlays[ds.name].push_back(f.lexically_relative(suite.output_dir).generic_string());
      } catch (const std::exception& e) {
        GTGM_WARN("{} {}: overlays not written: {}", ds.name, init.name, error_text(e));
      }
    }
  }
  out.table = format_report_table(suite, out.rows);
  if (options.dry_run) return out;

  const fs::path dir(suite.output_dir);
  fs::create_directories(dir);
  out.report_md = dir / "report.md";
  out.report_csv = dir / "report.csv";
  out.report_json = dir / "report.json";
  if (!suite.seeds.empty()) {
    try {
      out.plots = write_seed_plots(suite, out.rows);
    } catch (const std::exception& e) {
      GTGM_WARN("gtgm eval {}: per-seed plots not written: {}", suite.name, error_text(e));
    }
    out.report_stats_csv = dir / "report_stats.csv";
    core::atomic_write_text(out.report_stats_csv, format_stats_csv(suite, out.rows));
  }
  core::atomic_write_text(out.report_md, format_report_markdown(suite, out.rows, out.overlays, out.plots));
  core::atomic_write_text(out.report_csv, format_report_csv(out.rows));
  core::atomic_write_text(out.report_json, format_report_json(suite, out.rows, out.overlays, out.plots));
  GTGM_INFO("gtgm eval {}: {} run(s) in {:.1f} s; wrote {}, {}, {}", suite.name, out.rows.size(), watch.seconds(),
            out.report_md.string(), out.report_csv.string(), out.report_json.string());
  return out;
}

}  // namespace gtgm::app
