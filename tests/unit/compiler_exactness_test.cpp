// Exactness of the folded output stages (issue 10, item 6), on models written with the project's
// writer and loaded back, run by the kernels engine, the reference interpreter and (where the
// value is pinned down) the independent numpy oracle tests/oracle/keras_oracle.py:
//   - magnitude_aware_sign: one canonical value, the exactly rounded sum float(d * alpha), in
//     both engines; MAS_SUM_ORDER names the channels where Keras' own result depends on its
//     summation order;
//   - tf.keras 2.x fused BatchNormalization raises epsilon to 1.001e-5 (BN_EPSILON_FLOOR);
//   - bias before BatchNorm is evaluated in float32 step by step, never folded in double;
//   - zero and negative gammas (constant and flipped thresholds), and BN_PARAMS.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "bitlens/compiler.hpp"
#include "oracle/run_oracle.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"
#include "bitlens/semantics.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;
namespace fs = std::filesystem;

namespace {

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("bitlens_exact_" + std::to_string(::getpid()) + "_" + name);
}

// Writes the model as `keras_version` saves it and loads it back (the real .h5 layout).
Model through_file(const kb::ModelBuilder& b, const std::string& keras_version, const fs::path& keep = {}) {
  const fs::path p = keep.empty() ? temp_path(b.name() + ".h5") : keep;
  H5WriteOptions wo;
  wo.keras_version = keras_version;
  wo.keras3_legacy = keras_version.starts_with("3.");
  write_model_h5(b.build(), p, wo);
  Model m = load_model(p);
  if (keep.empty()) fs::remove(p);
  return m;
}

bool has_reason(const Node& n, const std::string& code, std::string* message = nullptr) {
  for (const auto& r : n.decision.reasons)
    if (r.code == code) {
      if (message) *message = r.message;
      return true;
    }
  return false;
}

const Node& node(const CompileResult& r, const std::string& name) {
  const Node* n = r.graph.find_node(name);
  if (!n) throw std::runtime_error("no node " + name);
  return *n;
}

// The oracle's main reading (float32 per op) of the model file on the inputs.
std::vector<Array> oracle(const fs::path& model, const std::vector<Array>& inputs, size_t outputs) {
  std::string cmd = oracle_run::command() + " " + model.string() + " --variant main";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const fs::path f = model.string() + ".in" + std::to_string(i) + ".npy";
    write_npy(f, inputs[i]);
    cmd += " --input " + f.string();
  }
  for (size_t k = 0; k < outputs; ++k) cmd += " --output " + model.string() + ".out" + std::to_string(k) + ".npy";
  const std::string log = oracle_run::run_capture(cmd);
  std::vector<Array> out;
  for (size_t k = 0; k < outputs; ++k) {
    const fs::path f = model.string() + ".out" + std::to_string(k) + ".npy";
    if (!fs::exists(f)) throw std::runtime_error("the oracle wrote no output: " + log);
    out.push_back(read_npy(f));
  }
  return out;
}

void cleanup(const fs::path& model) {
  const auto dir = model.parent_path();
  const std::string stem = model.filename().string();
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().starts_with(stem)) fs::remove(e.path());
}

void expect_equal(const Array& got, const Array& want, const std::string& what) {
  ASSERT_EQ(got.shape, want.shape) << what;
  for (size_t i = 0; i < got.data.size(); ++i) ASSERT_EQ(got.data[i], want.data[i]) << what << " element " << i;
}

// A sign-pattern input for a dense layer whose dot product with the signs of kernel column
// `col` is exactly d (N + d must be even): the first (N + d) / 2 inputs agree with the weight's
// sign, the rest disagree.
Array input_with_dot(const Array& kernel, int64_t units, int64_t col, int64_t d) {
  const int64_t N = kernel.shape[0];
  Array x{{1, N}, {}};
  for (int64_t i = 0; i < N; ++i) {
    const float s = kernel.data[static_cast<size_t>(i * units + col)] < 0 ? -1.0f : 1.0f;
    x.data.push_back(i < (N + d) / 2 ? s : -s);
  }
  return x;
}

