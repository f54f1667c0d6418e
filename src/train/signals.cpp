#include "gtgm/train/signals.h"

#include <atomic>
#include <csignal>

namespace gtgm::train {
namespace {

std::atomic<int> g_stop{0};   // 0 = none, -1 = request_stop(), else the signal number
std::atomic<int> g_scopes{0};
struct sigaction g_prev_int, g_prev_term;

void on_signal(int sig) {
  int expected = 0;
  if (g_stop.compare_exchange_strong(expected, sig)) return;
  // Second signal: give up on the graceful path (async-signal-safe calls only).
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

StopSignalScope::StopSignalScope() {
  if (g_scopes.fetch_add(1) != 0) return;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a signal must not make a blocking read in a loader fail
  sigaction(SIGINT, &sa, &g_prev_int);
  sigaction(SIGTERM, &sa, &g_prev_term);
}

StopSignalScope::~StopSignalScope() {
  if (g_scopes.fetch_sub(1) != 1) return;
  sigaction(SIGINT, &g_prev_int, nullptr);
  sigaction(SIGTERM, &g_prev_term, nullptr);
}

bool stop_requested() { return g_stop.load() != 0; }
int stop_signal() { return g_stop.load() > 0 ? g_stop.load() : 0; }
void request_stop() {
  int expected = 0;
  g_stop.compare_exchange_strong(expected, -1);
}
void clear_stop_request() { g_stop.store(0); }

}  // namespace gtgm::train
