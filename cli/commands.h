// The subcommands of the `attend` binary; each registers itself on the app. What they share: the
// thread setting of the commands that run recurrent models.
#pragma once

#include <CLI/CLI.hpp>

namespace attend::cli {

void add_tour_command(CLI::App& app);
void add_gen_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_translate_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_show_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_vocab_command(CLI::App& app);
void add_convert_command(CLI::App& app);

// --threads N when given, else ATTEND_NUM_THREADS, else 1: recurrent models at these sizes run
// many small GEMMs, where a second OpenMP thread gains little and loses up to 30x when another
// process competes for the cores (spin-waiting; docs/performance.md).
void set_command_threads(int threads);

}  // namespace attend::cli
