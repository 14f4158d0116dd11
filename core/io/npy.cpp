// NumPy .npy reading and writing (format versions 1.0, 2.0, 3.0). The header is a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } parsed by a small strict
// parser; sizes are validated against limits and the file size before anything is allocated.
#include "bitlens/format.hpp"
#include "bitlens/npy.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <system_error>
#include <type_traits>

namespace bitlens {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

[[noreturn]] void fail(const std::string& name, const std::string& message) {
  throw ModelError(name + ": " + message);
}

std::string printable(std::string_view s, size_t max = 80) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 32 && u < 127) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// ---- the header dict literal ----

struct Value {
  enum Kind { String, Bool, Tuple, Other } kind = Other;
  std::string str;
  bool boolean = false;
  std::vector<int64_t> ints;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : t_(text), name_(name) {}

  std::vector<std::pair<std::string, Value>> dict() {
    std::vector<std::pair<std::string, Value>> entries;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      std::string key = string_literal();
      skip_ws();
      expect(':');
      skip_ws();
      Value v = value();
      entries.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_ws();
      expect('}');
      break;
    }
    skip_ws();
    if (i_ != t_.size()) error("unexpected text after the header dict");
    return entries;
  }

 private:
  [[noreturn]] void error(const std::string& what) {
    fail(name_, "bad .npy header (" + what + " at offset " + std::to_string(i_) + "): '" +
                    printable(t_) + "'");
  }
  char peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\t' || t_[i_] == '\r'))
      ++i_;
  }
  void expect(char c) {
    if (peek() != c) error(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') error("expected a quoted string");
    ++i_;
    std::string s;
    while (i_ < t_.size() && t_[i_] != q) {
      if (t_[i_] == '\\') error("escape sequences are not supported");
      s += t_[i_++];
    }
    if (i_ >= t_.size()) error("unterminated string");
    ++i_;
    return s;
  }
  int64_t integer() {
    const size_t start = i_;
    int64_t v = 0;
    while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') {
      const int d = t_[i_] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - d) / 10) error("dimension too large");
      v = v * 10 + d;
      ++i_;
    }
    if (i_ == start) error(peek() == '-' ? "negative dimension" : "expected a dimension");
    if (peek() == 'L' || peek() == 'l') ++i_;  // Python 2 long suffix (old files)
    return v;
  }
  Value value() {
    Value v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = Value::String;
      v.str = string_literal();
    } else if (t_.substr(i_, 4) == "True") {
      v.kind = Value::Bool;
      v.boolean = true;
      i_ += 4;
    } else if (t_.substr(i_, 5) == "False") {
      v.kind = Value::Bool;
      i_ += 5;
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      ++i_;
      v.kind = Value::Tuple;
      skip_ws();
      while (peek() != close) {
        if (peek() == '(' || peek() == '[' || peek() == '\'' || peek() == '"') {
          v.kind = Value::Other;  // a structured dtype list: skip it as "other"
          skip_nested(close);
          return v;
        }
        v.ints.push_back(integer());
        skip_ws();
        if (peek() == ',') {
          ++i_;
          skip_ws();
        } else if (peek() != close) {
          error(std::string("expected ',' or '") + close + "'");
        }
      }
      ++i_;
    } else {
      error("unsupported value");
    }
    return v;
  }
  // Skips to the matching `close` of a bracket already entered.
  void skip_nested(char close) {
    int depth = 1;
    while (i_ < t_.size() && depth > 0) {
      const char c = t_[i_];
      if (c == '\'' || c == '"') {
        string_literal();
        continue;
      }
      if (c == '(' || c == '[') ++depth;
      if (c == ')' || c == ']') --depth;
      ++i_;
    }
    if (depth != 0) error(std::string("unterminated '") + close + "'");
  }

  std::string_view t_;
  const std::string& name_;
  size_t i_ = 0;
};

// ---- dtypes ----

enum class Kind { Float, Int, UInt, Bool };

struct DType {
  Kind kind;
  size_t size;
  bool big_endian;
};

