#include "attend/core/threads.h"

#include <omp.h>

#include <cstdlib>
#include <string>

#include "attend/core/error.h"

namespace attend {
namespace {

int initial_threads() {
  if (const char* env = std::getenv("ATTEND_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    ATTEND_CHECK(end && *end == '\0' && n >= 1 && n <= 4096, "ATTEND_NUM_THREADS",
                 "expected an integer from 1 to 4096, got '", env, "'");
    return static_cast<int>(n);
  }
  return omp_get_num_procs();
}

int& current() {
  static int n = [] {
    const int v = initial_threads();
    omp_set_num_threads(v);
    return v;
  }();
  return n;
}

}  // namespace

int num_threads() { return current(); }

std::string threads_summary() {
  std::string wait;
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"})
    if (const char* v = std::getenv(name); v != nullptr) wait += (wait.empty() ? "" : ", ") + std::string(name) + "=" + v;
  if (wait.empty()) wait = "libgomp default: spin, then sleep";
  return std::to_string(num_threads()) + " thread(s) (" + wait + ")";
}

void set_num_threads(int n) {
  ATTEND_CHECK(n >= 1, "set_num_threads", "thread count must be >= 1, got ", n);
  current() = n;
  omp_set_num_threads(n);
}

}  // namespace attend
