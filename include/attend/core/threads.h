// The one thread-count setting. ATTEND_NUM_THREADS (default: all cores) is read on first use;
// set_num_threads changes it at run time. It governs OpenMP regions in attend and the GEMM
// library (oneDNN runs on the same OpenMP runtime).
#pragma once

#include <string>

namespace attend {

int num_threads();
void set_num_threads(int n);
// "2 thread(s) (OMP_WAIT_POLICY=passive)": the count and how waiting threads wait, as the
// environment set it when the OpenMP runtime loaded (the attend command line sets passive where
// nothing is set: cli/main.cc; "libgomp default: spin, then sleep" otherwise). For logs.
std::string threads_summary();

}  // namespace attend
