// The isolated HDF5 reader, parent side; see sandbox.hpp.
#include "io/sandbox.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "bitlens/model.hpp"

extern char** environ;

namespace bitlens::io {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

const char* const kResave = "; the file is damaged — re-save the model with model.save(\"m.h5\")";

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Reads exactly `n` bytes into `dst` before `deadline`. Returns the bytes read (fewer on EOF);
// sets `timed_out` when the deadline passed first.
size_t read_until(int fd, char* dst, size_t n, Clock::time_point deadline, bool& timed_out) {
  size_t got = 0;
  while (got < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      return got;
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      return got;
    }
    const ssize_t k = ::read(fd, dst + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return got;
    got += static_cast<size_t>(k);
  }
  return got;
}

uint64_t le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

std::string seconds(int64_t ms) { return std::to_string((ms + 999) / 1000) + " s"; }

}  // namespace

fs::path reader_executable() {
  if (const char* env = std::getenv("BITLENS_H5_READER"); env && *env) {
    if (!executable(env))
      throw ModelError(std::string("BITLENS_H5_READER=") + env + " is not an executable file; unset it or point it at " +
                       kReaderName);
    return env;
  }
  std::vector<fs::path> tried;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    tried.push_back(self.parent_path() / kReaderName);
    tried.push_back(self.parent_path() / ".." / "libexec" / "bitlens" / kReaderName);
  }
#ifdef BITLENS_H5_READER_BUILD_PATH
  tried.push_back(BITLENS_H5_READER_BUILD_PATH);
#endif
  for (const auto& p : tried)
    if (executable(p)) return p.lexically_normal();
  std::string where;
  for (const auto& p : tried) where += (where.empty() ? "" : ", ") + p.lexically_normal().string();
  throw ModelError(std::string("cannot read HDF5 files: the isolated reader ") + kReaderName +
                   " is missing (looked for " + where + "); reinstall BitLens or set BITLENS_H5_READER");
}

bool write_reader_answer(int fd, char status, const std::string& payload) {
  std::string head(kReaderMagic, 4);
  for (int i = 0; i < 4; ++i) head += static_cast<char>((kReaderProtocol >> (8 * i)) & 0xff);
  head += status;
  const uint64_t n = payload.size();
  for (int i = 0; i < 8; ++i) head += static_cast<char>((n >> (8 * i)) & 0xff);
  for (const std::string* part : {static_cast<const std::string*>(&head), &payload}) {
    size_t off = 0;
    while (off < part->size()) {
      const ssize_t k = ::write(fd, part->data() + off, part->size() - off);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return false;
      off += static_cast<size_t>(k);
    }
  }
  return true;
}

std::string run_reader(const ReaderJob& job) {
  const fs::path exe = reader_executable();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw ModelError("cannot start the isolated HDF5 reader: pipe: " + std::string(std::strerror(errno)));
  Fd in(fds[0]), out(fds[1]);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  // stdout is the answer; stdin and stderr are /dev/null (what libhdf5 or a sanitizer prints
  // about a damaged file is summed up by the one-line error); nothing else is inherited.
  posix_spawn_file_actions_adddup2(&fa, out.get(), STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv_s = {exe.string(), std::to_string(kReaderProtocol)};
  argv_s.insert(argv_s.end(), job.args.begin(), job.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw ModelError("cannot start the isolated HDF5 reader " + exe.string() + ": " + std::strerror(rc) +
                     "; reinstall BitLens or set BITLENS_H5_READER");
  out.reset();

  // Everything below ends with the reader reaped; a reader that misbehaves is killed first.
  bool timed_out = false, killed = false;
  std::string problem;  // protocol violation, set before killing
  std::string payload;
  char status = 0;
  unsigned char head[17];
  const auto t0 = Clock::now();
  const size_t h = read_until(in.get(), reinterpret_cast<char*>(head), sizeof head,
                              t0 + std::chrono::milliseconds(job.timeout_ms), timed_out);
  if (h == sizeof head) {
    const uint64_t version = le(head + 4, 4), n = le(head + 9, 8);
    status = static_cast<char>(head[8]);
    if (std::memcmp(head, kReaderMagic, 4) != 0 || (status != 'o' && status != 'e')) {
      problem = "answered in an unknown format";
    } else if (version != kReaderProtocol) {
      problem = "speaks protocol " + std::to_string(version) + ", this BitLens " + std::to_string(kReaderProtocol) +
                " (a reader from another installation?)";
    } else if (n > static_cast<uint64_t>(job.max_answer_bytes)) {
      problem = "answered with " + std::to_string(n) + " bytes, more than the " + std::to_string(job.max_answer_bytes) +
                " the limits allow";
    } else {
      // Streaming the answer gets its own deadline: 10 s plus 20 MB/s.
      payload.resize(static_cast<size_t>(n));
      const auto piping = std::chrono::milliseconds(10000 + static_cast<int64_t>(n / 20000));
      const size_t got = read_until(in.get(), payload.data(), payload.size(), Clock::now() + piping, timed_out);
      if (got != payload.size() && !timed_out) problem = "ended its answer early";
      char extra;
      bool late = false;
      if (!timed_out && problem.empty() && read_until(in.get(), &extra, 1, Clock::now() + std::chrono::seconds(10), late) != 0)
        problem = "wrote more than its answer";
    }
  }
  if (timed_out || !problem.empty()) {
    ::kill(pid, SIGKILL);
    killed = true;
  }
  in.reset();
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    throw ModelError(job.what + " did not finish within " + seconds(job.timeout_ms) + kResave);
  if (!problem.empty()) throw ModelError("the isolated HDF5 reader " + problem + "; reinstall BitLens");
  if (!killed && WIFSIGNALED(ws)) {
    const int sig = WTERMSIG(ws);
    if (sig == SIGXCPU)
      throw ModelError(job.what + " used more CPU time than allowed while reading the file" + kResave);
    throw ModelError(job.what + " crashed while reading the file (signal " + std::to_string(sig) + ")" + kResave);
  }
  if (h != sizeof head) {
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
      throw ModelError("cannot start the isolated HDF5 reader " + exe.string() + "; reinstall BitLens");
    throw ModelError(job.what + " failed while reading the file (exit " +
                     std::to_string(WIFEXITED(ws) ? WEXITSTATUS(ws) : -1) + ")" + kResave);
  }
  if (status == 'e') throw ModelError(payload);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    throw ModelError(job.what + " failed after reading the file (exit " +
                     std::to_string(WIFEXITED(ws) ? WEXITSTATUS(ws) : -1) + ")" + kResave);
  return payload;
}

}  // namespace bitlens::io
