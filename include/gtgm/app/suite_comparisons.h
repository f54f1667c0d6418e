#pragma once
/// What each published number of an eval suite is compared with (`gtgm eval --dry-run`): for every
/// dataset, the metric computed the paper's way that report.md puts beside the paper column, how it
/// is computed, the split and label fraction, and the fine-tuning recipe of the run; then one line
/// per published number naming the run it is compared with.
#include <string>

#include "gtgm/config/suite_config.h"

namespace gtgm::app {

/// The comparison listing (text, one dataset block after another). Reads each dataset's fine-tuning
/// config (a config that does not load is named with its error instead of its recipe).
std::string paper_comparisons(const config::SuiteConfig& suite);

}  // namespace gtgm::app
