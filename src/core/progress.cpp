#include "gtgm/core/progress.h"

#include <unistd.h>

#include <fmt/format.h>

#include "gtgm/core/logging.h"

namespace gtgm::core {

bool is_tty(std::FILE* stream) { return stream != nullptr && ::isatty(::fileno(stream)) == 1; }

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

Progress::Progress(std::string label, int64_t total, std::string unit, std::FILE* out, double interval_s)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      out_(out),
      tty_(is_tty(out)),
      interval_s_(interval_s) {}

std::string Progress::line(int64_t done, const std::string& extra) const {
  const double elapsed = watch_.seconds();
  // Rate counts only work done in this process, so a resumed run shows a true rate and ETA.
  const int64_t base = start_count_ < 0 ? done : start_count_;
  const double rate = elapsed > 0 ? static_cast<double>(done - base) / elapsed : 0.0;
  const double pct = total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1.0;
  std::string s = fmt::format("{} {:5.1f}% {}/{} | {:.2f} {}/s | ETA {}", label_, pct, done, total_, rate,
                              unit_, format_duration(eta));
  if (!extra.empty()) s += " | " + extra;
  return s;
}

void Progress::update(int64_t done, const std::string& extra) {
  if (log_rank() != 0 || out_ == nullptr) return;
  if (start_count_ < 0) start_count_ = done;
  last_done_ = done;
  const double now = watch_.seconds();
  if (tty_) {
    if (now - last_print_ < 0.1 && done < total_) return;  // redraw at most 10 times a second
    std::fprintf(out_, "\r\033[K%s", line(done, extra).c_str());
  } else {
    if (now - last_print_ < interval_s_ && done < total_) return;
    std::fprintf(out_, "%s\n", line(done, extra).c_str());
  }
  std::fflush(out_);
  last_print_ = now;
}

void Progress::finish(const std::string& extra) {
  if (log_rank() != 0 || out_ == nullptr) return;
  if (start_count_ < 0) start_count_ = last_done_;
  std::fprintf(out_, tty_ ? "\r\033[K%s\n" : "%s\n", line(last_done_, extra).c_str());
  std::fflush(out_);
}

}  // namespace gtgm::core
