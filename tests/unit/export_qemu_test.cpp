// Exported firmware on emulated Cortex-M4/M7 (QEMU mps2-an386 / mps2-an500): the forum models
// (all pad_values), the MNIST tutorial network and st_resnet_8_hybrid v2 (M7) compute what the
// host runtime computes;
// validate exit statuses; a corrupted weight is caught; a project copied out of the repository
// builds with only arm-none-eabi-gcc + newlib (make and CMake).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "bitlens/compiler.hpp"
#include "bitlens/export.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/runtime.hpp"
#include "bitlens/validate.hpp"
#include "export_test_util.hpp"
#include "unit/one_d_util.hpp"

using namespace bitlens;
using namespace export_test;

namespace {

Cmd cli(const std::string& args) { return sh(std::string(BITLENS_CLI) + " " + args); }

struct Case {
  std::string model;
  ValidateTarget target;
};

std::string case_name(const ::testing::TestParamInfo<Case>& i) {
  return i.param.model.substr(0, i.param.model.find('.')) + "_" + (i.param.target == ValidateTarget::QemuM4 ? "m4" : "m7");
}

std::vector<Case> cases() {
  std::vector<Case> r;
  for (const char* m : {"forum_1layer_padm1.h5", "forum_1layer_pad0.h5", "forum_1layer_padp1.h5", "forum_2layer_padm1.h5",
                        "forum_2layer_pad0.h5", "forum_2layer_padp1.h5", "mnist_tutorial.h5"})
    for (auto t : {ValidateTarget::QemuM4, ValidateTarget::QemuM7}) r.push_back({m, t});
  // ST's hybrid network on the board ST publishes it for (an M7): binary cells, k-bit quantizer
  // steps and the 8-bit layers' float path in exported C.
  r.push_back({"st_resnet_8_hybrid_v2.h5", ValidateTarget::QemuM7});
  // A QKeras BNN: sign steps fused into thresholds, fitted power-of-two kernel scales.
  for (auto t : {ValidateTarget::QemuM4, ValidateTarget::QemuM7}) r.push_back({"qkeras_bnn.h5", t});
  // QuickNet-style blocks: ReLU, BatchNorm and the shortcut Add in the binary conv's float stage.
  r.push_back({"quicknet_style.h5", ValidateTarget::QemuM4});
  return r;
}

// A model built in the test, exported and run on both emulated cores: passes validate and its
// own firmware check, every output bit equal to the host runtime's.
void expect_bit_exact_on_m4_and_m7(const CompileResult& c, uint64_t seed) {
  for (auto t : {ValidateTarget::QemuM4, ValidateTarget::QemuM7}) {
    ValidateOptions vo;
    vo.target = t;
    vo.inputs = random_inputs(c, seed, 2);
    const ValidateResult r = validate(c, vo);
    const std::string report = validate_text(c, r);
    EXPECT_TRUE(r.pass()) << report;
    EXPECT_TRUE(r.firmware_pass) << report;
    for (const auto& out : r.vs_runtime.outputs) EXPECT_EQ(out.bit_exact, out.elements) << report;
  }
}

}  // namespace

class OnQemu : public ::testing::TestWithParam<Case> {};

// One build and run per model and core: the firmware's own check against the embedded expected
// outputs, and validate's comparison with the host runtime and the reference interpreter.
TEST_P(OnQemu, OutputsEqualHostRuntime) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  const Case& k = GetParam();
  const auto c = compiled(k.model);
  ValidateOptions o;
  o.target = k.target;
  o.inputs = random_inputs(c, 42, 2);
  const ValidateResult r = validate(c, o);
  const std::string report = validate_text(c, r);
  std::printf("%s", report.c_str());  // instruction counts per step go into the test log
  EXPECT_TRUE(r.pass()) << report;
  EXPECT_TRUE(r.firmware_pass) << report;
  ASSERT_EQ(r.steps.size(), c.schedule.size()) << report;
  for (const auto& s : r.steps) EXPECT_GT(s.count, 0u) << s.node;
  ASSERT_EQ(r.totals.size(), 2u);
  // Every output bit for bit, MNIST's softmax included: the kernels' exp is bl_expf (float32
  // and integer operations only), not libm's expf, which differs between glibc and newlib.
  for (const auto& out : r.vs_runtime.outputs) EXPECT_EQ(out.bit_exact, out.elements) << report;
}

