#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "attend/autograd/autograd.h"

namespace attend {
namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGrad::NoGrad() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGrad::~NoGrad() { g_grad_enabled = prev_; }

namespace autograd {

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  return std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.defined() && t.requires_grad(); });
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  return needs_grad(std::vector<Tensor>(inputs));
}

bool record(std::string name, std::vector<Tensor> inputs, std::vector<Tensor> outputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return false;
  auto node = std::make_shared<Node>();
  node->name = std::move(name);
  node->dtype = outputs.front().dtype();
  for (const Tensor& o : outputs) node->output_shapes.push_back(o.shape());
  // Keep only edges that carry gradient; the rest stay undefined so nothing is kept alive.
  for (Tensor& t : inputs)
    if (t.defined() && !t.requires_grad()) t = Tensor();
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl& impl = outputs[i].impl();
    impl.requires_grad = true;
    impl.grad_fn = node;
    impl.output_nr = static_cast<int>(i);
  }
  return true;
}

}  // namespace autograd

using autograd::Node;

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  ATTEND_CHECK(requires_grad(), "backward", "tensor ", str(),
               " does not require grad (no input of the computation had requires_grad set)");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    ATTEND_CHECK(numel() == 1, "backward", "grad_output can be omitted only for a scalar; tensor is ", str());
    seed = Tensor::ones(shape(), dtype());
  }
  ATTEND_CHECK(seed.shape() == shape(), "backward", "grad_output ", seed.str(), " does not match tensor ", str());
  seed = seed.to(dtype());

  // A leaf's first gradient is a private copy, unless g is one already: a contiguous tensor over
  // the whole of its storage that nothing else references (a fresh buffer a backward returned).
  auto accumulate_leaf = [](const Tensor& leaf, const Tensor& g) {
    TensorImpl& impl = leaf.impl();
    if (!impl.grad) {
      const TensorImpl& gi = g.impl();
      const bool sole = g.impl_ptr().use_count() == 1 && gi.storage.use_count() == 1 && gi.offset == 0 &&
                        g.is_contiguous() && !gi.grad_fn && !gi.requires_grad &&
                        gi.storage->bytes() == static_cast<size_t>(g.numel()) * dtype_size(g.dtype());
      impl.grad = sole ? g.impl_ptr() : g.clone().impl_ptr();
    } else {
      Tensor acc(impl.grad);
      add_inplace(acc, g);
    }
  };

  Node* root = grad_fn().get();
  if (!root) {  // a leaf
    accumulate_leaf(*this, seed);
    return;
  }
  ATTEND_CHECK(!root->released, "backward",
               "trying to backward through the graph a second time: it was freed by the first backward "
               "(pass retain_graph = true to keep it)");

  // Dependency counts: how many edges point at each node from nodes reachable from the root.
  // `alive` owns every reachable node until the walk ends: releasing a node's edges below may
  // drop the last other reference to a child that is still queued.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack{root};
  std::unordered_set<Node*> seen{root};
  std::vector<std::shared_ptr<Node>> alive{grad_fn()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Tensor& in : n->inputs) {
      if (!in.defined()) continue;
      Node* child = in.grad_fn().get();
      if (!child) continue;
      ATTEND_CHECK(!child->released, "backward",
                   "part of the graph (", child->name, ") was already freed by an earlier backward "
                   "(pass retain_graph = true to keep it)");
      ++deps[child];
      if (seen.insert(child).second) {
        stack.push_back(child);
        alive.push_back(in.grad_fn());
      }
    }
  }

  // Per node, the gradient of each output so far, and whether the walk allocated that buffer.
  struct Pending {
    std::vector<Tensor> grads;
    std::vector<char> owned;
  };
  std::unordered_map<Node*, Pending> pending;
  auto add_grad = [&](Node* n, int slot, const Tensor& g) {
    Pending& p = pending[n];
    if (p.grads.empty()) {
      p.grads.resize(n->output_shapes.size());
      p.owned.assign(n->output_shapes.size(), 0);
    }
    Tensor& cur = p.grads[static_cast<size_t>(slot)];
    if (!cur.defined()) {
      cur = g;
      return;
    }
    // A gradient handed in may be shared (the caller's grad_output, or one tensor a backward gave
    // to two inputs): the first sum goes into a fresh buffer, later ones into that buffer.
    if (!p.owned[static_cast<size_t>(slot)]) {
      cur = sum_of(cur, g);
      p.owned[static_cast<size_t>(slot)] = 1;
      return;
    }
    add_inplace(cur, g);
  };
  add_grad(root, impl().output_nr, seed);

  std::vector<Node*> ready{root};
  NoGrad no_grad;  // backward closures compute plain tensors
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    std::vector<Tensor> grads = std::move(pending[n].grads);
    pending.erase(n);
    grads.resize(n->output_shapes.size());
    for (size_t i = 0; i < grads.size(); ++i)
      if (!grads[i].defined()) grads[i] = Tensor::zeros(n->output_shapes[i], n->dtype);
    std::vector<Tensor> in_grads = n->backward(grads);
    ATTEND_CHECK(in_grads.size() == n->inputs.size(), "backward", "node ", n->name, " returned ", in_grads.size(),
                 " gradients for ", n->inputs.size(), " inputs");
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Tensor& in = n->inputs[i];
      const Tensor& g = in_grads[i];
      if (!in.defined() || !g.defined()) continue;
      ATTEND_CHECK(g.shape() == in.shape(), "backward", "node ", n->name, " gave gradient ", g.str(),
                   " for input ", i, " of shape ", in.shape().str());
      Node* child = in.grad_fn().get();
      if (!child) {
        accumulate_leaf(in, g);
        continue;
      }
      add_grad(child, in.impl().output_nr, g);
      if (--deps[child] == 0) ready.push_back(child);
    }
    if (!retain_graph) {
      n->backward = nullptr;
      n->inputs.clear();
      n->released = true;
    }
  }
}

}  // namespace attend
