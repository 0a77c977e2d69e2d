// BadInput*: every op rejects malformed input with an attend::Error whose message starts with
// "[op_name]" and names the offending shapes (or values).
#include <string>

#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::expect_error;

TEST(BadInputLinalg, MatmulInnerDimensionsDiffer) {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 5});
  expect_error([&] { matmul(a, b); }, "[matmul]", {"inner", "[2, 3]", "[4, 5]"});
  expect_error([&] { matmul(Tensor::ones({7, 2, 3}), Tensor::ones({7, 4, 5})); }, "[matmul]", {"[7, 2, 3]", "[7, 4, 5]"});
  expect_error([&] { matmul(Tensor::ones({2, 2, 3}), Tensor::ones({3, 3, 4})); }, "[matmul]", {"[2]", "[3]"});
}

TEST(BadInputLinalg, WrongRanks) {
  expect_error([&] { matmul(Tensor::scalar(1.0), Tensor::ones({2, 2})); }, "[matmul]", {"rank", "[2, 2]"});
  expect_error([&] { linear(Tensor::ones({2, 3}), Tensor::ones({4, 3, 1})); }, "[linear]", {"[4, 3, 1]"});
  expect_error([&] { linear(Tensor::ones({2, 3}), Tensor::ones({4, 5})); }, "[linear]", {"[2, 3]", "[4, 5]"});
  expect_error([&] { linear(Tensor::ones({2, 3}), Tensor::ones({4, 3}), Tensor::ones({5})); }, "[linear]", {"[5]"});
  expect_error([&] { cross_entropy(Tensor::ones({2, 3, 4}), Index({0, 1})); }, "[cross_entropy]", {"[2, 3, 4]"});
  expect_error([&] { embedding(Tensor::ones({5}), Index({0})); }, "[embedding]", {"[5]"});
}

TEST(BadInputElementwise, NonBroadcastableShapes) {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4});
  expect_error([&] { add(a, b); }, "[add]", {"[2, 3]", "[4]"});
  expect_error([&] { mul(Tensor::ones({2, 3, 4}), Tensor::ones({3, 2})); }, "[mul]", {"[2, 3, 4]", "[3, 2]"});
  expect_error([&] { where(Tensor::ones({3}), a, b); }, "[where]", {"[4]"});
  expect_error([&] { add(a, Tensor::ones({2, 3}, DType::f64)); }, "[add]", {"f32[2, 3]", "f64[2, 3]"});
}

TEST(BadInputShape, ReshapeToTheWrongNumel) {
  const Tensor x = Tensor::ones({2, 3});
  expect_error([&] { reshape(x, {4, 2}); }, "[reshape]", {"[2, 3]", "[4, 2]"});
  expect_error([&] { reshape(x, {-1, 4}); }, "[reshape]", {"[2, 3]"});
  expect_error([&] { reshape(x, {-1, -1}); }, "[reshape]", {"[2, 3]"});
}

TEST(BadInputShape, PermuteWithABadPermutation) {
  const Tensor x = Tensor::ones({2, 3, 4});
  expect_error([&] { permute(x, {0, 0, 1}); }, "[permute]", {"repeated", "[2, 3, 4]"});
  expect_error([&] { permute(x, {1, 0}); }, "[permute]", {"[2, 3, 4]"});
  expect_error([&] { permute(x, {0, 1, 3}); }, "[permute]", {"3"});
}

TEST(BadInputShape, AxisOutOfRange) {
  const Tensor x = Tensor::ones({2, 3});
  expect_error([&] { slice(x, 2, 0, 1); }, "[slice]", {"axis 2", "rank 2"});
  expect_error([&] { slice(x, -3, 0, 1); }, "[slice]", {"axis -3", "rank 2"});
  expect_error([&] { slice(x, 0, 0, 1, 0); }, "[slice]", {"step", "[2, 3]"});
  expect_error([&] { softmax(x, 2); }, "[softmax]", {"axis 2", "rank 2"});
  expect_error([&] { sum(x, {0, 5}); }, "[sum]", {"axis 5", "rank 2"});
  expect_error([&] { squeeze(x, 0); }, "[squeeze]", {"[2, 3]"});
  expect_error([&] { expand(x, {4, 3}); }, "[expand]", {"[2, 3]", "[4, 3]"});
}

// DESIGN.md: errors name the offending shapes. An out-of-range axis is reported by
// normalize_axis (core/shape.cc), which knows only the rank, so the shape is missing today.
TEST(BadInputShape, AxisOutOfRangeNamesTheShape) {
  const Tensor x = Tensor::ones({2, 3});
  expect_error([&] { slice(x, 2, 0, 1); }, "[slice]", {"axis 2", "[2, 3]"});
  expect_error([&] { softmax(x, -3); }, "[softmax]", {"axis -3", "[2, 3]"});
  expect_error([&] { sum(x, {0, 5}); }, "[sum]", {"axis 5", "[2, 3]"});
}

