// The one thread-count setting. ATTEND_NUM_THREADS (default: all cores) is read on first use;
// set_num_threads changes it at run time. It governs OpenMP regions in attend and the GEMM
// library (oneDNN runs on the same OpenMP runtime).
#pragma once

namespace attend {

int num_threads();
void set_num_threads(int n);

}  // namespace attend
