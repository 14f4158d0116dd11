// The isolated HDF5 reader (bitlens-h5-reader, started with posix_spawn): results come back
// over the framed protocol; crashes, hangs, protocol violations and a missing reader become
// one-line ModelErrors, and nothing is ever read in-process behind the user's back. Fake
// readers (shell scripts via BITLENS_H5_READER) play every way a reader can misbehave.
#include "model_test_util.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <cstdlib>
#include <thread>

#include "io/sandbox.hpp"

namespace {

using namespace model_test;

std::string forum() { return std::string(BITLENS_MODELS_DIR) + "/forum_2layer_pad0.h5"; }

// Sets BITLENS_H5_READER for the scope of one test.
class ReaderOverride {
 public:
  explicit ReaderOverride(const std::string& path) { ::setenv("BITLENS_H5_READER", path.c_str(), 1); }
  ~ReaderOverride() { ::unsetenv("BITLENS_H5_READER"); }
};

// A fake reader: a /bin/sh script with `body`.
fs::path fake_reader(const TempDir& dir, const std::string& name, const std::string& body) {
  const fs::path p = dir / name;
  std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
  ::chmod(p.c_str(), 0755);
  return p;
}

std::string load_with(const fs::path& reader, int timeout_ms = 5000) {
  ReaderOverride o(reader.string());
  bitlens::LoadLimits limits;
  limits.hdf5_timeout_ms = timeout_ms;
  return load_error(forum(), limits);
}

TEST(ModelReader, ResultEqualsInProcessRead) {
  bitlens::LoadLimits inproc;
  inproc.isolate_hdf5 = false;
  const Model a = bitlens::load_model(forum());
  const Model b = bitlens::load_model(forum(), inproc);
  expect_same_model(a, b);
  EXPECT_EQ(a.keras_version, b.keras_version);
}

TEST(ModelReader, ReaderIsFoundInTheBuildTree) {
  const fs::path p = bitlens::io::reader_executable();
  EXPECT_EQ(p.filename().string(), "bitlens-h5-reader");
  EXPECT_EQ(::access(p.c_str(), X_OK), 0) << p;
}

TEST(ModelReader, ConcurrentLoadsFromWorkerThreads) {
  // The app loads on worker threads; posix_spawn (unlike fork without exec) is safe there.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      try {
        if (bitlens::load_model(forum()).layers.size() == 3) ++ok;
      } catch (const ModelError&) {
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
}

TEST(ModelReader, MissingReaderIsAnErrorNotAnInProcessRead) {
  const std::string msg = load_with("/nonexistent/bitlens-h5-reader");
  EXPECT_TRUE(contains(msg, "BITLENS_H5_READER=/nonexistent/bitlens-h5-reader is not an executable file")) << msg;
}

TEST(ModelReader, CrashBecomesModelError) {
  TempDir d;
  const std::string msg = load_with(fake_reader(d, "crash", "kill -SEGV $$"));
  EXPECT_TRUE(contains(msg, "the HDF5 library crashed while reading the file (signal 11)")) << msg;
  EXPECT_TRUE(contains(msg, "re-save the model")) << msg;
}

TEST(ModelReader, HangIsKilledAtTheDeadline) {
  TempDir d;
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = load_with(fake_reader(d, "hang", "exec sleep 60"), 300);
  EXPECT_TRUE(contains(msg, "did not finish within")) << msg;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ModelReader, ProtocolViolationsAreRefused) {
  TempDir d;
  EXPECT_TRUE(contains(load_with(fake_reader(d, "garbage", "echo 'hello, this is not the protocol'")),
                       "the isolated HDF5 reader answered in an unknown format"));
  EXPECT_TRUE(contains(load_with(fake_reader(d, "v2", R"(printf 'BLH5\002\000\000\000o\000\000\000\000\000\000\000\000')")),
                       "speaks protocol 2, this BitLens 1"));
  // An announced answer far beyond the limits is refused before anything is allocated.
  EXPECT_TRUE(contains(load_with(fake_reader(d, "huge", R"(printf 'BLH5\001\000\000\000o\000\000\000\000\000\000\000\100')")),
                       "more than the"));
  EXPECT_TRUE(contains(load_with(fake_reader(d, "short", R"(printf 'BLH5\001\000\000\000o\010\000\000\000\000\000\000\000abc')")),
                       "ended its answer early"));
  EXPECT_TRUE(contains(load_with(fake_reader(d, "long", R"(printf 'BLH5\001\000\000\000o\001\000\000\000\000\000\000\000ab')")),
                       "wrote more than its answer"));
  EXPECT_TRUE(contains(load_with(fake_reader(d, "exit", "exit 5")), "failed while reading the file (exit 5)"));
}

TEST(ModelReader, ErrorAnswerIsTheMessage) {
  TempDir d;
  EXPECT_EQ(load_with(fake_reader(d, "err", R"(printf 'BLH5\001\000\000\000e\020\000\000\000\000\000\000\000layer x: is bad.')")),
            "layer x: is bad.");
}

TEST(ModelReader, RealReaderRefusesAnotherProtocolVersion) {
  const std::string cmd = bitlens::io::reader_executable().string() + " 99 h5 " + forum() + " 1 1 1 1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  ASSERT_GE(out.size(), 17u);
  EXPECT_EQ(out.substr(0, 4), "BLH5");
  EXPECT_EQ(out[8], 'e');
  EXPECT_TRUE(contains(out.substr(17), "speaks protocol 1, BitLens asked for 99")) << out.substr(17);
}

// bitlens variant copies every object of the source (optimizer state too): in the reader.
TEST(ModelReader, VariantCopyRunsInTheReader) {
  TempDir d;
  Model m = bitlens::load_model(forum());
  m.find("quant_conv2d")->config["pad_values"] = 1.0;
  {
    ReaderOverride o(fake_reader(d, "crash", "kill -SEGV $$").string());
    const std::string msg = error_of([&] { bitlens::write_variant(forum(), m, d / "v.h5"); });
    EXPECT_TRUE(contains(msg, "the HDF5 library (copying the model) crashed while reading the file (signal 11)")) << msg;
  }
  for (const auto& e : fs::directory_iterator(d.path()))
    EXPECT_EQ(e.path().filename(), "crash") << "nothing left behind: " << e.path();
  bitlens::write_variant(forum(), m, d / "v.h5");
  EXPECT_EQ(bitlens::load_model(d / "v.h5").find("quant_conv2d")->config["pad_values"], 1.0);
}

// The real reader limits itself before it opens the file: read its /proc limits while it waits
// on a FIFO that nobody writes.
TEST(ModelReader, RealReaderRunsUnderResourceLimits) {
  TempDir d;
  const fs::path fifo = d / "model.h5";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const fs::path pidfile = d / "pid";
  const std::string cmd = "sh -c '" + bitlens::io::reader_executable().string() + " 1 h5 " + fifo.string() +
                          " 1000 1000 1000 10 >/dev/null 2>&1 & echo $! > " + pidfile.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string pid;
  std::ifstream(pidfile) >> pid;
  ASSERT_FALSE(pid.empty());
  // "Max file size  0  0  bytes": soft and hard limit per resource, once the reader set them.
  std::map<std::string, std::pair<std::string, std::string>> lim;
  for (int i = 0; i < 200 && lim["Max file size"].first != "0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in("/proc/" + pid + "/limits");
    std::string line;
    while (std::getline(in, line)) {
      if (line.size() < 67) continue;
      auto field = [&](size_t at, size_t n) {
        std::string f = line.substr(at, n);
        return f.substr(0, f.find_last_not_of(' ') + 1);
      };
      lim[field(0, 25)] = {field(26, 20), field(47, 20)};
    }
  }
  ::kill(std::stoi(pid), SIGKILL);
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(lim["Max file size"], P("0", "0"));
  EXPECT_EQ(lim["Max core file size"], P("0", "0"));
  EXPECT_EQ(lim["Max cpu time"], P("600", "600"));
#if !defined(__SANITIZE_ADDRESS__)
  // 1000 values x 4 bytes x 2 + 1000 bytes of JSON x 4 + 1 GiB
  EXPECT_EQ(lim["Max address space"], P("1073753824", "1073753824"));
#endif
}

// Every file on which the fuzzers made libhdf5 itself crash or hang (tests/fuzz/regressions,
// README there) ends, through the real reader, in one line saying the file is damaged.
TEST(ModelReader, EveryLibhdf5RegressionGivesOneLine) {
  std::vector<fs::path> files = {fs::path(BITLENS_SOURCE_DIR) / "tests/data/hdf5_global_heap_crash.h5"};
  for (const auto& e : fs::directory_iterator(fs::path(BITLENS_SOURCE_DIR) / "tests/fuzz/regressions"))
    if (e.path().extension() == ".h5") files.push_back(e.path());
  ASSERT_GE(files.size(), 4u);
  bitlens::LoadLimits limits;
  limits.hdf5_timeout_ms = 1500;
  for (const auto& f : files) {
    const std::string msg = load_error(f, limits);
    EXPECT_TRUE(contains(msg, "the file is damaged")) << f << ": " << msg;
  }
}

// A file found by the fuzzer on which libhdf5 1.10 loops forever: the real reader is killed.
TEST(ModelReader, Hdf5HangFoundByTheFuzzerEndsWithAMessage) {
  bitlens::LoadLimits limits;
  limits.hdf5_timeout_ms = 1500;
  auto start = std::chrono::steady_clock::now();
  std::string msg = load_error(fs::path(BITLENS_SOURCE_DIR) / "tests/fuzz/regressions/hdf5_hang.h5", limits);
  EXPECT_TRUE(contains(msg, "the HDF5 library did not finish within 2 s")) << msg;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
