// The subcommands of the `attend` binary; each registers itself on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace attend::cli {

void add_tour_command(CLI::App& app);
void add_gen_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_translate_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_show_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_vocab_command(CLI::App& app);

}  // namespace attend::cli
