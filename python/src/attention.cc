// attend.scaled_dot_product_attention, the classical score functions and the attention skeleton
// on NumPy arrays. Every function computes in the dtype of its first array argument (float64
// arrays stay float64, anything else computes in float32) and releases the GIL while it runs.
#include <pybind11/stl.h>

#include "arrays.h"
#include "attend/attention/additive.h"
#include "attend/attention/attention.h"
#include "attend/attention/local.h"
#include "attend/attention/multiplicative.h"
#include "attend/attention/scaled_dot.h"
#include "attend/autograd/autograd.h"
#include "attend/ops/ops.h"
#include "bindings.h"

namespace attend::python {

namespace {

constexpr const char* kSdpa = "scaled_dot_product_attention";

// The keyword arguments every attention function shares, as an attention::Mask for scores of
// `scores_rank` dimensions ([B, Tq, Tk] or [B, H, Tq, Tk]).
attention::Mask mask_of(const py::object& key_lengths, const py::object& attn_mask, bool is_causal,
                        const py::object& window, DType dtype, const std::string& op) {
  attention::Mask m;
  if (auto lengths = lengths_of(key_lengths, op, "key_lengths")) m.key_lengths = *lengths;
  m.causal = is_causal;
  if (!window.is_none()) {
    // An int (Python's or NumPy's: anything with __index__) or a pair (left, right), None = unbounded.
    const auto side = [&](const py::handle& v) -> int64_t {
      if (v.is_none()) return -1;
      ATTEND_CHECK(PyIndex_Check(v.ptr()), op, "window: expected an int or a pair (left, right), got ",
                   std::string(py::repr(window)));
      return py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr())).cast<int64_t>();
    };
    if (!py::isinstance<py::sequence>(window)) {
      m.window_left = m.window_right = side(window);
    } else {
      const py::sequence lr = py::reinterpret_borrow<py::sequence>(window);
      ATTEND_CHECK(lr.size() == 2, op, "window: expected an int or a pair (left, right), got ", std::string(py::repr(window)));
      m.window_left = side(lr[0]);
      m.window_right = side(lr[1]);
    }
    ATTEND_CHECK(m.window_left >= -1 && m.window_right >= -1, op, "window sides must be >= 0 (or None: unbounded), got (",
                 m.window_left, ", ", m.window_right, ")");
  }
  if (!attn_mask.is_none()) {
    const py::array a = py::array::ensure(attn_mask);
    ATTEND_CHECK(a, op, "attn_mask: expected an array");
    // Boolean: True = may attend (PyTorch's scaled_dot_product_attention agrees); float: added.
    const bool boolean = a.dtype().kind() == 'b';
    m.attn_mask = tensor_of(a, dtype, op, "attn_mask");
    m.attn_mask_kind = boolean ? attention::MaskKind::boolean : attention::MaskKind::additive;
  }
  return m;
}

attention::AttendOptions options_of(const std::string& normalizer, bool need_weights, int64_t heads, DType dtype,
                                    const char* op) {
  attention::AttendOptions o;
  o.normalizer = attention::make_normalizer(normalizer, {.heads = heads, .dtype = dtype});
  o.need_weights = need_weights;
  o.need_lse = normalizer == "softmax";
  o.op = op;
  return o;
}

py::object maybe_array(const Tensor& t) { return t.defined() ? py::object(array_of(t)) : py::object(py::none()); }

// (context, weights or None, lse or None), each reshaped back to the caller's rank.
py::tuple result_of(const attention::AttentionResult& r, bool three_d) {
  auto back = [&](const Tensor& t) { return t.defined() && three_d ? squeeze(t, 1) : t; };
  return py::make_tuple(array_of(back(r.context)), maybe_array(back(r.weights)), maybe_array(back(r.lse)));
}