// Kernel values whose magnitudes have full 24-bit mantissas, so that sums of +-alpha round.
Array odd_kernel(std::vector<int64_t> shape, uint64_t seed) {
  Array a{shape, {}};
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
  for (int64_t i = 0; i < a.size(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const float mag = 0.05f + static_cast<float>(s >> 40) / static_cast<float>(1 << 24);
    a.data.push_back((s >> 13) & 1 ? mag : -mag);
  }
  return a;
}

}  // namespace

// ---- magnitude_aware_sign ------------------------------------------------------------------

// A MagnitudeAwareSign convolution's value is the exact sum of its +-alpha products rounded
// once, in the reference and in the kernels engine, where a float32 sum in tap order differs.
TEST(Exactness, MagnitudeAwareSignConvIsTheExactlyRoundedSum) {
  kb::ModelBuilder b("mas_conv");
  auto x = b.input({4, 4, 64});
  b.quant_conv2d(x, {.filters = 8, .kernel_size = {3, 3}, .use_bias = false, .input_quantizer = "ste_sign",
                     .kernel_quantizer = "magnitude_aware_sign", .name = "mas"});
  b.set_weight("mas", "kernel", odd_kernel({3, 3, 64, 8}, 3));
  const CompileResult r = compile(through_file(b, "2.10.0"));
  ASSERT_EQ(node(r, "mas").decision.kernel, KernelClass::Binary);
  const Array k = r.model.find("mas")->weights.at("kernel");
  const auto alpha = sem::magnitude_aware_alpha(k.data, 8);
  const auto in = random_inputs(r, 5, 3);
  const Array ref = reference_run(r.model, in).at(0);
  const Array got = Executor(r).run(in).at(0);
  int tap_order_differs = 0;
  for (int64_t b0 = 0; b0 < 3; ++b0)
    for (int64_t oy = 0; oy < 2; ++oy)
      for (int64_t ox = 0; ox < 2; ++ox)
        for (int64_t co = 0; co < 8; ++co) {
          int64_t d = 0;
          float tap_sum = 0.0f;
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx)
              for (int64_t ci = 0; ci < 64; ++ci) {
                const float xv = in[0].data[static_cast<size_t>(((b0 * 4 + oy + ky) * 4 + ox + kx) * 64 + ci)];
                const float wv = k.data[static_cast<size_t>(((ky * 3 + kx) * 64 + ci) * 8 + co)];
                const int p = (xv < 0) == (wv < 0) ? 1 : -1;
                d += p;
                tap_sum += static_cast<float>(p) * alpha[static_cast<size_t>(co)];
              }
          const float want = static_cast<float>(static_cast<double>(d) * alpha[static_cast<size_t>(co)]);
          const size_t i = static_cast<size_t>(((b0 * 2 + oy) * 2 + ox) * 8 + co);
          ASSERT_EQ(ref.data[i], want) << "reference, element " << i << ", d = " << d;
          ASSERT_EQ(got.data[i], want) << "kernels engine, element " << i << ", d = " << d;
          tap_order_differs += tap_sum != want;
        }
  // The test distinguishes the two: a float32 sum in tap order is not the canonical value.
  EXPECT_GT(tap_order_differs, 0);
}

namespace {

// QuantDense(MAS) -> BatchNorm -> QuantDense(ste_sign, one unit): the model output is the sum of
// the signs of the BatchNorm outputs (an integer), so one flipped bit changes it by 2. Channel
// c's moving_mean is
// float(tie[c] * alpha_c): at d = tie[c] the BatchNorm output is exactly 0.
struct MasTie {
  kb::ModelBuilder b{"mas_tie"};
  Array kernel;
  std::vector<float> alpha;
  static constexpr int64_t N = 300, units = 4;
  explicit MasTie(const std::vector<int64_t>& tie) {
    auto x = b.input({N});
    x = b.quant_dense(x, {.units = static_cast<int>(units), .use_bias = false, .input_quantizer = "ste_sign",
                          .kernel_quantizer = "magnitude_aware_sign", .name = "mas"});
    x = b.batch_norm(x, {.name = "bn"});
    b.quant_dense(x, {.units = 1, .use_bias = false, .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign",
                      .name = "head"});
    kernel = odd_kernel({N, units}, 11);
    b.set_weight("mas", "kernel", kernel);
    b.set_weight("head", "kernel", Array{{units, 1}, {1.0f, 1.0f, 1.0f, 1.0f}});
    alpha = sem::magnitude_aware_alpha(kernel.data, units);
    Array mean{{units}, {}};
    for (int64_t c = 0; c < units; ++c)
      mean.data.push_back(static_cast<float>(static_cast<double>(tie[static_cast<size_t>(c)]) * alpha[static_cast<size_t>(c)]));
    b.set_weight("bn", "moving_mean", mean);
    b.set_weight("bn", "moving_variance", Array{{units}, {1.0f, 1.0f, 1.0f, 1.0f}});
    b.set_weight("bn", "gamma", Array{{units}, {1.0f, 1.0f, 1.0f, 1.0f}});
    b.set_weight("bn", "beta", Array{{units}, {0.0f, 0.0f, 0.0f, 0.0f}});
  }
};

}  // namespace

