// NumPy .npy reading and writing: files written byte by byte in the test (versions 1.0/2.0/3.0,
// every accepted dtype, both byte orders) and the errors for bad headers and bad sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include <unistd.h>

#include "bitlens/npy.hpp"

namespace bitlens {
namespace {

// magic, version, little-endian header length (2 bytes for 1.x, 4 for 2.x/3.x), header text.
std::string npy_file(const std::string& dict, int major, const std::string& data,
                     bool pad = true) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  if (pad) {
    while ((8 + len_bytes + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
  }
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s += static_cast<char>(v);
  return s;
}

class NpyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bitlens_npy_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& name, const std::string& content) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    return p;
  }
  std::filesystem::path dir_;
};

template <typename F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected a ModelError";
  } catch (const ModelError& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

TEST_F(NpyFiles, ReadsFloat32Version1) {
  // 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0, 0.5f = 00 00 00 3f
  const auto p = write("a.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 1,
                                         bytes({0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f})));
  NpyHeader h;
  const Array a = read_npy(p, {}, &h);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(a.data, (std::vector<float>{1.0f, -2.0f, 0.5f}));
  EXPECT_EQ(h.major, 1);
  EXPECT_EQ(h.descr, "<f4");
  EXPECT_TRUE(h.exact_float32());
  EXPECT_EQ(h.data_offset, 128u);  // header padded to a multiple of 64 bytes
}

TEST_F(NpyFiles, ReadsVersions2And3AndUnpaddedHeaders) {
  const std::string data = bytes({0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xbf});  // 1, -1
  for (int major : {2, 3}) {
    const Array a = read_npy(write("v.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
                                                     major, data)));
    EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2})) << major;
    EXPECT_EQ(a.data, (std::vector<float>{1, -1})) << major;
  }
  // No padding, double quotes, no trailing comma, keys in another order, Python 2 long dims.
  const Array b = read_npy(write("u.npy", npy_file("{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<f4\"}", 1,
                                                   data, false)));
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(b.data, (std::vector<float>{1, -1}));
}

TEST_F(NpyFiles, ConvertsOtherDtypes) {
  struct Case {
    const char* descr;
    std::string data;
    std::vector<float> expect;
  };
  const Case cases[] = {
      {"<f8", bytes({0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0x04, 0xc0}), {1.5f, -2.5f}},
      {">f4", bytes({0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0}), {1.0f, -2.0f}},
      {"<f2", bytes({0x00, 0x3c, 0x00, 0xc0}), {1.0f, -2.0f}},
      {"<i4", bytes({0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0}), {-1.0f, 7.0f}},
      {">i2", bytes({0xff, 0xfe, 0x01, 0x00}), {-2.0f, 256.0f}},
      {"|u1", bytes({255, 3}), {255.0f, 3.0f}},
      {"|i1", bytes({0x80, 0x7f}), {-128.0f, 127.0f}},
      {"<i8", bytes({0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0}), {-3.0f, 256.0f}},
      {"<u2", bytes({0xff, 0xff, 0, 0}), {65535.0f, 0.0f}},
      {"|b1", bytes({1, 0}), {1.0f, 0.0f}},
  };
  for (const auto& c : cases) {
    NpyHeader h;
    const Array a = read_npy(write("c.npy", npy_file(std::string("{'descr': '") + c.descr +
                                                         "', 'fortran_order': False, 'shape': (2,), }",
                                                     1, c.data)),
                             {}, &h);
    EXPECT_EQ(a.data, c.expect) << c.descr;
    EXPECT_EQ(h.descr, c.descr);
    EXPECT_FALSE(h.exact_float32());
  }
}

TEST_F(NpyFiles, ScalarAndEmptyShapes) {
  const Array s = read_npy(write("s.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1,
                                                   bytes({0, 0, 0x40, 0x40}))));
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data, (std::vector<float>{3.0f}));
  const Array e = read_npy(write("e.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", 1, "")));
  EXPECT_EQ(e.shape, (std::vector<int64_t>{2, 0}));
  EXPECT_TRUE(e.data.empty());
}

TEST_F(NpyFiles, WritesWhatItReadsAndTheExactNumpyLayout) {
  Array a{{2, 3}, {1.0f, -0.0f, 0.25f, std::numeric_limits<float>::infinity(), -7.5f, 1e-40f}};
  const std::string b = npy_bytes(a);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_EQ(b.size(), 128u + 24u);
  EXPECT_EQ(b.substr(0, 10), bytes({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0}));
  EXPECT_EQ(b.substr(10, dict.size()), dict);
  EXPECT_EQ(b.substr(10 + dict.size(), 118 - dict.size() - 1), std::string(118 - dict.size() - 1, ' '));
  EXPECT_EQ(b[127], '\n');
  EXPECT_EQ(b.substr(128, 8), bytes({0, 0, 0x80, 0x3f, 0, 0, 0, 0x80}));  // 1.0, -0.0
  const auto p = dir_ / "out.npy";
  write_npy(p, a);
  const Array r = read_npy(p);
  EXPECT_EQ(r.shape, a.shape);
  ASSERT_EQ(r.data.size(), a.data.size());
  for (size_t i = 0; i < a.data.size(); ++i) {
    EXPECT_EQ(std::memcmp(&r.data[i], &a.data[i], 4), 0) << i;
  }
  // One-dimensional shapes are written as Python 1-tuples.
  EXPECT_NE(npy_bytes(Array{{4}, {1, 2, 3, 4}}).find("'shape': (4,), }"), std::string::npos);
  EXPECT_NE(npy_bytes(Array{{}, {5}}).find("'shape': (), }"), std::string::npos);
}