std::optional<DType> parse_descr(const std::string& d) {
  if (d.size() < 3) return std::nullopt;
  const char order = d[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') return std::nullopt;
  const char k = d[1];
  const std::string size_text = d.substr(2);
  if (size_text.empty() || size_text.size() > 1 || size_text[0] < '1' || size_text[0] > '8')
    return std::nullopt;
  const size_t size = static_cast<size_t>(size_text[0] - '0');
  DType t{Kind::Float, size, order == '>'};
  switch (k) {
    case 'f':
      if (size != 2 && size != 4 && size != 8) return std::nullopt;
      t.kind = Kind::Float;
      break;
    case 'i':
      t.kind = Kind::Int;
      break;
    case 'u':
      t.kind = Kind::UInt;
      break;
    case 'b':
      t.kind = Kind::Bool;
      break;
    default:
      return std::nullopt;
  }
  if (t.kind != Kind::Float && size != 1 && size != 2 && size != 4 && size != 8) return std::nullopt;
  if (t.kind == Kind::Bool && size != 1) return std::nullopt;
  if (order == '|' && size != 1) return std::nullopt;
  return t;
}

uint64_t load_uint(const unsigned char* p, size_t size, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) {
    const size_t byte = big_endian ? i : size - 1 - i;
    v = (v << 8) | p[byte];
  }
  return v;
}

float half_to_float(uint16_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    v = std::ldexp(static_cast<float>(mant + 1024), exp - 25);
  }
  return sign ? -v : v;
}

float convert(const unsigned char* p, const DType& t) {
  const uint64_t u = load_uint(p, t.size, t.big_endian);
  switch (t.kind) {
    case Kind::Bool:
      return u ? 1.0f : 0.0f;
    case Kind::UInt:
      return static_cast<float>(u);
    case Kind::Int: {
      const unsigned bits = static_cast<unsigned>(t.size * 8);
      int64_t s;
      if (bits == 64) {
        std::memcpy(&s, &u, 8);
      } else {
        const uint64_t sign_bit = uint64_t{1} << (bits - 1);
        s = static_cast<int64_t>(u & (sign_bit - 1)) - static_cast<int64_t>(u & sign_bit);
      }
      return static_cast<float>(s);
    }
    case Kind::Float:
      if (t.size == 2) return half_to_float(static_cast<uint16_t>(u));
      if (t.size == 4) {
        const auto u32 = static_cast<uint32_t>(u);
        float f;
        std::memcpy(&f, &u32, 4);
        return f;
      } else {
        double d;
        std::memcpy(&d, &u, 8);
        return static_cast<float>(d);
      }
  }
  return 0.0f;
}

// The data must be exactly what the header promises: less is a truncated file, more is not a
// single array.
void check_data_size(const std::string& name, const NpyHeader& h, uint64_t have) {
  const uint64_t need = static_cast<uint64_t>(h.elements) * h.item_size;
  if (have < need)
    fail(name, "truncated .npy data: shape " + shape_tuple(h.shape) + " of '" + h.descr +
                   "' needs " + std::to_string(need) + " data bytes, the file has " +
                   std::to_string(have));
  if (have > need)
    fail(name, "the .npy file has " + std::to_string(have - need) +
                   " bytes after the array data (shape " + shape_tuple(h.shape) + " of '" +
                   h.descr + "'); it is not a single array (an .npz, or several saves appended?)");
}

}  // namespace