// A threshold exactly at a reachable dot product: both engines and the oracle take the exactly
// rounded sum (BatchNorm output exactly 0, sign +1), and the layer notes that Keras' own bit
// depends on its summation order there (MAS_SUM_ORDER, 1 of 4 channels).
TEST(Exactness, MagnitudeAwareSignTieAgreesEverywhereAndIsNoted) {
  const int64_t d0 = 6;  // N = 300 is even: even dot products are reachable, odd ones are not
  MasTie t({d0, d0 + 1, -d0 - 1, 1});
  const fs::path file = temp_path("mas_tie.h5");
  const CompileResult r = compile(through_file(t.b, "2.10.0", file));
  const Node& mas = node(r, "mas");
  ASSERT_EQ(mas.decision.kernel, KernelClass::Binary);
  ASSERT_TRUE(mas.epi.bits);
  std::string msg;
  ASSERT_TRUE(has_reason(mas, "MAS_SUM_ORDER", &msg));
  EXPECT_NE(msg.find("in 1 of 4 output channels of 'mas'"), std::string::npos) << msg;
  // Proof that the canonical value sits exactly on the tie: a float32 sum in input order of the
  // same products lands off it for this input (it would flip the bit).
  const Array x = input_with_dot(t.kernel, MasTie::units, 0, d0);
  float seq = 0.0f;
  for (int64_t i = 0; i < MasTie::N; ++i)
    seq += x.data[static_cast<size_t>(i)] * (t.kernel.data[static_cast<size_t>(i * MasTie::units)] < 0 ? -t.alpha[0] : t.alpha[0]);
  const float canonical = static_cast<float>(static_cast<double>(d0) * t.alpha[0]);
  EXPECT_NE(seq, canonical) << "pick another d0 or kernel: the input-order sum happens to be exact";

  ReferenceTrace trace;
  const Array ref = reference_run(r.model, {x}, &trace).at(0);
  EXPECT_EQ(trace.outputs.at("mas").data[0], canonical);
  EXPECT_EQ(trace.outputs.at("bn").data[0], 0.0f);  // its sign is +1
  expect_equal(Executor(r).run({x}).at(0), ref, "kernels engine");
  expect_equal(oracle(file, {x}, 1).at(0), ref, "oracle");
  cleanup(file);
}

// Thresholds half-way between reachable dot products are order-independent: no note.
TEST(Exactness, MagnitudeAwareSignAwayFromTiesHasNoNote) {
  MasTie t({7, -7, 1, 299});  // all odd: N = 300 makes every reachable d even
  const CompileResult r = compile(through_file(t.b, "2.10.0"));
  EXPECT_FALSE(has_reason(node(r, "mas"), "MAS_SUM_ORDER"));
  EXPECT_TRUE(has_reason(node(r, "mas"), "MAGNITUDE_AWARE_SCALE"));
}

// ---- BatchNormalization epsilon -------------------------------------------------------------