INSTANTIATE_TEST_SUITE_P(Export, OnQemu, ::testing::ValuesIn(cases()), case_name);

// Every kind of activation step in exported firmware: the hard_tanh binary conv, then
// one Activation layer per smooth function, the parametrized ReLU / LeakyReLU / ELU / PReLU
// layers, log_softmax and a Dense with gelu. Bit for bit with the host runtime on M4 and M7.
TEST(ExportActivations, EveryActivationMatchesTheHostOnM4AndM7) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  namespace kb = bitlens::keras;
  kb::ModelBuilder b("acts", kb::Style::functional, 17);
  auto x = b.input({6, 6, 16});
  kb::ConvOptions o;
  o.filters = 4;
  o.input_quantizer = "ste_sign";
  o.kernel_quantizer = "ste_sign";
  o.activation = "hard_tanh";
  x = b.quant_conv2d(x, o);
  for (const char* a : {"gelu", "mish", "selu", "elu", "softplus", "softsign", "swish", "hard_swish", "leaky_relu",
                        "exponential", "sigmoid", "tanh", "leaky_tanh", "hard_sigmoid"})
    x = b.activation(x, a);
  x = b.layer("ReLU", {x}, {{"max_value", 0.9}, {"negative_slope", 0.1}, {"threshold", 0.6}}, {4, 4, 4});
  x = b.layer("LeakyReLU", {x}, {{"alpha", 0.2}}, {4, 4, 4});
  x = b.layer("ELU", {x}, {{"alpha", 0.7}}, {4, 4, 4});
  x = b.layer("PReLU", {x}, {{"shared_axes", {1, 2}}}, {4, 4, 4},
              {{"alpha", Array{{1, 1, 4}, {0.5f, -1.0f, 0.0f, 2.0f}}}});
  x = b.activation(x, "log_softmax");
  x = b.flatten(x);
  kb::DenseOptions d;
  d.units = 5;
  d.activation = "gelu";
  x = b.dense(x, d);
  const CompileResult c = compile(b.build());
  for (const auto& n : c.graph.nodes) ASSERT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
  expect_bit_exact_on_m4_and_m7(c, 3);
}

// QKeras binary/ternary QActivations as threshold steps (bl_threshold_f32, the parameters
// printed as hex floats, the straight-through sum with alpha set) in firmware: bit for bit with
// the host on M4 and M7.
TEST(ExportQKeras, ThresholdStepsMatchTheHostOnM4AndM7) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  namespace kb = bitlens::keras;
  kb::ModelBuilder b("thresholds", kb::Style::functional, 23);
  auto x = b.input({12});
  for (const char* q : {"ternary(alpha=0.75, threshold=0)", "binary(use_01=True)", "ternary()", "binary(alpha=0.3)"}) {
    kb::DenseOptions d;
    d.units = 10;
    x = b.dense(x, d);
    x = b.layer("QActivation", {x}, {{"activation", q}}, x.shape);
  }
  const CompileResult c = compile(b.build());
  int steps = 0;
  for (const auto& n : c.graph.nodes) {
    ASSERT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
    steps += n.decision.kernel_name == "bl_threshold_f32";
  }
  EXPECT_EQ(steps, 4);
  expect_bit_exact_on_m4_and_m7(c, 4);
}