NpyHeader parse_npy_header(std::string_view bytes, const std::string& name,
                           const LoadLimits& limits) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic)
    fail(name, "not a NumPy .npy file (it does not start with \\x93NUMPY; starts with '" +
                   printable(bytes.substr(0, 8)) + "')");
  if (bytes.size() < 10) fail(name, "truncated .npy header (" + std::to_string(bytes.size()) + " bytes)");
  NpyHeader h;
  h.major = static_cast<unsigned char>(bytes[6]);
  h.minor = static_cast<unsigned char>(bytes[7]);
  size_t len_bytes;
  if (h.major == 1) {
    len_bytes = 2;
  } else if (h.major == 2 || h.major == 3) {
    len_bytes = 4;
  } else {
    fail(name, ".npy format version " + std::to_string(h.major) + "." + std::to_string(h.minor) +
                   " is not supported (BitLens reads 1.0, 2.0 and 3.0)");
  }
  if (bytes.size() < 8 + len_bytes)
    fail(name, "truncated .npy header (" + std::to_string(bytes.size()) + " bytes)");
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t header_len = static_cast<size_t>(load_uint(u + 8, len_bytes, false));
  if (header_len > kNpyMaxHeaderBytes)
    fail(name, "the .npy header claims " + std::to_string(header_len) + " bytes (limit " +
                   std::to_string(kNpyMaxHeaderBytes) + "); the file is corrupt or not a plain array");
  h.data_offset = 8 + len_bytes + header_len;
  if (bytes.size() < h.data_offset)
    fail(name, "truncated .npy header: it claims " + std::to_string(header_len) +
                   " header bytes, the file ends after " + std::to_string(bytes.size() - 8 - len_bytes));

  HeaderParser parser(bytes.substr(8 + len_bytes, header_len), name);
  bool have_descr = false, have_order = false, have_shape = false;
  for (auto& [key, v] : parser.dict()) {
    if (key == "descr") {
      if (v.kind != Value::String)
        fail(name, "structured or non-string dtype in .npy header; BitLens reads plain numeric "
                   "arrays (save with x.astype(np.float32))");
      h.descr = v.str;
      have_descr = true;
    } else if (key == "fortran_order") {
      if (v.kind != Value::Bool) fail(name, "fortran_order in the .npy header is not True/False");
      h.fortran_order = v.boolean;
      have_order = true;
    } else if (key == "shape") {
      if (v.kind != Value::Tuple) fail(name, "shape in the .npy header is not a tuple of integers");
      h.shape = v.ints;
      have_shape = true;
    } else {
      fail(name, "unexpected key '" + key + "' in the .npy header");
    }
  }
  if (!have_descr || !have_order || !have_shape)
    fail(name, std::string("the .npy header lacks '") +
                   (!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") + "'");

  const auto dtype = parse_descr(h.descr);
  if (!dtype)
    fail(name, "unsupported dtype '" + h.descr +
                   "'; BitLens reads float32 ('<f4'), other floats, integers and bool "
                   "(save with x.astype(np.float32))");
  if (h.fortran_order)
    fail(name, "the array is stored in Fortran order; save it in C order "
               "(np.save(f, np.ascontiguousarray(x)))");
  h.item_size = dtype->size;
  int64_t n = 1;
  for (int64_t d : h.shape) {
    if (d != 0 && n > limits.max_elements_per_array / d)
      fail(name, "shape " + shape_tuple(h.shape) + " has more than " +
                     std::to_string(limits.max_elements_per_array) + " elements (the limit)");
    n *= d;
  }
  if (n > limits.max_elements_per_array)
    fail(name, "shape " + shape_tuple(h.shape) + " has " + std::to_string(n) + " elements, more than the limit " +
                   std::to_string(limits.max_elements_per_array));
  h.elements = n;
  return h;
}

Array parse_npy(std::string_view bytes, const std::string& name, const LoadLimits& limits,
                NpyHeader* header_out) {
  const NpyHeader h = parse_npy_header(bytes, name, limits);
  check_data_size(name, h, bytes.size() - h.data_offset);
  const DType t = *parse_descr(h.descr);
  Array a;
  a.shape = h.shape;
  a.data.resize(static_cast<size_t>(h.elements));
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + h.data_offset;
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = convert(p + i * t.size, t);
  if (header_out) *header_out = h;
  return a;
}

Array read_npy(const std::filesystem::path& path, const LoadLimits& limits, NpyHeader* header) {
  const std::string name = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail(name, std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  const uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) fail(name, "cannot read: " + ec.message());
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(name, std::string("cannot open: ") + std::strerror(errno));

  // The header first (at most 12 + kNpyMaxHeaderBytes bytes), so the size check below happens
  // before the data buffer is allocated.
  std::string buf(static_cast<size_t>(std::min<uintmax_t>(file_size, 12 + kNpyMaxHeaderBytes)), '\0');
  f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  if (static_cast<size_t>(f.gcount()) != buf.size()) fail(name, "read error");
  const NpyHeader h = parse_npy_header(buf, name, limits);
  check_data_size(name, h, file_size - h.data_offset);
  const uint64_t need = static_cast<uint64_t>(h.elements) * h.item_size;
  const size_t total = h.data_offset + static_cast<size_t>(need);
  if (buf.size() < total) {
    const size_t old = buf.size();
    buf.resize(total);
    f.read(buf.data() + old, static_cast<std::streamsize>(total - old));
    if (static_cast<size_t>(f.gcount()) != total - old) fail(name, "read error");
  }
  return parse_npy(buf, name, limits, header);
}

NpyRows::NpyRows(const std::filesystem::path& path) : name_(path.string()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail(name_, std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  const uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) fail(name_, "cannot read: " + ec.message());
  file_.open(path, std::ios::binary);
  if (!file_) fail(name_, std::string("cannot open: ") + std::strerror(errno));
  std::string buf(static_cast<size_t>(std::min<uintmax_t>(file_size, 12 + kNpyMaxHeaderBytes)), '\0');
  file_.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  if (static_cast<size_t>(file_.gcount()) != buf.size()) fail(name_, "read error");
  // The whole file may be larger than memory: only one slice of rows is ever held.
  LoadLimits unbounded;
  unbounded.max_elements_per_array = std::numeric_limits<int64_t>::max();
  header_ = parse_npy_header(buf, name_, unbounded);
  check_data_size(name_, header_, file_size - header_.data_offset);
  if (header_.shape.empty()) fail(name_, "a scalar, not an array of samples (shape (N, ...) expected)");
  row_elements_ = header_.shape[0] ? header_.elements / header_.shape[0] : 0;
  if (header_.shape[0] == 0) {
    row_elements_ = 1;
    for (size_t i = 1; i < header_.shape.size(); ++i) row_elements_ *= header_.shape[i];
  }
  if (row_elements_ > LoadLimits{}.max_elements_per_array)
    fail(name_, "one sample has " + std::to_string(row_elements_) + " elements, more than BitLens reads (at most " +
                    std::to_string(LoadLimits{}.max_elements_per_array) + ")");
}

Array NpyRows::read(int64_t start, int64_t count) {
  if (start < 0 || count < 0 || start > rows() || count > rows() - start)
    fail(name_, "rows " + std::to_string(start) + ".." + std::to_string(start + count) + " are outside its " +
                    std::to_string(rows()) + " rows");
  const DType t = *parse_descr(header_.descr);
  Array a;
  a.shape = header_.shape;
  a.shape[0] = count;
  a.data.resize(static_cast<size_t>(count * row_elements_));
  const uint64_t bytes = static_cast<uint64_t>(count * row_elements_) * t.size;
  std::string buf(static_cast<size_t>(bytes), '\0');
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(header_.data_offset + static_cast<uint64_t>(start * row_elements_) * t.size));
  file_.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  if (!file_ || static_cast<uint64_t>(file_.gcount()) != bytes) fail(name_, "read error (was the file changed?)");
  const auto* p = reinterpret_cast<const unsigned char*>(buf.data());
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = convert(p + i * t.size, t);
  return a;
}