namespace {

// Conv2D -> BatchNorm(epsilon) [-> Flatten -> Dense -> BatchNorm(epsilon)]; variance 0 in
// channel 0 so that epsilon alone sets 1/sqrt(variance + epsilon) there.
kb::ModelBuilder bn_model(double eps) {
  kb::ModelBuilder b("bn_eps");
  auto x = b.input({3, 3, 2});
  x = b.conv2d(x, {.filters = 2, .kernel_size = {1, 1}, .name = "conv"});
  x = b.batch_norm(x, {.epsilon = eps, .name = "bn4"});
  x = b.flatten(x, "flat");
  x = b.dense(x, {.units = 2, .name = "fc"});
  b.batch_norm(x, {.epsilon = eps, .name = "bn2"});
  for (const char* l : {"bn4", "bn2"}) {
    b.set_weight(l, "moving_variance", Array{{2}, {0.0f, 0.25f}});
    b.set_weight(l, "moving_mean", Array{{2}, {0.125f, -0.5f}});
    b.set_weight(l, "gamma", Array{{2}, {1.5f, -0.75f}});
    b.set_weight(l, "beta", Array{{2}, {0.25f, 0.5f}});
  }
  return b;
}

}  // namespace

// tf.keras 2.x: the rank-4 BatchNormalization is fused and gets epsilon 1.001e-5; the rank-2 one
// is not fused and keeps 1e-5. Keras 3 keeps 1e-5 everywhere. The engines and the oracle agree.
TEST(Exactness, FusedBatchNormEpsilonFloorFollowsKerasVersionAndRank) {
  const float floor_eps = static_cast<float>(sem::kFusedBnMinEpsilon);
  const float raw = 1e-5f;
  struct Case {
    const char* version;
    float eps4, eps2;
  } cases[] = {{"2.10.0", floor_eps, raw}, {"3.10.0", raw, raw}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.version);
    const fs::path file = temp_path(std::string("bn_eps_") + c.version + ".h5");
    const CompileResult r = compile(through_file(bn_model(1e-5), c.version, file));
    const Node& bn4 = node(r, "bn4");
    const Node& bn2 = node(r, "bn2");
    EXPECT_EQ(has_reason(bn4, "BN_EPSILON_FLOOR"), c.eps4 != raw);
    EXPECT_FALSE(has_reason(bn2, "BN_EPSILON_FLOOR"));
    // The folded BatchNorms (into conv and fc) carry inv = gamma / sqrt(var + eps).
    const auto& chain4 = node(r, "conv").epi.chain;
    const auto& chain2 = node(r, "fc").epi.chain;
    ASSERT_EQ(chain4.back().kind, PostOp::Kind::BatchNorm);
    ASSERT_EQ(chain2.back().kind, PostOp::Kind::BatchNorm);
    EXPECT_EQ(chain4.back().a[0], sem::bn_inv(0.0f, c.eps4, 1.5f));
    EXPECT_EQ(chain2.back().a[0], sem::bn_inv(0.0f, c.eps2, 1.5f));
    const auto in = random_inputs(r, 3, 2);
    const auto ref = reference_run(r.model, in);
    const auto got = Executor(r).run(in);
    const auto want = oracle(file, in, 1);
    for (size_t i = 0; i < ref[0].data.size(); ++i) {
      const float a = ref[0].data[i], k = got[0].data[i], o = want[0].data[i];
      EXPECT_LE(std::fabs(a - o), 1e-6f * (1.0f + std::fabs(o))) << "reference vs oracle, element " << i;
      EXPECT_LE(std::fabs(k - a), 1e-5f * (1.0f + std::fabs(a))) << "kernels vs reference, element " << i;
    }
    cleanup(file);
  }
  // The floor matters: 1/sqrt(1e-5) and 1/sqrt(1.001e-5) differ by 5e-4 relative.
  EXPECT_GT(std::fabs(sem::bn_inv(0.0f, floor_eps, 1.0f) / sem::bn_inv(0.0f, raw, 1.0f) - 1.0f), 4e-4f);
}