TEST(BadInputJoin, ConcatAndStackShapesDiffer) {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 4});
  expect_error([&] { concat({a, b}, 0); }, "[concat]", {"[2, 3]", "[4, 4]"});
  expect_error([&] { concat({a, Tensor::ones({2})}, 0); }, "[concat]", {"[2, 3]", "[2]"});
  expect_error([&] { concat({}, 0); }, "[concat]", {"at least one"});
  expect_error([&] { concat({a, Tensor::ones({2, 3}, DType::f64)}, 0); }, "[concat]", {"f32[2, 3]", "f64[2, 3]"});
  expect_error([&] { stack({a, Tensor::ones({3, 2})}, 0); }, "[stack]", {"[2, 3]", "[3, 2]"});
  expect_error([&] { stack({a, a}, 3); }, "[stack]", {"axis 3"});
}

TEST(BadInputSelect, IndexOutOfRange) {
  const Tensor w = Tensor::ones({5, 4});
  expect_error([&] { embedding(w, Index({1, 5})); }, "[embedding]", {"id 5", "[5, 4]"});
  expect_error([&] { embedding(w, Index({-1})); }, "[embedding]", {"id -1", "[5, 4]"});
  expect_error([&] { embedding(w, Index({0}), 5); }, "[embedding]", {"padding_idx 5", "[5, 4]"});
  expect_error([&] { index_select(w, 1, Index({0, 4})); }, "[index_select]", {"index 4", "[5, 4]"});
  expect_error([&] { index_select(w, 0, Index({0, 1}, Shape{1, 2})); }, "[index_select]", {"[1, 2]", "[5, 4]"});
  expect_error([&] { gather(w, 0, Index({0, 5}, Shape{2, 1})); }, "[gather]", {"index 5", "[5, 4]"});
  expect_error([&] { gather(w, 1, Index({0, 1}, Shape{2})); }, "[gather]", {"[2]", "[5, 4]"});
  expect_error([&] { gather(w, 1, Index({0, 1, 0, 1, 0, 1}, Shape{6, 1})); }, "[gather]", {"[6, 1]", "[5, 4]"});
}

TEST(BadInputLoss, CrossEntropyTargets) {
  const Tensor logits = Tensor::ones({2, 4});
  expect_error([&] { cross_entropy(logits, Index({0, 4})); }, "[cross_entropy]", {"target 4", "[2, 4]"});
  expect_error([&] { cross_entropy(logits, Index({-1, 0})); }, "[cross_entropy]", {"target -1", "[2, 4]"});
  expect_error([&] { cross_entropy(logits, Index({0, 1, 2})); }, "[cross_entropy]", {"[3]", "[2, 4]"});
  expect_error([&] { cross_entropy(logits, Index({0, 1}, Shape{1, 2})); }, "[cross_entropy]", {"[1, 2]", "[2, 4]"});
  expect_error([&] { cross_entropy(logits, Index({0, 1}), {.label_smoothing = 1.5}); }, "[cross_entropy]",
               {"label_smoothing 1.5"});
  expect_error([&] { mse_loss(Tensor::ones({2, 3}), Tensor::ones({3})); }, "[mse_loss]", {"[2, 3]", "[3]"});
}

TEST(BadInputNorm, LayerNormWrongWeightShape) {
  const Tensor x = Tensor::ones({2, 3, 4});
  expect_error([&] { layer_norm(x, 1, Tensor::ones({3}), Tensor()); }, "[layer_norm]", {"weight [3]", "[4]", "[2, 3, 4]"});
  expect_error([&] { layer_norm(x, 1, Tensor::ones({4}), Tensor::ones({1, 4})); }, "[layer_norm]", {"bias [1, 4]", "[4]"});
  expect_error([&] { layer_norm(x, 2, Tensor::ones({4}), Tensor()); }, "[layer_norm]", {"[3, 4]"});
  expect_error([&] { layer_norm(x, 4, Tensor(), Tensor()); }, "[layer_norm]", {"normalized_dims 4", "[2, 3, 4]"});
}

TEST(BadInputDropout, ProbabilityOutsideZeroOne) {
  Rng rng(1);
  const Tensor x = Tensor::ones({2, 3});
  for (double p : {1.0, -0.1, 1.5})
    expect_error([&] { dropout(x, p, true, rng); }, "[dropout]", {"[2, 3]", "[0, 1)"});
  expect_error([&] { dropout(x, 1.0, false, rng); }, "[dropout]", {"p = 1"});  // checked in eval mode too
}

}  // namespace
}  // namespace attend
