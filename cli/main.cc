// attend: the command line. One file per subcommand; this file only dispatches and turns errors
// into a message on stderr and a non-zero exit.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "attend/core/error.h"
#include "attend/attention/flash.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "commands.h"

namespace attend::cli {

void set_command_threads(int threads) {
  if (threads > 0)
    set_num_threads(threads);
  else if (!std::getenv("ATTEND_NUM_THREADS"))
    set_num_threads(1);
}

}  // namespace attend::cli

namespace {

// OpenMP threads waiting at a barrier spin by default (libgomp: about 300,000 iterations before
// they sleep). When another process takes one of the cores, a spinning thread holds a core that the
// thread it waits for needs, and 2 threads run slower than 1 (bench/contention.sh, docs/
// performance.md: training 0.66-0.70 against 1.00 steps/s, beam search 1.9x slower). libgomp reads
// its policy once, when it loads, before main: so when the environment names none, attend names one
// and runs itself again with the same arguments. Training waits passively (sleeps at once: 1-thread
// speed on a busy machine, the idle 2-thread speed kept); the decoding commands, whose steps are
// many small parallel regions that a sleeping thread wakes to too late (passive costs 8% idle
// there), spin 1,000 iterations first. A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is left as it is.
void adopt_wait_policy(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  const bool training = argc > 1 && std::string(argv[1]) == "train";
  if (setenv(training ? "OMP_WAIT_POLICY" : "GOMP_SPINCOUNT", training ? "passive" : "1000", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // No /proc (or exec failed): go on under libgomp's default policy.
}

}  // namespace

int main(int argc, char** argv) {
  adopt_wait_policy(argc, argv);
#if defined(__GLIBC__)
  // A training step allocates and frees the same large tensors (activations, gradients, the
  // [tokens, vocabulary] logits) every step. By default glibc serves each one above 128 KiB with
  // its own mmap and unmaps it on free, so every step page-faults and zeroes them again; keeping
  // blocks up to 32 MiB (glibc's maximum) in the heap and never trimming it lets them be reused.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  CLI::App app{"attend: the attention mechanism of deep learning, its models and tools"};
  app.require_subcommand(1);
  attend::cli::add_tour_command(app);
  attend::cli::add_gen_command(app);
  attend::cli::add_train_command(app);
  attend::cli::add_translate_command(app);
  attend::cli::add_generate_command(app);
  attend::cli::add_eval_command(app);
  attend::cli::add_show_command(app);
  attend::cli::add_plot_command(app);
  attend::cli::add_vocab_command(app);
  attend::cli::add_convert_command(app);
  try {
    // The environment's settings are checked before any work or output, whatever the command.
    attend::num_threads();                   // ATTEND_NUM_THREADS
    attend::kernels::flash_isa_name();       // ATTEND_ISA
    attend::attention::check_attention_env();  // ATTEND_ATTENTION
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