TEST(Exactness, FusedBatchNormEpsilonRules) {
  const json none = json::object();
  EXPECT_TRUE(sem::bn_epsilon(1e-5, true, 4, 3, none).raised);
  EXPECT_TRUE(sem::bn_epsilon(0.0, true, 4, 3, none).raised);
  EXPECT_FALSE(sem::bn_epsilon(1.001e-5, true, 4, 3, none).raised);  // `epsilon > min` is false, value equal
  EXPECT_EQ(sem::bn_epsilon(1.001e-5, true, 4, 3, none).value, static_cast<float>(1.001e-5));
  EXPECT_FALSE(sem::bn_epsilon(1e-3, true, 4, 3, none).raised);
  EXPECT_TRUE(sem::bn_epsilon(1e-5, true, 5, 4, none).raised);
  EXPECT_FALSE(sem::bn_epsilon(1e-5, false, 4, 3, none).raised);   // Keras 3 (or no keras_version)
  EXPECT_FALSE(sem::bn_epsilon(1e-5, true, 3, 2, none).raised);  // rank 3 (1-D): not fused
  EXPECT_FALSE(sem::bn_epsilon(1e-5, true, 2, 1, none).raised);
  EXPECT_FALSE(sem::bn_epsilon(1e-5, true, 4, 2, none).raised);  // axis 2: not fusable
  EXPECT_FALSE(sem::bn_epsilon(1e-5, true, 4, 3, json{{"renorm", true}}).raised);
  EXPECT_FALSE(sem::bn_epsilon(1e-5, true, 4, 3, json{{"virtual_batch_size", 8}}).raised);
  EXPECT_FALSE(sem::bn_epsilon(1e-5, true, 4, 3, json{{"fused", false}}).raised);
  EXPECT_TRUE(sem::bn_epsilon(1e-5, true, 4, 3, json{{"virtual_batch_size", nullptr}}).raised);
  EXPECT_TRUE(sem::tf_keras2_file("2.10.0"));
  EXPECT_TRUE(sem::tf_keras2_file("2.2.4-tf"));
  EXPECT_FALSE(sem::tf_keras2_file("3.10.0"));
  EXPECT_FALSE(sem::tf_keras2_file(""));
}

// ---- bias before BatchNorm ------------------------------------------------------------------

// QuantDense(ste_sign, bias b) -> BatchNorm(mean 0, beta = -fl(fl(d0 + b) * inv)): at d = d0 the
// float32 graph gives exactly 0 (sign +1), while (d0 + b) * inv + beta folded in double is
// negative. The compiler's threshold, both engines and the oracle follow float32.
// A bias and BatchNorm (mean 0, variance 1, epsilon 1e-3) whose float32 steps give exactly 0 at
// the dot product d0 = 10 of a 64-input layer, where the chain composed in double is negative.
struct BiasBnBoundary {
  static constexpr int64_t N = 64, d0 = 10;
  float bias = 0, gamma = 0, beta = 0;
  bool found = false;
  BiasBnBoundary() {
    for (uint32_t s = 1; s < 10000 && !found; ++s) {
      bias = 0.1f + static_cast<float>(s) * 1.2345e-4f;
      gamma = 0.7f + static_cast<float>(s % 97) * 3.1e-3f;
      const float inv = sem::bn_inv(1.0f, 1e-3f, gamma);
      const float t = (static_cast<float>(d0) + bias) * inv;
      beta = -t;
      const double folded = (static_cast<double>(d0) + bias) * static_cast<double>(inv) + beta;
      found = folded < 0.0;
    }
  }
};

