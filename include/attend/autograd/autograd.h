// The tape: reverse-mode automatic differentiation over a dynamic graph of Nodes.
//
// An op that wants gradients calls `record(name, inputs, outputs, backward_fn)` after computing
// its outputs. The Node keeps the inputs (its edges) and the backward closure; the outputs point
// back to the Node. `Tensor::backward()` walks the Nodes reachable from the root in reverse
// topological order, sums the gradients that reach each output, calls each backward closure once,
// accumulates into the leaves' `.grad`, and then frees the graph (closures and edges) unless
// `retain_graph` is set; a second backward through a freed graph is an Error.
//
// Closures must not capture an op's own outputs with their history (that would be a reference
// cycle): capture `out.detach()`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "attend/core/tensor.h"

namespace attend {

// Grad mode, per thread. While a NoGrad guard lives, ops record nothing.
bool grad_enabled();
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool prev_;
};

namespace autograd {

// grads_out[i] is the gradient w.r.t. output i (always defined: zeros if nothing reached it).
// Returns one gradient per input, in the order of `inputs`; an undefined Tensor means "none".
// Returned gradients must have exactly the shape of the corresponding input.
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads_out)>;

struct Node {
  std::string name;
  std::vector<Tensor> inputs;  // edges; undefined or non-grad entries receive nothing
  std::vector<Shape> output_shapes;
  DType dtype = DType::f32;
  BackwardFn backward;
  bool released = false;
};

// True when grad mode is on and at least one of `inputs` requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a Node to `outputs` if needs_grad(inputs). Returns whether it did.
bool record(std::string name, std::vector<Tensor> inputs, std::vector<Tensor> outputs, BackwardFn backward);
// Single-output convenience.
inline bool record(std::string name, std::vector<Tensor> inputs, const Tensor& output, BackwardFn backward) {
  return record(std::move(name), std::move(inputs), std::vector<Tensor>{output}, std::move(backward));
}

}  // namespace autograd
}  // namespace attend
