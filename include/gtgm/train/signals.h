#pragma once
/// Graceful stop on SIGINT/SIGTERM: the first signal only sets a flag that the trainer reads after
/// each step (it then finishes the step, writes a checkpoint and returns); a second signal
/// restores the default action and re-raises it, so a stuck process can still be killed.

namespace gtgm::train {

/// Installs the handlers for the lifetime of the object and restores the previous ones after.
class StopSignalScope {
 public:
  StopSignalScope();
  ~StopSignalScope();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;
};

/// Whether a stop was requested (by a signal or request_stop()).
bool stop_requested();
/// The signal number that requested the stop, 0 for request_stop() or none.
int stop_signal();
/// Requests a stop as a signal would (tests, the bench).
void request_stop();
/// Clears the request (a new run in the same process).
void clear_stop_request();

}  // namespace gtgm::train