TEST(Exactness, BiasThenBatchNormOnAFloat32RoundingBoundary) {
  const BiasBnBoundary bb;
  ASSERT_TRUE(bb.found);
  constexpr int64_t N = BiasBnBoundary::N, d0 = BiasBnBoundary::d0;
  const float bias = bb.bias, gamma = bb.gamma, beta = bb.beta;
  kb::ModelBuilder b("bias_bn");
  auto x = b.input({N});
  x = b.quant_dense(x, {.units = 1, .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .name = "fc"});
  x = b.batch_norm(x, {.epsilon = 1e-3, .name = "bn"});
  b.quant_dense(x, {.units = 1, .use_bias = false, .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign",
                    .name = "head"});
  Array k{{N, 1}, {}};
  for (int64_t i = 0; i < N; ++i) k.data.push_back(i % 3 ? 0.5f : -0.5f);
  b.set_weight("fc", "kernel", k);
  b.set_weight("fc", "bias", Array{{1}, {bias}});
  b.set_weight("bn", "gamma", Array{{1}, {gamma}});
  b.set_weight("bn", "beta", Array{{1}, {beta}});
  b.set_weight("bn", "moving_mean", Array{{1}, {0.0f}});
  b.set_weight("bn", "moving_variance", Array{{1}, {1.0f}});
  b.set_weight("head", "kernel", Array{{1, 1}, {1.0f}});
  const fs::path file = temp_path("bias_bn.h5");
  const CompileResult r = compile(through_file(b, "2.10.0", file));
  const Node& fc = node(r, "fc");
  ASSERT_TRUE(fc.epi.bits);
  // Bit 1 (negative) exactly for d < d0: d0 itself is on the +1 side.
  ASSERT_EQ(fc.epi.threshold.size(), 1u);
  EXPECT_EQ(fc.epi.threshold[0], d0);
  EXPECT_TRUE(fc.epi.flip.empty());
  for (const int64_t d : {d0 - 2, d0, d0 + 2}) {
    SCOPED_TRACE(d);
    const Array in = input_with_dot(k, 1, 0, d);
    ReferenceTrace trace;
    const Array ref = reference_run(r.model, {in}, &trace).at(0);
    if (d == d0) {
      EXPECT_EQ(trace.outputs.at("bn").data[0], 0.0f);
    }
    EXPECT_EQ(ref.data[0], d < d0 ? -1.0f : 1.0f);
    expect_equal(Executor(r).run({in}).at(0), ref, "kernels engine");
    expect_equal(oracle(file, {in}, 1).at(0), ref, "oracle");
  }
  cleanup(file);
}

