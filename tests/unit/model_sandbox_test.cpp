// The forked reader turns crashes and hangs inside libhdf5 into one-line ModelErrors.
#include "model_test_util.hpp"

#include <csignal>
#include <thread>

#include "io/sandbox.hpp"

namespace {

using namespace model_test;

TEST(ModelSandbox, ChildResultIsReturned) {
  EXPECT_EQ(bitlens::io::run_isolated([] { return std::string("abc\0def", 7); }, "x", 5000),
            std::string("abc\0def", 7));
}

TEST(ModelSandbox, ChildModelErrorIsRethrown) {
  std::string msg = error_of([] {
    bitlens::io::run_isolated([]() -> std::string { throw ModelError("layer 'x': bad"); }, "x", 5000);
  });
  EXPECT_EQ(msg, "layer 'x': bad");
}

TEST(ModelSandbox, CrashBecomesModelError) {
  std::string msg = error_of([] {
    bitlens::io::run_isolated([]() -> std::string {
      std::raise(SIGSEGV);
      return "";
    }, "the HDF5 library", 5000);
  });
  EXPECT_TRUE(contains(msg, "the HDF5 library crashed while reading the file (signal 11)")) << msg;
  EXPECT_TRUE(contains(msg, "re-save the model")) << msg;
}

TEST(ModelSandbox, HangBecomesModelError) {
  std::string msg = error_of([] {
    bitlens::io::run_isolated([]() -> std::string {
      std::this_thread::sleep_for(std::chrono::seconds(30));
      return "";
    }, "the HDF5 library", 300);
  });
  EXPECT_TRUE(contains(msg, "did not finish within")) << msg;
}

// A file found by the fuzzer on which libhdf5 1.10 loops forever.
TEST(ModelSandbox, Hdf5HangFoundByTheFuzzerEndsWithAMessage) {
  bitlens::LoadLimits limits;
  limits.hdf5_timeout_ms = 1500;
  auto start = std::chrono::steady_clock::now();
  std::string msg = load_error(fs::path(BITLENS_SOURCE_DIR) / "tests/fuzz/regressions/hdf5_hang.h5", limits);
  EXPECT_TRUE(contains(msg, "the HDF5 library did not finish within 1 s")) << msg;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
