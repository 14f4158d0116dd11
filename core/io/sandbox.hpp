// Runs a piece of parsing work in a forked child process, so that a crash or hang inside a
// third-party parser (libhdf5 has known crashes on hostile files) becomes a ModelError in the
// caller instead of taking the whole program down.
#pragma once

#include <functional>
#include <string>

namespace bitlens::io {

// Runs `work` in a child process and returns the bytes it produced. When `work` throws
// ModelError in the child, the same ModelError is thrown here. When the child dies (signal,
// abnormal exit) or runs longer than `timeout_ms`, throws ModelError starting with `what`
// ("the HDF5 library crashed while reading the file (signal 11); ..."). Falls back to running
// `work` in-process when fork() is unavailable.
std::string run_isolated(const std::function<std::string()>& work, const std::string& what,
                         int timeout_ms);

}  // namespace bitlens::io