// A 1-D network in firmware: QuantConv1D with pad_values -1, causal and dilated binary
// convs, BN folded to thresholds, bit max-pool, UpSampling1D, ZeroPadding1D, a float Conv1D,
// GlobalAveragePooling1D and Dense. Bit for bit with the host on M4 and M7.
TEST(ExportOneD, SequenceNetworkMatchesTheHostOnM4AndM7) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  using namespace one_d;
  kb::ModelBuilder b("seq", kb::Style::functional, 23);
  auto x = b.input({40, 6});
  x = conv1d(b, x, {.filters = 32, .k = 5, .padding = "same", .quant = true, .pad_values = -1.0, .use_bias = false}, 1);
  x = b.batch_norm(x);
  x = b.layer("MaxPooling1D", {x}, {{"pool_size", 2}, {"strides", nullptr}, {"padding", "valid"}}, {20, 32});
  x = conv1d(b, x, {.filters = 16, .k = 3, .padding = "causal", .dilation = 2, .quant = true, .use_bias = false}, 2);
  x = b.batch_norm(x);
  x = b.layer("UpSampling1D", {x}, {{"size", 2}}, {40, 16});
  x = b.layer("ZeroPadding1D", {x}, {{"padding", 1}}, {42, 16});
  x = conv1d(b, x, {.filters = 8, .k = 3, .strides = 2, .activation = "relu"}, 3);
  x = b.layer("GlobalAveragePooling1D", {x}, {{"data_format", "channels_last"}, {"keepdims", false}}, {8});
  kb::DenseOptions d;
  d.units = 4;
  b.dense(x, d);
  const CompileResult c = compile(b.build());
  for (const auto& n : c.graph.nodes) ASSERT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
  expect_bit_exact_on_m4_and_m7(c, 5);
}

// Issue 10's 1-D models in firmware. A TCN as Keras 2.12 saves it: residual blocks as nested
// functional models with causal dilated Conv1D, BatchNormalization(axis=[2]), ReLU and Add, and
// a Dense applied per step. Bit for bit with the host on M4 and M7.
TEST(ExportOneD, TcnWithNestedBlocksMatchesTheHostOnM4AndM7) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  const CompileResult c = compile(one_d::tcn_model());
  for (const auto& n : c.graph.nodes) ASSERT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
  expect_bit_exact_on_m4_and_m7(c, 2);
}

// A plain Conv1D CNN on one second of 16 kHz audio (keyword spotting), float throughout.
TEST(ExportOneD, Conv1DAudioCnnMatchesTheHostOnM4AndM7) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  using namespace one_d;
  kb::ModelBuilder b("audio_cnn", kb::Style::functional, 1);
  auto x = b.input({16000, 1});
  x = conv1d(b, x, {.filters = 8, .k = 9, .padding = "valid", .strides = 4, .activation = "relu"}, 1);
  x = b.layer("MaxPooling1D", {x}, {{"pool_size", {4}}, {"strides", {4}}, {"padding", "valid"}, {"data_format", "channels_last"}},
              {997, 8});
  x = conv1d(b, x, {.filters = 16, .k = 5, .padding = "same", .strides = 2, .activation = "relu"}, 2);
  x = b.layer("GlobalAveragePooling1D", {x}, {{"data_format", "channels_last"}, {"keepdims", false}}, {16});
  kb::DenseOptions d;
  d.units = 10;
  d.activation = "softmax";
  b.dense(x, d);
  const CompileResult c = compile(b.build());
  for (const auto& n : c.graph.nodes) ASSERT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
  expect_bit_exact_on_m4_and_m7(c, 1);
}

