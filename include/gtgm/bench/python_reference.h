#pragma once
/// The Python side of a benchmark: runs scripts/bench/<kind>_reference.py and reads the JSON result
/// it prints last.
#include <nlohmann/json.hpp>
#include <string>

namespace gtgm::bench {

/// Runs `python script args` (args shell-quoted by the caller) and returns the last JSON object it
/// printed that starts with {"impl". `kind` ("infer", "train") names the benchmark in errors and the
/// --<kind>-reference / --<kind>-no-reference options in the hint. Throws gtgm::Error when the
/// script is missing, fails, or prints no result.
nlohmann::json run_python_reference(const std::string& kind, const std::string& python, const std::string& script,
                                    const std::string& args);

}  // namespace gtgm::bench
