// NumPy .npy files for `bitlens run`: read any numeric .npy (format 1.0/2.0/3.0) as float32,
// write float32 (and, for `bitlens weights`, int8/uint8/int32/uint32) little-endian C-order
// .npy (format 1.0, 2.0 when the header needs it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "bitlens/model.hpp"

namespace bitlens {

// What a .npy header says.
struct NpyHeader {
  int major = 1, minor = 0;      // format version
  std::string descr;             // dtype as written, e.g. "<f4"
  bool fortran_order = false;
  std::vector<int64_t> shape;
  size_t data_offset = 0;        // bytes before the array data
  size_t item_size = 0;          // bytes per element
  int64_t elements = 0;          // product of shape
  bool exact_float32() const { return descr == "<f4"; }  // read without conversion
};

// Largest header accepted (NumPy itself refuses more than 10000 bytes by default).
inline constexpr size_t kNpyMaxHeaderBytes = 65536;

// Parses the header at the start of `bytes` (which may hold only the beginning of the file).
// `name` is used in messages. Checks dtype, fortran_order, shape and limits.elements before
// anything is allocated. Throws ModelError.
NpyHeader parse_npy_header(std::string_view bytes, const std::string& name,
                           const LoadLimits& limits = {});

// Reads a whole .npy held in memory. Accepts float32/float64/float16, signed and unsigned
// integers of 1-8 bytes and bool, either byte order, converting to float32. Rejects
// fortran_order = True, other dtypes, absurd shapes, truncated data and trailing bytes with a
// message naming `name`. `header`, when given, receives the parsed header. Throws ModelError.
Array parse_npy(std::string_view bytes, const std::string& name, const LoadLimits& limits = {},
                NpyHeader* header = nullptr);

// Reads a .npy file (see parse_npy); the file size is checked against the header before the
// data is read. Throws ModelError naming the file.
Array read_npy(const std::filesystem::path& path, const LoadLimits& limits = {},
               NpyHeader* header = nullptr);

// A .npy file read in slices along its first axis, for datasets larger than memory: the header
// and the file size are checked when it is opened; read() converts only the rows asked for (any
// dtype parse_npy accepts, to float32). Throws ModelError naming the file.
class NpyRows {
 public:
  explicit NpyRows(const std::filesystem::path& path);
  const NpyHeader& header() const { return header_; }
  int64_t rows() const { return header_.shape.at(0); }
  const std::string& name() const { return name_; }
  Array read(int64_t start, int64_t count);  // shape (count, ...)

 private:
  std::string name_;
  NpyHeader header_;
  int64_t row_elements_ = 0;
  std::ifstream file_;
};

// The bytes of `array` as a float32 little-endian C-order .npy (header padded to 64 bytes).
// Throws ModelError when array.data does not hold array.size() values.
std::string npy_bytes(const Array& array);

// Integer arrays (C order, little-endian): int8 '|i1', uint8 '|u1', int32 '<i4', uint32 '<u4'.
// Throws ModelError when the values do not fill `shape`.
std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<int8_t>& values);
std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<uint8_t>& values);
std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<int32_t>& values);
std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<uint32_t>& values);
// The file around `data` (already little-endian bytes) for dtype `descr` ("<f4", "|i1", ...).
std::string npy_bytes_raw(const std::string& descr, const std::vector<int64_t>& shape, std::string_view data);

// Writes npy_bytes(array) to `path`. Throws ModelError naming the file.
void write_npy(const std::filesystem::path& path, const Array& array);

}  // namespace bitlens
