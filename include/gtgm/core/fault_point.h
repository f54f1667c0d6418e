#pragma once
/// Fault injection for the kill tests (tests/robustness/test_kill_resume.cpp): named points in the
/// write paths (atomic writes, appends) where a test can stop the process and SIGKILL it. Inert
/// unless the environment variable GTGM_FAULT_STOP is set when the process starts.
///
/// GTGM_FAULT_STOP="POINT@N" or "POINT:FILE@N": the Nth time the process reaches POINT (for a file
/// named FILE, when given), it prints "gtgm: fault point ... reached" on stderr and stops itself
/// with SIGSTOP; the test sees the stop (waitpid WUNTRACED) and kills it. A partial-write point
/// first leaves the data as a kill midway through the write would (half of it on disk).
#include <string>

namespace gtgm::core {

/// Whether this call of `point` (for file name `file`) is the one GTGM_FAULT_STOP names. Counts
/// calls only while armed; false always when GTGM_FAULT_STOP is unset.
bool fault_hit(const char* point, const std::string& file);
/// Stops the process (SIGSTOP) after saying which point was reached; returns if it is continued.
void fault_stop(const char* point, const std::string& file);
/// fault_hit + fault_stop: a point where nothing is left half done.
inline void fault_point(const char* point, const std::string& file) {
  if (fault_hit(point, file)) fault_stop(point, file);
}

}  // namespace gtgm::core
