// `attend generate`: continues prompts with a language model (app/generator.h): sampling with
// temperature, top-k and top-p, greedy search (--temperature 0) or beam search, over the model's
// key/value cache. One --prompt is streamed to stdout as it is produced (flushed per token); a
// --prompt-file is generated in batches and written one line per prompt, in order.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "attend/app/generator.h"
#include "attend/data/corpus.h"
#include "attend/io/atomic_file.h"
#include "commands.h"

namespace attend::cli {
namespace {

struct GenerateOptions {
  std::string model, prompt, prompt_file, output = "-";
  bool prompt_given = false;
  int64_t max_new = 200, top_k = 0, beam = 1, batch = 16;
  double temperature = 1.0, top_p = 1.0;
  uint64_t seed = 1;
  bool continuation_only = false;
  int threads = 0;
};

void run_generate(const GenerateOptions& o) {
  set_command_threads(o.threads);
  ATTEND_CHECK(o.prompt_given != !o.prompt_file.empty(), "generate", "give exactly one of --prompt TEXT and --prompt-file FILE");
  ATTEND_CHECK(o.top_p > 0.0 && o.top_p <= 1.0, "generate", "--top-p ", o.top_p, " is outside (0, 1]");
  ATTEND_CHECK(o.temperature >= 0.0, "generate", "--temperature ", o.temperature, " must be >= 0 (0 = greedy)");
  ATTEND_CHECK(o.top_k >= 0, "generate", "--top-k ", o.top_k, " must be >= 0 (0 = every token)");
  ATTEND_CHECK(o.max_new >= 1 && o.beam >= 1 && o.batch >= 1, "generate", "--max-new ", o.max_new, ", --beam ", o.beam,
               " and --batch ", o.batch, " must be >= 1");
  std::vector<std::string> prompts;
  std::string source = "--prompt";
  if (o.prompt_given) {
    ATTEND_CHECK(!o.prompt.empty(), "generate", "--prompt is empty: give the text to continue");
    prompts.push_back(o.prompt);
  } else {
    source = o.prompt_file == "-" ? "<stdin>" : o.prompt_file;
    prompts = data::read_lines(o.prompt_file, "generate");
    ATTEND_CHECK(!prompts.empty(), "generate", source, ": no prompts (the file is empty)");
    for (size_t i = 0; i < prompts.size(); ++i)
      ATTEND_CHECK(!prompts[i].empty(), "generate", source, ":", i + 1, ": an empty prompt");
  }
  const app::Generator g = app::Generator::load(o.model, "generate");
  g.check_prompts(prompts, source);
  app::GenerateSettings s{.max_new = o.max_new,
                          .temperature = o.temperature,
                          .top_k = o.top_k,
                          .top_p = o.top_p,
                          .seed = o.seed,
                          .beam = o.beam,
                          .batch = o.batch};
  const bool stream = prompts.size() == 1 && o.output == "-" && o.beam == 1;
  if (stream) {
    if (!o.continuation_only) std::cout << prompts[0] << std::flush;
    s.on_text = [](size_t, const std::string& text) { std::cout << text << std::flush; };
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<app::Generation> out = g.generate(prompts, s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ostringstream lines;
  for (size_t i = 0; i < out.size(); ++i) {
    if (stream) continue;
    lines << (o.continuation_only ? "" : prompts[i]) << out[i].text << "\n";
  }
  if (stream) std::cout << "\n" << std::flush;
  else if (o.output == "-") std::cout << lines.str() << std::flush;
  else io::write_file_atomic(o.output, lines.str());
  ATTEND_CHECK(std::cout.good(), "generate", "cannot write to standard output");
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].context_full)
      std::cerr << "attend generate: prompt " << i + 1 << " stopped at the model's context of "
                << g.model().max_positions() << " tokens\n";
  if (!stream) {
    // The search alone (prompts encoded, text decoded; the checkpoint already loaded), so a
    // benchmark need not subtract the start-up. Tokens count the end-of-text token where written.
    int64_t tokens = 0;
    for (const app::Generation& x : out) tokens += static_cast<int64_t>(x.ids.size()) + (x.ended ? 1 : 0);
    std::fprintf(stderr, "attend generate: %zu prompt(s), %lld token(s) in %.3f s (%.1f tokens/s)\n", out.size(),
                 static_cast<long long>(tokens), seconds, seconds > 0.0 ? static_cast<double>(tokens) / seconds : 0.0);
  }
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* c = app.add_subcommand("generate", "Continue prompts with a language model (sampling, greedy or beam)");
  c->footer(
      "Continue text with a language model trained by `attend train --arch gpt`. The context is the\n"
      "end-of-text token and the prompt, so a prompt is read as the start of a document; generation\n"
      "ends when the model writes end-of-text, after --max-new tokens, or at the model's context.\n"
      "Each token is drawn from softmax(logits / temperature) restricted to the --top-k most probable\n"
      "tokens, then to the smallest set holding --top-p of their mass; --temperature 0 is greedy\n"
      "search. Prompt i (from 1) samples from stream i of --seed: a seed reproduces the output, and a\n"
      "prompt's text does not depend on --batch or on the other prompts (--prompt is prompt 1).\n"
      "One --prompt is printed as it is produced; a --prompt-file gives one line per prompt.");
  c->add_option("-m,--model", o->model, "checkpoint of a language model")->required();
  c->add_option("--prompt", o->prompt, "the text to continue")->each([o](const std::string&) { o->prompt_given = true; });
  c->add_option("--prompt-file", o->prompt_file, "prompts, one per line (- = stdin), generated in batches");
  c->add_option("--max-new", o->max_new, "tokens to generate at most")->capture_default_str();
  c->add_option("--temperature", o->temperature, "sampling temperature (0 = greedy search)")->capture_default_str();
  c->add_option("--top-k", o->top_k, "sample among the k most probable tokens (0 = all)")->capture_default_str();
  c->add_option("--top-p", o->top_p, "nucleus sampling: the smallest set of tokens with this much mass, in (0, 1]")
      ->capture_default_str();
  c->add_option("--seed", o->seed, "sampling seed")->capture_default_str();
  c->add_option("--beam", o->beam, "beam search of this width instead of sampling (1 = off)")->capture_default_str();
  c->add_option("--batch", o->batch, "prompts per search call")->capture_default_str();
  c->add_flag("--continuation-only", o->continuation_only, "print the generated text without the prompt");
  c->add_option("-o,--output", o->output, "where the text goes (- = stdout; a file is replaced atomically)")
      ->capture_default_str();
  c->add_option("--threads", o->threads, "threads (default: ATTEND_NUM_THREADS, else 1)");
  c->callback([o] { run_generate(*o); });
}

}  // namespace attend::cli
