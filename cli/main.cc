// attend: the command line. One file per subcommand; this file only dispatches and turns errors
// into a message on stderr and a non-zero exit.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "attend/core/error.h"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"attend: the attention mechanism of deep learning, its models and tools"};
  app.require_subcommand(1);
  attend::cli::add_tour_command(app);
  attend::cli::add_gen_command(app);
  attend::cli::add_train_command(app);
  attend::cli::add_translate_command(app);
  attend::cli::add_eval_command(app);
  attend::cli::add_show_command(app);
  attend::cli::add_plot_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const attend::Error& e) {
    std::cerr << "attend: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "attend: unexpected error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
