// The isolated HDF5 reader: libhdf5 crashes and loops on some damaged files, so the loader
// reads HDF5 in a separate small program (bitlens-h5-reader, core/reader/main.cpp) started
// with posix_spawn — safe from any thread, unlike fork() without exec — under resource limits
// it applies to itself (address space, CPU time, no files written), and talks to it over a
// bounded, versioned protocol on a pipe:
//
//   "BLH5"  u32 protocol version  u8 status ('o' result, 'e' one-line error)  u64 length  payload
//
// (integers little-endian). The parent refuses an answer longer than the caller's bound, kills
// the reader at a deadline the caller scales with the file size, and turns a crash, a hang or
// a protocol violation into one ModelError line. If the reader cannot be started, that is an
// error too: the HDF5 file is never silently read in-process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bitlens::io {

inline constexpr uint32_t kReaderProtocol = 1;
inline constexpr char kReaderMagic[4] = {'B', 'L', 'H', '5'};
inline constexpr const char* kReaderName = "bitlens-h5-reader";

struct ReaderJob {
  std::vector<std::string> args;  // after the protocol version
  int64_t max_answer_bytes = 0;   // the payload may not be longer
  int64_t timeout_ms = 0;         // until the answer's header has arrived
  std::string what = "the HDF5 library";  // who failed, for messages
};

// Starts the reader, returns its payload for status 'o', throws ModelError with the payload
// for status 'e', and ModelError for everything else (cannot start, crash, deadline, protocol).
std::string run_reader(const ReaderJob& job);

// The reader executable: $BITLENS_H5_READER, else next to the running program, else
// <prefix>/libexec/bitlens/ relative to it, else the build tree's. Throws ModelError.
std::filesystem::path reader_executable();

// The reader's half of the protocol: one framed answer on `fd`. Returns false on a write error.
bool write_reader_answer(int fd, char status, const std::string& payload);

}  // namespace bitlens::io
