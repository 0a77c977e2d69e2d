// The convolutions issue 16's image models need, timed two ways on this machine: attend's conv2d
// (im2col + one GEMM per image, forward and backward through autograd) against oneDNN's own
// convolution primitives (forward, backward data, backward weights; algorithm "auto", f32, the
// NCHW/OIHW layouts attend's tensors have, so no reorder is timed). Both compute the same
// [N, O, Ho, Wo]; a last column times oneDNN's forward in the layouts it prefers, without the
// reorders attend's tensors would need (its best case). The run checks attend's forward against oneDNN's (max relative
// difference) and times each way: best of --repeats after one warm-up, GFLOP/s = 2 N O Ho Wo C kh kw / s
// per pass (a training step runs three passes: forward, data gradient, weight gradient).
//
//   build/conv_shapes [--threads 1] [--repeats 5] [--batch 64]
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "attend/core/threads.h"
#include "attend/ops/ops.h"

namespace {

struct ConvShape {
  const char* name;
  int64_t C, H, W, O, k, stride, pad;
};

template <typename F>
double best_seconds(F&& f, int repeats) {
  f();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, repeats = 5;
  int64_t N = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
    else if (a == "--batch") N = std::atoll(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: conv_shapes [--threads 1] [--repeats 5] [--batch 64]\n");
      return 2;
    }
  }
  attend::set_num_threads(threads);
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const ConvShape shapes[] = {
      {"vit patch embedding 4x4/4", 1, 28, 28, 96, 4, 4, 0},
      {"cnn 3x3 conv 1", 1, 96, 96, 32, 3, 1, 1},
      {"cnn 3x3 conv 2", 32, 48, 48, 64, 3, 1, 1},
      {"cnn 3x3 conv 3", 64, 24, 24, 128, 3, 1, 1},
  };
  std::printf("Convolutions of issue 16's models, batch %lld, %d thread(s), f32; ms per pass (GFLOP/s)\n\n",
              static_cast<long long>(N), threads);
  std::printf("| convolution | [C, H, W] -> O | attend fwd | attend bwd (data + weights) | oneDNN fwd | oneDNN bwd data | oneDNN bwd weights | oneDNN fwd, its own layouts | max rel diff |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const ConvShape& s : shapes) {
    const int64_t Ho = (s.H + 2 * s.pad - s.k) / s.stride + 1, Wo = (s.W + 2 * s.pad - s.k) / s.stride + 1;
    const double flop = 2.0 * static_cast<double>(N * s.O * Ho * Wo * s.C * s.k * s.k);
    attend::Rng rng(1);
    attend::Tensor x = attend::Tensor::randn({N, s.C, s.H, s.W}, rng).set_requires_grad(true);
    attend::Tensor w = attend::Tensor::randn({s.O, s.C, s.k, s.k}, rng).set_requires_grad(true);
    attend::Tensor b = attend::Tensor::randn({s.O}, rng).set_requires_grad(true);
    const attend::Conv2dOptions opt{.stride_h = s.stride, .stride_w = s.stride, .pad_h = s.pad, .pad_w = s.pad};
    const attend::Tensor gy = attend::Tensor::randn({N, s.O, Ho, Wo}, rng);
    attend::Tensor y_attend;
    const double t_af = best_seconds([&] {
      attend::NoGrad ng;
      y_attend = attend::conv2d(x, w, b, opt);
    }, repeats);
    attend::Tensor y_graph;
    const double t_ab = best_seconds([&] {
      y_graph = attend::conv2d(x, w, b, opt);
      y_graph.backward(gy);
      x.zero_grad();
      w.zero_grad();
      b.zero_grad();
    }, repeats) - t_af;  // the graph's forward, subtracted

    const memory::dims src_d{N, s.C, s.H, s.W}, wei_d{s.O, s.C, s.k, s.k}, bia_d{s.O}, dst_d{N, s.O, Ho, Wo};
    const memory::dims strides{s.stride, s.stride}, pads{s.pad, s.pad};
    const auto md = [](const memory::dims& d, memory::format_tag t) { return memory::desc(d, memory::data_type::f32, t); };
    auto src_md = md(src_d, memory::format_tag::nchw), wei_md = md(wei_d, memory::format_tag::oihw),
         bia_md = md(bia_d, memory::format_tag::x), dst_md = md(dst_d, memory::format_tag::nchw);
    std::vector<float> dst(static_cast<size_t>(N * s.O * Ho * Wo)), dsrc(static_cast<size_t>(x.numel())),
        dwei(static_cast<size_t>(w.numel())), dbia(static_cast<size_t>(s.O));
    memory src_m(src_md, eng, x.data<float>()), wei_m(wei_md, eng, w.data<float>()), bia_m(bia_md, eng, b.data<float>()),
        dst_m(dst_md, eng, dst.data()), ddst_m(dst_md, eng, const_cast<float*>(gy.data<float>())),
        dsrc_m(src_md, eng, dsrc.data()), dwei_m(wei_md, eng, dwei.data()), dbia_m(bia_md, eng, dbia.data());
    auto fwd_pd = convolution_forward::primitive_desc(
        convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_auto, src_md, wei_md, bia_md,
                                  dst_md, strides, pads, pads),
        eng);
    auto bwd_d_pd = convolution_backward_data::primitive_desc(
        convolution_backward_data::desc(algorithm::convolution_auto, src_md, wei_md, dst_md, strides, pads, pads), eng,
        fwd_pd);
    auto bwd_w_pd = convolution_backward_weights::primitive_desc(
        convolution_backward_weights::desc(algorithm::convolution_auto, src_md, wei_md, bia_md, dst_md, strides, pads,
                                           pads),
        eng, fwd_pd);
    convolution_forward fwd(fwd_pd);
    convolution_backward_data bwd_d(bwd_d_pd);
    convolution_backward_weights bwd_w(bwd_w_pd);
    const double t_df = best_seconds([&] {
      fwd.execute(strm, {{DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, wei_m}, {DNNL_ARG_BIAS, bia_m}, {DNNL_ARG_DST, dst_m}});
      strm.wait();
    }, repeats);
    const double t_dd = best_seconds([&] {
      bwd_d.execute(strm, {{DNNL_ARG_DIFF_DST, ddst_m}, {DNNL_ARG_WEIGHTS, wei_m}, {DNNL_ARG_DIFF_SRC, dsrc_m}});
      strm.wait();
    }, repeats);
    const double t_dw = best_seconds([&] {
      bwd_w.execute(strm, {{DNNL_ARG_SRC, src_m}, {DNNL_ARG_DIFF_DST, ddst_m}, {DNNL_ARG_DIFF_WEIGHTS, dwei_m},
                           {DNNL_ARG_DIFF_BIAS, dbia_m}});
      strm.wait();
    }, repeats);
    // oneDNN's best case: the forward primitive with the layouts it prefers (format "any", often
    // blocked), timed without the reorders into and out of them that attend's NCHW tensors would need.
    auto any_md = [&](const memory::dims& d) { return memory::desc(d, memory::data_type::f32, memory::format_tag::any); };
    auto any_pd = convolution_forward::primitive_desc(
        convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_auto, any_md(src_d), any_md(wei_d),
                                  bia_md, any_md(dst_d), strides, pads, pads),
        eng);
    memory asrc(any_pd.src_desc(), eng), awei(any_pd.weights_desc(), eng), adst(any_pd.dst_desc(), eng);
    reorder(src_m, asrc).execute(strm, src_m, asrc);
    reorder(wei_m, awei).execute(strm, wei_m, awei);
    strm.wait();
    convolution_forward any_fwd(any_pd);
    const double t_bf = best_seconds([&] {
      any_fwd.execute(strm, {{DNNL_ARG_SRC, asrc}, {DNNL_ARG_WEIGHTS, awei}, {DNNL_ARG_BIAS, bia_m}, {DNNL_ARG_DST, adst}});
      strm.wait();
    }, repeats);
    double diff = 0.0;
    const float* ya = y_attend.data<float>();
    for (size_t i = 0; i < dst.size(); ++i)
      diff = std::max(diff, std::fabs(static_cast<double>(ya[i]) - dst[i]) / (1.0 + std::fabs(static_cast<double>(dst[i]))));
    const auto cell = [&](double t, double passes) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f (%.0f)", 1e3 * t, passes * flop / t / 1e9);
      return std::string(buf);
    };
    std::printf("| %s | [%lld, %lld, %lld] -> %lld | %s | %s | %s | %s | %s | %s | %.1e |\n", s.name, static_cast<long long>(s.C),
                static_cast<long long>(s.H), static_cast<long long>(s.W), static_cast<long long>(s.O),
                cell(t_af, 1).c_str(), cell(t_ab, 2).c_str(), cell(t_df, 1).c_str(), cell(t_dd, 1).c_str(),
                cell(t_dw, 1).c_str(), cell(t_bf, 1).c_str(), diff);
    if (diff > 1e-4) {
      std::fprintf(stderr, "conv_shapes: attend and oneDNN differ by %.2e on %s\n", diff, s.name);
      return 1;
    }
  }
  return 0;
}