py::tuple sdpa(const py::object& q, const py::object& k, const py::object& v, const py::object& key_lengths,
               const py::object& attn_mask, bool is_causal, const py::object& window, const std::string& normalizer,
               bool need_weights, double scale) {
  const DType dt = dtype_for(q);
  Tensor tq = tensor_of(q, dt, kSdpa, "q"), tk = tensor_of(k, dt, kSdpa, "k"), tv = tensor_of(v, dt, kSdpa, "v");
  ATTEND_CHECK(tq.dim() == 3 || tq.dim() == 4, kSdpa, "q must be [B, T, D] or [B, H, T, D], got ", tq.shape().str());
  ATTEND_CHECK(tk.dim() == tq.dim() && tv.dim() == tq.dim(), kSdpa, "q, k and v must have the same rank: q ",
               tq.shape().str(), ", k ", tk.shape().str(), ", v ", tv.shape().str());
  const bool three_d = tq.dim() == 3;
  if (three_d) tq = unsqueeze(tq, 1), tk = unsqueeze(tk, 1), tv = unsqueeze(tv, 1);
  attention::Mask m = mask_of(key_lengths, attn_mask, is_causal, window, dt, kSdpa);
  attention::AttendOptions o = options_of(normalizer, need_weights, tq.size(1), dt, kSdpa);
  o.scale = scale;
  attention::AttentionResult r;
  {
    py::gil_scoped_release nogil;
    NoGrad no_grad;
    r = attention::scaled_dot_product_attention(tq, tk, tv, m, o);
  }
  return result_of(r, three_d);
}

py::tuple attend_scores(const py::object& scores, const py::object& values, const py::object& key_lengths,
                        const py::object& attn_mask, bool is_causal, const py::object& window,
                        const std::string& normalizer, bool need_weights) {
  const DType dt = dtype_for(scores);
  const Tensor s = tensor_of(scores, dt, "attend", "scores"), v = tensor_of(values, dt, "attend", "values");
  attention::Mask m = mask_of(key_lengths, attn_mask, is_causal, window, dt, "attend");
  const attention::AttendOptions o = options_of(normalizer, need_weights, s.dim() == 4 ? s.size(1) : 1, dt, "attend");
  attention::AttentionResult r;
  {
    py::gil_scoped_release nogil;
    NoGrad no_grad;
    r = attention::attend(s, v, m, o);
  }
  return result_of(r, false);
}

// Runs a score function on tensors converted from its arguments, without the GIL.
template <typename F>
py::array scores_call(const char* op, const std::vector<std::pair<const char*, py::object>>& args, F&& f) {
  const DType dt = dtype_for(args.front().second);
  std::vector<Tensor> t;
  for (const auto& [name, a] : args) t.push_back(tensor_of(a, dt, op, name));
  Tensor out;
  {
    py::gil_scoped_release nogil;
    NoGrad no_grad;
    out = f(t);
  }
  return array_of(out);
}

py::tuple local_call(const char* op, const py::object& scores, const py::object& values, const py::object* positions,
                     int64_t D, int64_t query_offset, const py::object& key_lengths, const std::string& normalizer,
                     bool need_weights) {
  const DType dt = dtype_for(scores);
  const Tensor s = tensor_of(scores, dt, op, "scores"), v = tensor_of(values, dt, op, "values");
  const Tensor p = positions ? tensor_of(*positions, dt, op, "positions") : Tensor();
  attention::Mask m = mask_of(key_lengths, py::none(), false, py::none(), dt, op);
  attention::LocalOptions o{.D = D, .query_offset = query_offset, .attend = options_of(normalizer, need_weights, 1, dt, op)};
  attention::AttentionResult r;
  {
    py::gil_scoped_release nogil;
    NoGrad no_grad;
    r = positions ? attention::local_p_attention(s, v, p, m, o) : attention::local_m_attention(s, v, m, o);
  }
  return result_of(r, false);
}

}  // namespace

