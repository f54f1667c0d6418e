#include "gtgm/train/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/fault_point.h"

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace gtgm::train {
namespace {

ordered_json to_json(const MetricsRow& row) {
  ordered_json j;
  j["step"] = row.step;
  for (const auto& [k, v] : row.values) {
    if (std::isfinite(v)) j[k] = v;
    else j[k] = nullptr;  // JSON has no NaN/Inf
  }
  return j;
}

const double* find_value(const MetricsRow& row, const std::string& key) {
  for (const auto& [k, v] : row.values) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string csv_cell(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  return fmt::format("{}", v);
}

void write_csv_row(std::ostream& out, const MetricsRow& row, const std::vector<std::string>& columns) {
  out << row.step;
  for (const auto& c : columns) {
    const double* v = find_value(row, c);
    out << "," << (v == nullptr ? std::string() : csv_cell(*v));  // absent -> empty cell
  }
  out << "\n";
}

}  // namespace

double MetricsRow::get(const std::string& key) const {
  for (const auto& [k, v] : values) {
    if (k == key) return v;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::vector<MetricsRow> read_metrics(const fs::path& jsonl) {
  std::vector<MetricsRow> rows;
  if (!fs::exists(jsonl)) return rows;
  std::ifstream in(jsonl);
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    ordered_json j;
    try {
      j = ordered_json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      // A line cut short by a crash mid-write is the only expected damage: skip it, loudly.
      if (in.peek() == EOF) break;
      GTGM_THROW("{}:{}: not valid JSON ({})", jsonl.string(), line_no, e.what());
    }
    MetricsRow row;
    row.step = j.at("step").get<int64_t>();
    for (const auto& [k, v] : j.items()) {
      if (k == "step") continue;
      row.values.emplace_back(k, v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>());
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

MetricsWriter::MetricsWriter(fs::path run_dir, int64_t resume_step)
    : jsonl_(run_dir / "metrics.jsonl"), csv_(run_dir / "metrics.csv") {
  fs::create_directories(run_dir);
  if (resume_step >= 0) {
    for (auto& r : read_metrics(jsonl_)) {
      if (r.step <= resume_step) rows_.push_back(std::move(r));
    }
  }
  std::string text;
  for (const auto& r : rows_) {
    text += to_json(r).dump() + "\n";
    for (const auto& [k, v] : r.values) {
      if (std::find(columns_.begin(), columns_.end(), k) == columns_.end()) columns_.push_back(k);
    }
  }
  core::atomic_write_text(jsonl_, text);
  rewrite_csv();
}

void MetricsWriter::rewrite_csv() {
  core::atomic_write(csv_, [&](std::ostream& out) {
    out << "step";
    for (const auto& c : columns_) out << "," << c;
    out << "\n";
    for (const auto& r : rows_) {
      write_csv_row(out, r, columns_);
    }
  });
}

void MetricsWriter::write(const MetricsRow& row) {
  rows_.push_back(row);
  {
    std::ofstream out(jsonl_, std::ios::app);
    const std::string line = to_json(row).dump() + "\n";
    if (core::fault_hit("append.partial", jsonl_.filename().string())) {  // a kill midway through the line
      out << line.substr(0, line.size() / 2) << std::flush;
      core::fault_stop("append.partial", jsonl_.filename().string());
    }
    out << line;
    GTGM_CHECK(out.good(), "cannot append to {}", jsonl_.string());
  }
  bool new_column = false;
  for (const auto& [k, v] : row.values) {
    if (std::find(columns_.begin(), columns_.end(), k) == columns_.end()) {
      columns_.push_back(k);
      new_column = true;
    }
  }
  if (new_column) {
    rewrite_csv();
    return;
  }
  std::ofstream out(csv_, std::ios::app);
  write_csv_row(out, row, columns_);
  GTGM_CHECK(out.good(), "cannot append to {}", csv_.string());
}

int64_t process_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace gtgm::train