std::string npy_bytes_raw(const std::string& descr, const std::vector<int64_t>& shape, std::string_view data) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  const size_t item = descr.size() >= 3 ? static_cast<size_t>(descr[2] - '0') : 0;
  if (item == 0 || data.size() != static_cast<size_t>(n) * item)
    throw ModelError("cannot write .npy: " + std::to_string(data.size()) + " bytes of " + descr + " for shape " +
                     shape_tuple(shape));
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  // Version 1.0 has a 2-byte header length; larger headers need 2.0 (4 bytes).
  size_t prefix = 10;
  int major = 1;
  size_t header_len = ((prefix + dict.size() + 1 + 63) / 64) * 64 - prefix;
  if (header_len > 65535) {
    prefix = 12;
    major = 2;
    header_len = ((prefix + dict.size() + 1 + 63) / 64) * 64 - prefix;
  }
  std::string out(kMagic);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out += '\n';
  out.append(data);
  return out;
}

namespace {
// Little-endian bytes of `values`, whatever the host's order.
template <typename T>
std::string le_bytes(const std::vector<T>& values) {
  std::string out;
  out.reserve(values.size() * sizeof(T));
  for (T v : values) {
    uint64_t u = 0;
    if constexpr (std::is_same_v<T, float>) {
      uint32_t w;
      std::memcpy(&w, &v, 4);
      u = w;
    } else {
      u = static_cast<uint64_t>(static_cast<std::make_unsigned_t<T>>(v));
    }
    for (size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((u >> (8 * i)) & 0xff);
  }
  return out;
}
}  // namespace

std::string npy_bytes(const Array& a) {
  if (static_cast<int64_t>(a.data.size()) != a.size())
    throw ModelError("cannot write .npy: the array holds " + std::to_string(a.data.size()) +
                     " values for shape " + shape_tuple(a.shape));
  return npy_bytes_raw("<f4", a.shape, le_bytes(a.data));
}

std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<int8_t>& v) {
  return npy_bytes_raw("|i1", shape, le_bytes(v));
}
std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<uint8_t>& v) {
  return npy_bytes_raw("|u1", shape, le_bytes(v));
}
std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<int32_t>& v) {
  return npy_bytes_raw("<i4", shape, le_bytes(v));
}
std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<uint32_t>& v) {
  return npy_bytes_raw("<u4", shape, le_bytes(v));
}

void write_npy(const std::filesystem::path& path, const Array& array) {
  const std::string name = path.string();
  std::string bytes;
  try {
    bytes = npy_bytes(array);
  } catch (const ModelError& e) {
    fail(name, e.what());
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail(name, std::string("cannot create: ") + std::strerror(errno));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) fail(name, std::string("write failed: ") + std::strerror(errno));
}

}  // namespace bitlens
