// fork()-based isolation for third-party parsers; see sandbox.hpp.
#include "io/sandbox.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>

#include "bitlens/model.hpp"

namespace bitlens::io {
namespace {

void write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

std::string run_isolated(const std::function<std::string()>& work, const std::string& what,
                         int timeout_ms) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return work();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return work();
  }
  if (pid == 0) {
    // Child: a crash must end here quietly, not in a sanitizer's or fuzzer's handler.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, SIG_DFL);
    // What a damaged file makes libhdf5 do (and sanitizer reports about it) is summed up by
    // the parent's one-line ModelError; keep the child's stderr out of the user's terminal.
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) {
      ::dup2(devnull, STDERR_FILENO);
      ::close(devnull);
    }
    ::close(fds[0]);
    std::string out;
    char status = 'o';
    try {
      out = work();
    } catch (const ModelError& e) {
      status = 'e';
      out = e.what();
    } catch (const std::bad_alloc&) {
      status = 'e';
      out = "not enough memory to read the file";
    } catch (const std::exception& e) {
      status = 'e';
      out = std::string("cannot read the file: ") + e.what();
    }
    write_all(fds[1], std::string(1, status) + out);
    ::close(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string data;
  bool timed_out = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[1 << 16];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      break;
    }
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string resave = "; the file is damaged — re-save the model with model.save(\"m.h5\")";
  if (timed_out)
    throw ModelError(what + " did not finish within " + std::to_string(timeout_ms / 1000) + " s" + resave);
  if (WIFSIGNALED(status))
    throw ModelError(what + " crashed while reading the file (signal " +
                     std::to_string(WTERMSIG(status)) + ")" + resave);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || data.empty())
    throw ModelError(what + " failed while reading the file" + resave);
  if (data[0] == 'e') throw ModelError(data.substr(1));
  return data.substr(1);
}

}  // namespace bitlens::io