void bind_attention(py::module_& m) {
  const auto none = py::none();
  m.def("scaled_dot_product_attention", &sdpa, py::arg("q"), py::arg("k"), py::arg("v"), py::kw_only(),
        py::arg("key_lengths") = none, py::arg("attn_mask") = none, py::arg("is_causal") = false,
        py::arg("window") = none, py::arg("normalizer") = "softmax", py::arg("need_weights") = false,
        py::arg("scale") = 0.0,
        R"doc(Scaled dot-product attention: softmax(Q K^T * scale + masks) V.

q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv] (Hkv divides H: grouped-query heads), or the
same without the head axis ([B, T, D]). Returns (context [B, H, Tq, Dv], weights [B, H, Tq, Tk] or
None, lse [B, H, Tq] or None): the weights when need_weights, the per-row log-sum-exp of the masked,
scaled scores for the softmax normalizer (-inf on a fully masked row).

Masks (every kind combines with every other; a fully masked row gives zero weights and a zero context):
  key_lengths  [B] ints: key j of batch row b is valid iff j < key_lengths[b]
  attn_mask    broadcastable to [B, H, Tq, Tk]; bool: True = MAY attend (as PyTorch's
               scaled_dot_product_attention), float: added to the scores
  is_causal    query i sees keys j <= i + Tk - Tq (bottom-right aligned, as a decoder with a cache)
  window       int w (keys within w on each side) or (left, right), None = unbounded on that side
normalizer: "softmax" (the fused flash kernel where it applies), "sparsemax", "entmax15",
"entmax:ALPHA", "crf-segment" (a CRF's marginals). scale 0 means 1/sqrt(D).

Arrays: computes in float64 when q is float64, else float32. C-contiguous arrays of that dtype are
read in place (no copy); any other input is converted once. The GIL is released while it runs.
Errors raise attend.Error (a ValueError) with the "[op] ..." message naming the shapes.)doc");

  m.def("attend", &attend_scores, py::arg("scores"), py::arg("values"), py::kw_only(), py::arg("key_lengths") = none,
        py::arg("attn_mask") = none, py::arg("is_causal") = false, py::arg("window") = none,
        py::arg("normalizer") = "softmax", py::arg("need_weights") = false,
        R"doc(The attention skeleton on scores made by any score function: mask, normalize, weigh the values.

scores [B, Tq, Tk] with values [B, Tk, Dv], or scores [B, H, Tq, Tk] with values [B, Hkv, Tk, Dv].
Returns (context, weights or None, lse or None) as scaled_dot_product_attention, with the same
masks and normalizers.)doc");

  m.def(
      "dot_scores",
      [](const py::object& query, const py::object& keys) {
        return scores_call("dot_scores", {{"query", query}, {"keys", keys}},
                           [](const std::vector<Tensor>& t) { return attention::dot_scores(t[0], t[1]); });
      },
      py::arg("query"), py::arg("keys"),
      "Luong dot: score = h_t . hs_s. query [B, Tq, D], keys [B, Tk, D] -> scores [B, Tq, Tk].");
  m.def(
      "general_scores",
      [](const py::object& query, const py::object& keys, const py::object& W_a) {
        return scores_call("general_scores", {{"query", query}, {"keys", keys}, {"W_a", W_a}}, [](const std::vector<Tensor>& t) {
          return attention::GeneralScore{.W_a = t[2]}.scores(t[0], t[1]);
        });
      },
      py::arg("query"), py::arg("keys"), py::arg("W_a"),
      "Luong general: score = h_t^T W_a hs_s. query [B, Tq, Dq], keys [B, Tk, Dk], W_a [Dq, Dk] -> [B, Tq, Tk].");
  m.def(
      "concat_scores",
      [](const py::object& query, const py::object& keys, const py::object& W_a, const py::object& v_a) {
        return scores_call("concat_scores", {{"query", query}, {"keys", keys}, {"W_a", W_a}, {"v_a", v_a}},
                           [](const std::vector<Tensor>& t) {
                             return attention::ConcatScore{.W_a = t[2], .v_a = t[3]}.scores(t[0], t[1]);
                           });
      },
      py::arg("query"), py::arg("keys"), py::arg("W_a"), py::arg("v_a"),
      "Luong concat: score = v_a^T tanh(W_a [h_t; hs_s]). query [B, Tq, Dq], keys [B, Tk, Dk], W_a [A, Dq + Dk], "
      "v_a [A] -> [B, Tq, Tk].");
  m.def(
      "additive_scores",
      [](const py::object& query, const py::object& keys, const py::object& W_q, const py::object& W_k,
         const py::object& b, const py::object& v) {
        return scores_call("additive_scores",
                           {{"query", query}, {"keys", keys}, {"W_q", W_q}, {"W_k", W_k}, {"b", b}, {"v", v}},
                           [](const std::vector<Tensor>& t) {
                             return attention::AdditiveScore{.W_q = t[2], .W_k = t[3], .b = t[4], .v = t[5]}.scores(t[0], t[1]);
                           });
      },
      py::arg("query"), py::arg("keys"), py::arg("W_q"), py::arg("W_k"), py::arg("b"), py::arg("v"),
      "Bahdanau additive: score = v^T tanh(W_q q + W_k k + b). query [B, Tq, Dq], keys [B, Tk, Dk], W_q [A, Dq], "
      "W_k [A, Dk], b [A], v [A] -> [B, Tq, Tk].");
  m.def(
      "location_scores",
      [](const py::object& query, const py::object& W_a, int64_t source_len) {
        return scores_call("location_scores", {{"query", query}, {"W_a", W_a}}, [source_len](const std::vector<Tensor>& t) {
          return attention::LocationScore{.W_a = t[1]}.scores(t[0], source_len);
        });
      },
      py::arg("query"), py::arg("W_a"), py::arg("source_len"),
      "Luong location: scores = (W_a h_t)[:source_len], no dependence on the keys. query [B, Tq, Dq], W_a [L, Dq] "
      "(L the maximum source length) -> [B, Tq, source_len]; softmax over them is the paper's cut and renormalized "
      "a_t.");
  m.def(
      "local_m_attention",
      [](const py::object& scores, const py::object& values, int64_t D, int64_t query_offset,
         const py::object& key_lengths, const std::string& normalizer, bool need_weights) {
        return local_call("local_m_attention", scores, values, nullptr, D, query_offset, key_lengths, normalizer,
                          need_weights);
      },
      py::arg("scores"), py::arg("values"), py::kw_only(), py::arg("D") = 2, py::arg("query_offset") = 0,
      py::arg("key_lengths") = none, py::arg("normalizer") = "softmax", py::arg("need_weights") = false,
      "Luong local-m: query row t (source position query_offset + t) attends to the window [t - D, t + D]. "
      "scores [B, Tq, Tk], values [B, Tk, Dv] -> (context, weights or None, lse or None).");
  m.def(
      "local_p_attention",
      [](const py::object& scores, const py::object& values, const py::object& positions, int64_t D,
         const py::object& key_lengths, const std::string& normalizer, bool need_weights) {
        return local_call("local_p_attention", scores, values, &positions, D, 0, key_lengths, normalizer, need_weights);
      },
      py::arg("scores"), py::arg("values"), py::arg("positions"), py::kw_only(), py::arg("D") = 2,
      py::arg("key_lengths") = none, py::arg("normalizer") = "softmax", py::arg("need_weights") = false,
      "Luong local-p: a_t(s) = softmax over |s - p_t| <= D of the scores, times exp(-(s - p_t)^2 / (2 (D/2)^2)), not "
      "renormalized. scores [B, Tq, Tk], values [B, Tk, Dv], positions p_t [B, Tq] (local_p_positions) -> (context, "
      "weights or None, lse or None).");
  m.def(
      "local_p_positions",
      [](const py::object& query, const py::object& W_p, const py::object& v_p, const py::object& source_lengths) {
        const auto lengths = lengths_of(source_lengths, "local_p_positions", "source_lengths");
        ATTEND_CHECK(lengths.has_value(), "local_p_positions", "source_lengths is required");
        return scores_call("local_p_positions", {{"query", query}, {"W_p", W_p}, {"v_p", v_p}},
                           [&](const std::vector<Tensor>& t) {
                             return attention::LocalPosition{.W_p = t[1], .v_p = t[2]}.positions(t[0], *lengths);
                           });
      },
      py::arg("query"), py::arg("W_p"), py::arg("v_p"), py::arg("source_lengths"),
      "Local-p's predicted positions p_t = S_b sigmoid(v_p^T tanh(W_p h_t)). query [B, Tq, Dq], W_p [A, Dq], v_p [A], "
      "source_lengths [B] -> [B, Tq].");
}

}  // namespace attend::python