// Grouped convolutions in firmware (BinaryFaceNet: QuantConv2D(groups=4)): a binary-weights
// grouped stem, binary grouped layers with 8 channels per group (bit-level gathering) and 32
// (whole words), pad_values +1 / 0 / -1, BN folded to thresholds, a max-pool on bits, a float
// grouped Conv2D, pooling and a Dense head. Bit for bit with the host on M4 and M7; the
// instruction counts per step go into the test log.
TEST(ExportGrouped, BinaryFaceNetLikeMatchesTheHostOnM4AndM7) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  namespace kb = bitlens::keras;
  kb::ModelBuilder b("grouped", kb::Style::functional, 29);
  auto conv = [](int filters, int groups, double pad, std::string name, bool binary_input = true) {
    kb::ConvOptions o;
    o.filters = filters;
    o.padding = "same";
    o.groups = groups;
    o.use_bias = false;
    o.input_quantizer = binary_input ? "ste_sign" : "";
    o.kernel_quantizer = "ste_sign";
    o.pad_values = pad;
    o.name = std::move(name);
    return o;
  };
  auto x = b.input({12, 12, 4});
  x = b.batch_norm(b.quant_conv2d(x, conv(32, 2, -1.0, "bw_stem_g2", false)));
  x = b.batch_norm(b.quant_conv2d(x, conv(64, 4, 1.0, "b_g4_cg8")));
  x = b.max_pool2d(x);
  x = b.batch_norm(b.quant_conv2d(x, conv(128, 2, 0.0, "b_g2_cg32_zero")));
  x = b.batch_norm(b.quant_conv2d(x, conv(128, 4, -1.0, "b_g4_cg32")));
  kb::ConvOptions f;
  f.filters = 16;
  f.kernel_size = {3, 3};
  f.strides = {2, 2};
  f.padding = "same";
  f.groups = 4;
  f.activation = "relu";
  f.name = "f_g4";
  x = b.conv2d(x, f);
  x = b.global_average_pool2d(x);
  kb::DenseOptions d;
  d.units = 8;
  b.dense(x, d);
  const CompileResult c = compile(b.build());
  for (const auto& n : c.graph.nodes) ASSERT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
  for (const char* name : {"b_g4_cg8", "b_g2_cg32_zero", "b_g4_cg32"}) {
    ASSERT_NE(c.graph.find_node(name), nullptr) << name;
    EXPECT_EQ(c.graph.find_node(name)->decision.kernel, KernelClass::Binary) << name;
  }
  // Bit-packed outputs where the next layer binarizes; the last one feeds the float conv.
  EXPECT_TRUE(c.graph.find_node("b_g4_cg8")->epi.bits);
  EXPECT_TRUE(c.graph.find_node("b_g2_cg32_zero")->epi.bits);
  EXPECT_FALSE(c.graph.find_node("b_g4_cg32")->epi.bits);
  EXPECT_EQ(c.graph.find_node("bw_stem_g2")->decision.kernel, KernelClass::BinaryWeights);
  EXPECT_EQ(c.graph.find_node("f_g4")->decision.kernel, KernelClass::Float);
  for (auto t : {ValidateTarget::QemuM4, ValidateTarget::QemuM7}) {
    ValidateOptions vo;
    vo.target = t;
    vo.inputs = random_inputs(c, 7, 2);
    const ValidateResult r = validate(c, vo);
    const std::string report = validate_text(c, r);
    std::printf("%s", report.c_str());
    EXPECT_TRUE(r.pass()) << report;
    EXPECT_TRUE(r.firmware_pass) << report;
    for (const auto& out : r.vs_runtime.outputs) EXPECT_EQ(out.bit_exact, out.elements) << report;
  }
}