// The same chain with a float output: the kernels' output stage runs (d + bias) and then the
// BatchNorm as two steps in Keras' order, so at d0 the output is exactly 0 as in Keras (a
// composition in double gives a negative number there); every reachable d bit for bit with the
// reference, the boundary also with the oracle. A MagnitudeAwareSign scale followed by a
// BatchNorm likewise. A third affine step (a second BatchNorm) is not pre-composed: it stays a
// layer of its own, with the reason.
TEST(Exactness, FloatOutputStageKeepsKerasOrder) {
  const BiasBnBoundary bb;
  ASSERT_TRUE(bb.found);
  constexpr int64_t N = BiasBnBoundary::N, d0 = BiasBnBoundary::d0;
  const float bias = bb.bias, gamma = bb.gamma, beta = bb.beta;
  Array k{{N, 1}, {}};
  for (int64_t i = 0; i < N; ++i) k.data.push_back(i % 3 ? 0.5f : -0.5f);
  auto set_bn = [&](kb::ModelBuilder& b, const std::string& name, float g, float bt) {
    b.set_weight(name, "gamma", Array{{1}, {g}});
    b.set_weight(name, "beta", Array{{1}, {bt}});
    b.set_weight(name, "moving_mean", Array{{1}, {0.0f}});
    b.set_weight(name, "moving_variance", Array{{1}, {1.0f}});
  };
  {
    kb::ModelBuilder b("bias_bn_float");
    auto x = b.input({N});
    x = b.quant_dense(x, {.units = 1, .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .name = "fc"});
    b.batch_norm(x, {.epsilon = 1e-3, .name = "bn"});
    b.set_weight("fc", "kernel", k);
    b.set_weight("fc", "bias", Array{{1}, {bias}});
    set_bn(b, "bn", gamma, beta);
    const fs::path file = temp_path("bias_bn_float.h5");
    const CompileResult r = compile(through_file(b, "2.10.0", file));
    const Node& fc = node(r, "fc");
    ASSERT_FALSE(fc.epi.bits);
    EXPECT_EQ(node(r, "bn").decision.kernel, KernelClass::Fused);
    ASSERT_EQ(fc.epi.add.size(), 1u);   // step 1: + bias
    ASSERT_EQ(fc.epi.mul2.size(), 1u);  // step 2: the BatchNorm
    for (int64_t d = -N; d <= N; d += 2) {
      SCOPED_TRACE(d);
      const Array in = input_with_dot(k, 1, 0, d);
      const Array ref = reference_run(r.model, {in}).at(0);
      if (d == d0) {
        EXPECT_EQ(ref.data[0], 0.0f);
        expect_equal(oracle(file, {in}, 1).at(0), ref, "oracle");
      }
      expect_equal(Executor(r).run({in}).at(0), ref, "kernels engine");
    }
    cleanup(file);
  }
  {
    kb::ModelBuilder b("mas_bn_float");
    auto x = b.input({N});
    x = b.quant_dense(x, {.units = 1, .use_bias = false, .input_quantizer = "ste_sign",
                          .kernel_quantizer = "magnitude_aware_sign", .name = "fc"});
    b.batch_norm(x, {.epsilon = 1e-3, .name = "bn"});
    b.set_weight("fc", "kernel", odd_kernel({N, 1}, 5));
    set_bn(b, "bn", 0.8123457f, -0.3141593f);
    const CompileResult r = compile(through_file(b, "2.10.0"));
    ASSERT_EQ(node(r, "fc").epi.mul2.size(), 1u);
    const Array kk = odd_kernel({N, 1}, 5);
    for (int64_t d = -N; d <= N; d += 2) {
      SCOPED_TRACE(d);
      const Array in = input_with_dot(kk, 1, 0, d);
      expect_equal(Executor(r).run({in}).at(0), reference_run(r.model, {in}).at(0), "kernels engine");
    }
  }
  {
    kb::ModelBuilder b("bias_bn_bn");
    auto x = b.input({N});
    x = b.quant_dense(x, {.units = 1, .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .name = "fc"});
    x = b.batch_norm(x, {.epsilon = 1e-3, .name = "bn"});
    b.batch_norm(x, {.epsilon = 1e-3, .name = "bn2"});
    b.set_weight("fc", "kernel", k);
    b.set_weight("fc", "bias", Array{{1}, {bias}});
    set_bn(b, "bn", gamma, beta);
    set_bn(b, "bn2", 1.3f, 0.25f);
    const CompileResult r = compile(through_file(b, "2.10.0"));
    EXPECT_EQ(node(r, "bn").decision.kernel, KernelClass::Fused);
    std::string why;
    EXPECT_TRUE(has_reason(node(r, "bn2"), "BN_NOT_FOLDED", &why));
    EXPECT_NE(why.find("two affine steps"), std::string::npos) << why;
    for (int64_t d = -N; d <= N; d += 2) {
      SCOPED_TRACE(d);
      const Array in = input_with_dot(k, 1, 0, d);
      expect_equal(Executor(r).run({in}).at(0), reference_run(r.model, {in}).at(0), "kernels engine");
    }
  }
}

// ---- zero and negative gamma; BN_PARAMS ----------------------------------------------------

// gamma 0 makes a channel's output constant (beta): its threshold is "always" or "never";
// a negative gamma flips the comparison. Both engines and the oracle agree bit for bit.
TEST(Exactness, ZeroAndNegativeGammaThresholds) {
  kb::ModelBuilder b("gammas");
  auto x = b.input({5, 5, 8});
  x = b.quant_conv2d(x, {.filters = 4, .kernel_size = {3, 3}, .padding = "same", .input_quantizer = "ste_sign",
                         .kernel_quantizer = "ste_sign", .pad_values = 1.0, .name = "conv"});
  x = b.batch_norm(x, {.name = "bn"});
  x = b.quant_conv2d(x, {.filters = 3, .kernel_size = {1, 1}, .input_quantizer = "ste_sign",
                         .kernel_quantizer = "ste_sign", .name = "head"});
  b.set_weight("bn", "gamma", Array{{4}, {0.0f, 0.0f, -0.8f, 1.3f}});
  b.set_weight("bn", "beta", Array{{4}, {-0.5f, 0.5f, 0.25f, -0.25f}});
  b.set_weight("bn", "moving_mean", Array{{4}, {1.0f, -3.0f, 2.5f, -1.5f}});
  b.set_weight("bn", "moving_variance", Array{{4}, {4.0f, 2.0f, 9.0f, 1.0f}});
  const fs::path file = temp_path("gammas.h5");
  const CompileResult r = compile(through_file(b, "2.10.0", file));
  const Node& conv = node(r, "conv");
  ASSERT_TRUE(conv.epi.bits);
  const int32_t N = 3 * 3 * 8;
  EXPECT_EQ(conv.epi.threshold[0], N + 1);  // beta < 0: always negative (bit 1)
  EXPECT_EQ(conv.epi.threshold[1], -N);     // beta > 0: never
  ASSERT_FALSE(conv.epi.flip.empty());
  EXPECT_EQ(conv.epi.flip[0], 1u << 2);     // negative gamma: bit = d > threshold
  const auto in = random_inputs(r, 9, 3);
  ReferenceTrace trace;
  const Array ref = reference_run(r.model, in, &trace).at(0);
  const Array& bn = trace.outputs.at("bn");
  for (size_t i = 0; i < bn.data.size(); i += 4) {
    EXPECT_EQ(bn.data[i], -0.5f);
    EXPECT_EQ(bn.data[i + 1], 0.5f);
  }
  expect_equal(Executor(r).run(in).at(0), ref, "kernels engine");
  expect_equal(oracle(file, in, 1).at(0), ref, "oracle");
  cleanup(file);
}

