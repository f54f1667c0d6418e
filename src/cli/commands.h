#pragma once
// The commands of the gtgm executable: each src/cli/cmd_<name>.cpp defines one register_<name>,
// which adds its subcommand (options, --help, callback) to the app. main.cpp lists them all in one
// table, so a command exists exactly when it is in that table.
#include <CLI/CLI.hpp>

namespace gtgm::cli {

void register_bench(CLI::App& app);
void register_caption(CLI::App& app);
void register_embed_text(CLI::App& app);
void register_eval(CLI::App& app);
void register_export(CLI::App& app);
void register_finetune(CLI::App& app);
void register_info(CLI::App& app);
void register_plan(CLI::App& app);
void register_predict(CLI::App& app);
void register_preprocess(CLI::App& app);
void register_pretrain(CLI::App& app);
void register_probe(CLI::App& app);
void register_score(CLI::App& app);
void register_synth(CLI::App& app);

}  // namespace gtgm::cli
