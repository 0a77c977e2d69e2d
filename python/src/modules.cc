// attend.MultiheadAttention's core (_MultiheadAttention): nn::MultiheadAttention on arrays with
// attend's mask polarity. The Python class in attend/__init__.py gives it PyTorch's constructor
// and call signature (batch_first, key_padding_mask True = ignore) and converts the masks.
#include <pybind11/stl.h>

#include "arrays.h"
#include "attend/app/convert.h"
#include "attend/autograd/autograd.h"
#include "attend/core/rng.h"
#include "attend/nn/multihead_attention.h"
#include "bindings.h"

namespace attend::python {

py::dict state_dict_of(const nn::Module& module) {
  py::dict d;
  for (const auto& [name, p] : module.named_parameters()) d[py::str(name)] = array_copy_of(p);
  return d;
}

io::TensorMap tensors_of(const py::dict& state, const std::string& op) {
  io::TensorMap tensors;
  for (const auto& [key, value] : state) {
    ATTEND_CHECK(py::isinstance<py::str>(key), op, "state dict keys must be strings, got ", std::string(py::repr(key)));
    const std::string name = key.cast<std::string>();
    const py::array a = py::array::ensure(value);
    ATTEND_CHECK(a && (a.dtype().kind() == 'f'), op, "state dict entry '", name, "': expected a float array, got ",
                 std::string(py::repr(py::type::handle_of(value))));
    tensors.emplace(name, tensor_of(a, dtype_for(a), op, name));
  }
  return tensors;
}

void load_state_dict_into(nn::Module& module, const py::dict& state, bool strict, const std::string& op) {
  const io::TensorMap tensors = tensors_of(state, op);
  // Strict: the converter's checks for state dicts other programs made (every name, shape and
  // value, before anything changes); otherwise the entries given.
  if (strict) {
    if (auto* mha = dynamic_cast<nn::MultiheadAttention*>(&module)) app::load_torch_mha(tensors, *mha, "state_dict");
    else app::load_torch_state_dict(tensors, module, "state_dict");
  } else {
    module.load_state_dict(tensors, false);
  }
}

namespace {

class PyMultiheadAttention {
 public:
  PyMultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout, bool bias, int64_t kdim, int64_t vdim,
                       int64_t num_kv_heads, const std::string& normalizer, const std::string& dtype, uint64_t seed) {
    ATTEND_CHECK(dtype == "float32" || dtype == "float64", "MultiheadAttention", "dtype must be float32 or float64, got '",
                 dtype, "'");
    Rng rng(seed);
    mha_ = std::make_unique<nn::MultiheadAttention>(
        nn::MultiheadAttentionOptions{.embed_dim = embed_dim,
                                      .num_heads = num_heads,
                                      .num_kv_heads = num_kv_heads,
                                      .kdim = kdim,
                                      .vdim = vdim,
                                      .bias = bias,
                                      .dropout = dropout,
                                      .dtype = dtype == "float64" ? DType::f64 : DType::f32,
                                      .normalizer = normalizer},
        rng);
    mha_->eval();
  }

  // query [B, Tq, C], key [B, Tk, kdim], value [B, Tk, vdim] (batch first); key_padding [B, Tk] of
  // 1 = may attend, or None; attn_mask broadcastable to [B, H, Tq, Tk], boolean (1 = may attend)
  // or additive.
  py::tuple forward(const py::object& query, const py::object& key, const py::object& value,
                    const py::object& key_padding, const py::object& attn_mask, bool attn_mask_additive,
                    bool need_weights, bool average_attn_weights, bool is_causal) {
    constexpr const char* op = "MultiheadAttention";
    const DType dt = mha_->options().dtype;
    const Tensor q = tensor_of(query, dt, op, "query"), k = tensor_of(key, dt, op, "key"), v = tensor_of(value, dt, op, "value");
    attention::Mask m;
    if (!key_padding.is_none()) m.key_padding = tensor_of(key_padding, dt, op, "key_padding_mask");
    if (!attn_mask.is_none()) {
      m.attn_mask = tensor_of(attn_mask, dt, op, "attn_mask");
      m.attn_mask_kind = attn_mask_additive ? attention::MaskKind::additive : attention::MaskKind::boolean;
    }
    m.causal = is_causal;
    nn::MhaOutput out;
    {
      py::gil_scoped_release nogil;
      NoGrad no_grad;
      out = mha_->forward(q, k, v, m, {.need_weights = need_weights, .average_attn_weights = average_attn_weights});
    }
    return py::make_tuple(array_of(out.output), out.weights.defined() ? py::object(array_of(out.weights)) : py::none());
  }

  nn::MultiheadAttention& module() { return *mha_; }

 private:
  std::unique_ptr<nn::MultiheadAttention> mha_;
};

}  // namespace

void bind_modules(py::module_& m) {
  py::class_<PyMultiheadAttention>(m, "_MultiheadAttention",
                                   "nn::MultiheadAttention on arrays; use attend.MultiheadAttention.")
      .def(py::init<int64_t, int64_t, double, bool, int64_t, int64_t, int64_t, const std::string&, const std::string&,
                    uint64_t>(),
           py::arg("embed_dim"), py::arg("num_heads"), py::arg("dropout"), py::arg("bias"), py::arg("kdim"),
           py::arg("vdim"), py::arg("num_kv_heads"), py::arg("normalizer"), py::arg("dtype"), py::arg("seed"))
      .def("forward", &PyMultiheadAttention::forward, py::arg("query"), py::arg("key"), py::arg("value"),
           py::arg("key_padding"), py::arg("attn_mask"), py::arg("attn_mask_additive"), py::arg("need_weights"),
           py::arg("average_attn_weights"), py::arg("is_causal"))
      .def("state_dict", [](PyMultiheadAttention& self) { return state_dict_of(self.module()); })
      .def("load_state_dict", [](PyMultiheadAttention& self, const py::dict& state, bool strict) {
             load_state_dict_into(self.module(), state, strict, "MultiheadAttention.load_state_dict");
           }, py::arg("state_dict"), py::arg("strict") = true)
      .def("train", [](PyMultiheadAttention& self, bool on) { self.module().train(on); }, py::arg("mode") = true)
      .def_property_readonly("training", [](PyMultiheadAttention& self) { return self.module().is_training(); })
      .def_property_readonly("head_dim", [](PyMultiheadAttention& self) { return self.module().head_dim(); });
}

}  // namespace attend::python