// Each broken parameter is BN_PARAMS in the compiler (the layer only) and refused by the
// reference; epsilon = 0 is accepted while no channel divides by zero.
TEST(Exactness, BatchNormParameterProblemsAreBnParams) {
  const float nan = std::nanf(""), inf = INFINITY;
  struct Case {
    const char* what;
    double eps;
    std::vector<float> gamma, beta, mean, var;
    bool problem;
  } cases[] = {
      {"negative epsilon", -1e-3, {1, 1}, {0, 0}, {0, 0}, {1, 1}, true},
      {"NaN epsilon", std::nan(""), {1, 1}, {0, 0}, {0, 0}, {1, 1}, true},
      {"negative variance", 1e-3, {1, 1}, {0, 0}, {0, 0}, {1, -0.5f}, true},
      {"NaN gamma", 1e-3, {nan, 1}, {0, 0}, {0, 0}, {1, 1}, true},
      {"Inf beta", 1e-3, {1, 1}, {0, inf}, {0, 0}, {1, 1}, true},
      {"Inf mean", 1e-3, {1, 1}, {0, 0}, {-inf, 0}, {1, 1}, true},
      {"NaN variance", 1e-3, {1, 1}, {0, 0}, {0, 0}, {nan, 1}, true},
      {"zero epsilon, zero variance", 0.0, {1, 1}, {0, 0}, {0, 0}, {0, 1}, true},
      {"zero epsilon, positive variance", 0.0, {1, 1}, {0, 0}, {0, 0}, {2, 1}, false},
      {"zero gamma", 1e-3, {0, 0}, {1, -1}, {0, 0}, {1, 1}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    kb::ModelBuilder b("bn_params");
    auto x = b.input({2});
    x = b.dense(x, {.units = 2, .name = "fc"});
    b.batch_norm(x, {.epsilon = c.eps, .name = "bn"});
    b.set_weight("bn", "gamma", Array{{2}, c.gamma});
    b.set_weight("bn", "beta", Array{{2}, c.beta});
    b.set_weight("bn", "moving_mean", Array{{2}, c.mean});
    b.set_weight("bn", "moving_variance", Array{{2}, c.var});
    Model m = b.build();  // the writer stores a NaN epsilon as JSON null: test the model itself
    m.keras_version = "2.10.0";
    const CompileResult r = compile(m);
    const Node& bn = node(r, "bn");
    EXPECT_EQ(bn.decision.kernel == KernelClass::Unsupported, c.problem);
    EXPECT_EQ(has_reason(bn, "BN_PARAMS"), c.problem);
    EXPECT_NE(node(r, "fc").decision.kernel, KernelClass::Unsupported);
    const Array in{{1, 2}, {0.5f, -1.0f}};
    if (c.problem) {
      EXPECT_THROW(reference_run(r.model, {in}), ModelError);
    } else {
      const auto out = reference_run(r.model, {in});
      for (float v : out[0].data) EXPECT_TRUE(std::isfinite(v));
    }
  }
}