TEST(ExportValidateCli, ExitStatusesAndCorruptedWeight) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  const std::string m = model("forum_2layer_pad0.h5");
  auto r = cli("validate " + m + " --target host --random 3 --batch 2");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Result: PASS"), std::string::npos) << r.out;

  // Corrupt one weight word of the exported network: validate must fail with a clear report.
  const fs::path dir = fresh_dir("corrupt");
  r = cli("export " + m + " --board qemu-m4 --out " + (dir / "p").string() + " --vectors 1");
  ASSERT_EQ(r.status, 0) << r.out;
  const fs::path data = dir / "p" / "network" / "forum_2layer_pad0_data.c";
  std::string text = read(data);
  const std::string marker = "forum_2layer_pad0_quant_conv2d_1_weights[80] = {\n    0x";
  const size_t at = text.find(marker);
  ASSERT_NE(at, std::string::npos) << text.substr(0, 600);
  char& digit = text[at + marker.size() + 7];  // last hex digit of the first word
  digit = digit == '0' ? '1' : '0';
  write(data, text);
  const std::string net = " --network " + (dir / "p" / "network").string();
  r = cli("validate " + m + " --target host" + net);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("MISMATCH"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does NOT match the host runtime"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Result: FAIL"), std::string::npos) << r.out;
  r = cli("validate " + m + " --target qemu-m4" + net);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("Firmware self-check against the embedded expected outputs: FAIL"), std::string::npos) << r.out;
  // The untouched export validates.
  r = cli("validate " + m + " --target qemu-m7 --random 1 --batch 1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Instructions per step"), std::string::npos) << r.out;

  // Missing tools: exit 2 naming the Debian package.
  r = sh("env PATH=/nonexistent " + std::string(BITLENS_CLI) + " validate " + m + " --target qemu-m4");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("install the Debian package"), std::string::npos) << r.out;
  // Unusable model: exit 2.
  write(dir / "bad.h5", "not a model");
  EXPECT_EQ(cli("validate " + (dir / "bad.h5").string()).status, 2);
}

// The project is self-contained: copied out of the build/source trees it builds with nothing
// but the cross toolchain (make with a minimal PATH, and CMake with the toolchain file) and
// runs under QEMU. An STM32 board project builds the same way.
TEST(ExportStandalone, CopyOutsideRepositoryBuildsWithMakeAndCmake) {
  if (!have_cross_tools()) GTEST_SKIP() << "arm-none-eabi-gcc, make or qemu-system-arm not installed";
  const fs::path dir = fresh_dir("standalone");
  auto r = cli("export " + model("forum_2layer_padm1.h5") + " --board qemu-m7 --out " + (dir / "orig").string() +
               " --vectors 2 --name fw");
  ASSERT_EQ(r.status, 0) << r.out;
  r = sh("cp -r " + (dir / "orig").string() + " " + (dir / "copy").string());
  ASSERT_EQ(r.status, 0) << r.out;
  // Nothing in it points back into BitLens' trees.
  r = sh("grep -rl '" + std::string(BITLENS_SOURCE_DIR) + "\\|" + std::string(BITLENS_BINARY_DIR) + "' " +
         (dir / "copy").string());
  EXPECT_NE(r.status, 0) << "files referring to the repository:\n" << r.out;
  const std::string env = "env -i PATH=/usr/bin:/bin HOME=" + dir.string() + " ";
  r = sh("cd " + (dir / "copy").string() + " && " + env + "make -j2 && " + env + "make size && " + env + "make run");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\nPASS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("text"), std::string::npos) << "make size output:\n" << r.out;
  if (have("cmake")) {
    r = sh("cd " + (dir / "copy").string() + " && " + env +
           "cmake -S . -B build-cmake -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake && " + env +
           "cmake --build build-cmake -j2 && " + env + "cmake --build build-cmake --target run");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("\nPASS"), std::string::npos) << r.out;
  }
  r = cli("export " + model("forum_2layer_pad0.h5") + " --board NUCLEO-F446RE --out " + (dir / "f446").string() +
          " --vectors 1");
  ASSERT_EQ(r.status, 0) << r.out;
  r = sh("cp -r " + (dir / "f446").string() + " " + (dir / "f446copy").string() + " && cd " + (dir / "f446copy").string() +
         " && " + env + "make -j2 && " + env + "make size");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir / "f446copy" / "build" / "forum_2layer_pad0.bin"));
}
