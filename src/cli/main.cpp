// The gtgm executable: parses the command line and hands over to one command. Exit codes:
// 0 ok, 1 runtime error, 2 usage or config error. Errors are one clear line, no stack dump.
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/error.h"
#include "gtgm/core/host_allocator.h"
#include "gtgm/core/log_file_only.h"
#include "gtgm/core/logging.h"

namespace {

// Every command, in the order `gtgm --help` lists them.
constexpr void (*kCommands[])(CLI::App&) = {
    gtgm::cli::register_synth,   gtgm::cli::register_plan,       gtgm::cli::register_preprocess,
    gtgm::cli::register_caption, gtgm::cli::register_embed_text, gtgm::cli::register_pretrain,
    gtgm::cli::register_probe,   gtgm::cli::register_export,     gtgm::cli::register_finetune,
    gtgm::cli::register_predict, gtgm::cli::register_score,      gtgm::cli::register_eval,
    gtgm::cli::register_bench,   gtgm::cli::register_info,
};

// Prints "gtgm: <line>" on stderr and adds the line to the log.txt of the run it ended, if any.
int fail(const std::string& line, int code) {
  std::cerr << "gtgm: " << line << "\n";
  gtgm::core::record_error_in_failed_run_log(line);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gtgm;
  core::configure_host_allocator();  // first: before any thread or tensor exists
  CLI::App app{"gtgm: 3D medical vision-language pretraining (GTGM) and segmentation on LibTorch", "gtgm"};
  app.set_version_flag("--version", core::gtgm_version() + " (" + core::gtgm_git_hash() + ")");
  app.require_subcommand(1);
  for (auto add : kCommands) add(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const ConfigError& e) {
    return fail("config error: " + e.message(), 2);
  } catch (const Error& e) {
    if (!e.location().empty()) core::logger().debug("raised at {}", e.location());
    return fail("error: " + e.message(), 1);
  } catch (const std::filesystem::filesystem_error& e) {
    // A filesystem call without a gtgm check in front of it: name the path first, then the reason
    // and the operation, instead of libstdc++'s "filesystem error: ..." text.
    std::string op = e.what();
    const std::string prefix = "filesystem error: ";
    if (op.rfind(prefix, 0) == 0) op = op.substr(prefix.size());
    const auto colon = op.find(": ");
    if (colon != std::string::npos) op = op.substr(0, colon);
    return fail("error: " + (e.path1().empty() ? std::string("(no path)") : e.path1().string()) + ": " +
                    e.code().message() + " (" + op +
                    (e.path2().empty() ? std::string() : std::string(", with ") + e.path2().string()) + ")",
                1);
  } catch (const std::exception& e) {
    return fail(std::string("error: ") + e.what(), 1);
  }
}