TEST_F(NpyFiles, WriteRejectsInconsistentArraysAndBadPaths) {
  expect_error([&] { npy_bytes(Array{{2, 2}, {1, 2, 3}}); }, {"holds 3 values", "(2, 2)"});
  expect_error([&] { write_npy(dir_ / "no_such_dir" / "x.npy", Array{{1}, {1}}); },
               {"no_such_dir", "cannot create"});
}

TEST_F(NpyFiles, TruncatedDataNamesFileAndByteCounts) {
  const auto p = write("t.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1,
                                         std::string(20, '\0')));
  expect_error([&] { read_npy(p); }, {"t.npy", "truncated", "(2, 3)", "needs 24 data bytes", "has 20"});
  expect_error([&] { parse_npy(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 1, "abc"),
                               "mem"); },
               {"mem", "needs 8 data bytes", "has 3"});
}

TEST_F(NpyFiles, TrailingBytesAreAnError) {
  const auto p = write("x.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 1,
                                         std::string(12, '\0')));
  expect_error([&] { read_npy(p); }, {"x.npy", "8 bytes after the array data"});
}

TEST_F(NpyFiles, AbsurdSizesAreRefusedBeforeAllocating) {
  // 2^40 x 2^40 elements: overflow-safe refusal from the header alone (the file is tiny).
  expect_error([&] {
    read_npy(write("big.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
                                       1, "")));
  }, {"big.npy", "(1099511627776, 1099511627776)", "limit"});
  // Within int64 but over the limit.
  LoadLimits small;
  small.max_elements_per_array = 100;
  expect_error([&] {
    read_npy(write("mid.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (11, 10), }", 1, "")), small);
  }, {"mid.npy", "(11, 10)", "100"});
  // A dimension that does not fit in int64.
  expect_error([&] {
    read_npy(write("huge.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 1, "")));
  }, {"huge.npy", "too large"});
  // A header length field claiming 4 GiB (version 2.0).
  expect_error([&] { read_npy(write("hl.npy", bytes({0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0xff}))); },
               {"hl.npy", "4294967295", "limit"});
  // A header length longer than the file.
  expect_error([&] { read_npy(write("hs.npy", bytes({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0x40, 0, '{', '}'}))); },
               {"hs.npy", "truncated .npy header", "64"});
}

TEST_F(NpyFiles, BadHeadersAreExplained) {
  auto bad = [&](const std::string& content, std::initializer_list<std::string> parts) {
    expect_error([&] { read_npy(write("bad.npy", content)); }, parts);
  };
  bad("PK\x03\x04 this is a zip", {"bad.npy", "not a NumPy .npy file", "PK"});
  bad("\x93NUMPY", {"truncated .npy header"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, bytes({0, 0, 0, 0})),
      {"format version 4.0", "1.0, 2.0 and 3.0"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 1, std::string(16, '\0')),
      {"Fortran order", "ascontiguousarray"});
  bad(npy_file("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 1, std::string(8, '\0')),
      {"unsupported dtype '<c8'", "astype(np.float32)"});
  bad(npy_file("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", 1, std::string(12, '\0')),
      {"unsupported dtype '<U3'"});
  bad(npy_file("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 1, std::string(8, '\0')),
      {"unsupported dtype '|O'"});
  bad(npy_file("{'descr': '<i16', 'fortran_order': False, 'shape': (1,), }", 1, ""), {"'<i16'"});
  bad(npy_file("{'descr': [('x', '<f4'), ('y', '<i4')], 'fortran_order': False, 'shape': (1,), }", 1,
               std::string(8, '\0')),
      {"structured"});
  bad(npy_file("{'descr': '<f4', 'shape': (1,), }", 1, std::string(4, '\0')), {"lacks 'fortran_order'"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': False, }", 1, ""), {"lacks 'shape'"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 1, ""),
      {"negative dimension"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", 1, ""), {"unsupported value"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", 1, ""), {"unsupported value"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 'x', }", 1, ""),
      {"unexpected key 'extra'"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 1, ""), {"bad .npy header", "'}'"});
  bad(npy_file("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", 1, ""), {"bad .npy header"});
  bad(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", 1, "", false),
      {"unexpected text after the header dict"});
  expect_error([&] { read_npy(dir_ / "missing.npy"); }, {"missing.npy", "no such file"});
  expect_error([&] { read_npy(dir_); }, {"not a regular file"});
}

TEST_F(NpyFiles, ParseNpyWorksOnMemoryAndReportsTheHeader) {
  NpyHeader h;
  const Array a = parse_npy(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", 3,
                                     bytes({0, 0, 0, 0, 0, 0, 0xf0, 0xbf})),
                            "inline", {}, &h);
  EXPECT_EQ(a.data, (std::vector<float>{-1.0f}));
  EXPECT_EQ(h.major, 3);
  EXPECT_EQ(h.item_size, 8u);
  EXPECT_EQ(h.elements, 1);
  EXPECT_EQ(h.data_offset, 128u);  // header padded to a multiple of 64 bytes
}

}  // namespace
}  // namespace bitlens
