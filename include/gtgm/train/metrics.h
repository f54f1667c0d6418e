#pragma once
/// Training metrics files: RUN_DIR/metrics.jsonl (one JSON object per row, every key) and
/// RUN_DIR/metrics.csv (the same rows as a table; its header grows when a new key appears).
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace gtgm::train {

/// One row: the step and (key, value) pairs such as ("loss", 1.23), ("lr", 2e-5), ("val/dice", 0.8).
struct MetricsRow {
  int64_t step = 0;
  std::vector<std::pair<std::string, double>> values;
  /// The value of `key`, or NaN when absent.
  double get(const std::string& key) const;
};

class MetricsWriter {
 public:
  /// Opens the metrics files of `run_dir`. A fresh run (`resume_step` < 0) starts them empty; a
  /// resumed run keeps the rows with step <= resume_step and drops later ones (logged after the
  /// checkpoint by the interrupted process), so the files hold each step once.
  explicit MetricsWriter(std::filesystem::path run_dir, int64_t resume_step = -1);
  /// Appends a row to both files (flushed, so `tail -f` and plots see it at once).
  void write(const MetricsRow& row);
  const std::filesystem::path& jsonl_path() const { return jsonl_; }
  const std::filesystem::path& csv_path() const { return csv_; }

 private:
  void rewrite_csv();
  std::filesystem::path jsonl_, csv_;
  std::vector<std::string> columns_;
  std::vector<MetricsRow> rows_;
};

/// Reads RUN_DIR/metrics.jsonl back (tests, plots, the bench).
std::vector<MetricsRow> read_metrics(const std::filesystem::path& jsonl);

/// Resident set size of this process in bytes (from /proc/self/statm; 0 where unavailable).
int64_t process_rss_bytes();

}  // namespace gtgm::train
