// gtgm probe's diagnostics on cases with a known answer: one-hot label features retrieve and
// probe perfectly, random features stay near chance; effective rank and per-dimension spread
// against numpy (scripts/reference/representation_reference.py printed the golden values).
#include <gtest/gtest.h>

#include "gtgm/infer/representation.h"
#include "test_util.h"

using namespace gtgm;

namespace {

torch::Tensor one_hot_rows(const torch::Tensor& labels, int64_t classes) {
  return torch::one_hot(labels, classes).to(torch::kFloat);
}

}  // namespace

TEST(Representation, RetrievalWithLabelFeaturesIsPerfectAndChanceIsExact) {
  // 6 images with captions 0,0,0,1,1,2; image and caption embeddings are the one-hot caption.
  const auto cap = torch::tensor({0, 0, 0, 1, 1, 2}, torch::kLong);
  const auto r = infer::retrieval(one_hot_rows(cap, 3), torch::eye(3), cap, {1, 5});
  EXPECT_EQ(r.images, 6);
  EXPECT_EQ(r.captions, 3);
  EXPECT_EQ(r.image_to_text, (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(r.text_to_image, (std::vector<double>{1.0, 1.0}));
  EXPECT_NEAR(r.image_to_text_chance[0], 1.0 / 3, 1e-15);
  EXPECT_EQ(r.image_to_text_chance[1], 1.0);                           // k >= U
  EXPECT_NEAR(r.text_to_image_chance[0], 0.33333333333333331, 1e-15);  // scipy.special.comb
  EXPECT_NEAR(r.text_to_image_chance[1], 0.94444444444444453, 1e-15);
  // Identical image embeddings: ties go to the lower caption index, so only caption 0 is "found".
  const auto flat = infer::retrieval(torch::ones({6, 3}), torch::eye(3), cap, {1});
  EXPECT_NEAR(flat.image_to_text[0], 0.5, 1e-15);
  EXPECT_THROW_MSG(infer::retrieval(torch::eye(3), torch::eye(3), torch::tensor({0, 1, 3}), {1}),
                   "image 2 names caption 3 (expected 0..2)");
  EXPECT_THROW_MSG(infer::retrieval(torch::eye(3), torch::eye(2), torch::tensor({0, 1, 1}), {1}),
                   "must be [N, E] and [U, E]");
}

TEST(Representation, RandomEmbeddingsRetrieveNearChance) {
  torch::manual_seed(3);
  const int64_t n = 400, u = 40;
  const auto cap = torch::arange(n, torch::kLong) % u;
  const auto r = infer::retrieval(torch::randn({n, 16}), torch::randn({u, 16}), cap, {1, 5});
  EXPECT_NEAR(r.image_to_text_chance[0], 0.025, 1e-15);
  EXPECT_NEAR(r.image_to_text_chance[1], 0.125, 1e-15);
  EXPECT_LT(r.image_to_text[0], 0.08);
  EXPECT_LT(r.image_to_text[1], 0.25);
  EXPECT_LT(r.text_to_image[0], 0.15);
}

TEST(Representation, LinearProbeSeparatesLabelFeaturesAndNotNoise) {
  torch::manual_seed(5);
  const auto labels = torch::arange(300, torch::kLong) % 3 + 10;  // class ids need not start at 0
  const auto exact = infer::linear_probe(one_hot_rows(labels - 10, 3), labels);
  EXPECT_EQ(exact.classes, 3);
  EXPECT_EQ(exact.train, 150);
  EXPECT_EQ(exact.test, 150);
  EXPECT_EQ(exact.test_accuracy, 1.0);
  EXPECT_EQ(exact.train_accuracy, 1.0);
  EXPECT_GT(exact.majority_baseline, 0.2);
  EXPECT_LT(exact.majority_baseline, 0.5);
  const auto noise = infer::linear_probe(torch::randn({300, 8}), labels);
  EXPECT_LT(noise.test_accuracy, 0.48);  // chance is 1/3
  EXPECT_GT(noise.test_accuracy, 0.18);
  // The same seed gives the same split and answer.
  const auto x = torch::randn({300, 8});
  EXPECT_EQ(infer::linear_probe(x, labels).test_accuracy, infer::linear_probe(x, labels).test_accuracy);
  EXPECT_THROW_MSG(infer::linear_probe(torch::randn({6, 2}), torch::zeros({6}, torch::kLong)),
                   "every sample has label 0 (expected at least 2 classes)");
  EXPECT_THROW_MSG(infer::linear_probe(torch::randn({3, 2}), torch::tensor({0, 1, 0})), "3 samples");
}

TEST(Representation, EffectiveRankAndSpreadMatchNumpy) {
  const auto x = torch::tensor({1., 2., 3., 4., 5., 6., 7., 8., 10., 0., 1., 0.}, torch::kDouble).view({4, 3});
  EXPECT_NEAR(infer::effective_rank(x), 1.4419066896807289, 1e-12);
  EXPECT_NEAR(infer::effective_rank(torch::eye(5)), 5.0, 1e-6);
  EXPECT_NEAR(infer::effective_rank(torch::outer(torch::tensor({1., 2., 3.}), torch::tensor({4., 5.}))), 1.0, 1e-6);
  EXPECT_NEAR(infer::effective_rank(torch::diag(torch::tensor({3.0, 1.0}, torch::kDouble))), 1.7547653506033232, 1e-12);
  EXPECT_EQ(infer::effective_rank(torch::zeros({3, 2})), 0.0);
  const auto s = infer::dimension_spread(x);
  EXPECT_EQ(s.dims, 3);
  EXPECT_NEAR(s.min, 3.1622776601683795, 1e-12);
  EXPECT_NEAR(s.max, 4.2720018726587652, 1e-12);
  EXPECT_NEAR(s.median, 3.1622776601683795, 1e-12);
  EXPECT_NEAR(s.mean, 3.5321857309985081, 1e-12);
  EXPECT_EQ(s.dead, 0);
  // A collapsed dimension is counted.
  EXPECT_EQ(infer::dimension_spread(torch::cat({x, torch::ones({4, 1}, torch::kDouble)}, 1)).dead, 1);
}
