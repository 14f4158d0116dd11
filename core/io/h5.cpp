// HDF5 access for the Keras loader and writer; see h5.hpp.
#include "bitlens/format.hpp"
#include "io/h5.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <limits>

namespace bitlens::io {
namespace {

herr_t walk_innermost(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n == 0 && err && err->desc) *out = err->desc;
  return 0;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

Handle no_times_ocpl(hid_t cls) {
  Handle p(H5Pcreate(cls), H5Pclose);
  if (!p) h5_fail("cannot create an HDF5 property list");
  if (H5Pset_obj_track_times(p.get(), false) < 0) h5_fail("cannot disable HDF5 timestamps");
  return p;
}

Handle string_type(bool variable, size_t size, bool utf8) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!t) h5_fail("cannot create an HDF5 string type");
  if (H5Tset_size(t.get(), variable ? H5T_VARIABLE : std::max<size_t>(size, 1)) < 0 ||
      H5Tset_cset(t.get(), utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) < 0 ||
      (!variable && H5Tset_strpad(t.get(), H5T_STR_NULLPAD) < 0))
    h5_fail("cannot set up an HDF5 string type");
  return t;
}

}  // namespace

std::unique_lock<std::recursive_mutex> h5_lock() {
  static std::recursive_mutex mutex;
  std::unique_lock<std::recursive_mutex> lock(mutex);
  // Per-thread in thread-safe HDF5 builds, so set it on every entry.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return lock;
}

std::string h5_error_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_innermost, &text);
  H5Eclear2(H5E_DEFAULT);
  return text;
}

void h5_fail(const std::string& what) {
  std::string detail = h5_error_text();
  if (detail.empty()) throw ModelError(what);
  throw ModelError(what + " (HDF5: " + detail + ")");
}

bool has_hdf5_signature(const std::filesystem::path& path) {
  static const std::array<unsigned char, 8> sig = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  // The superblock may sit at 0, 512, 1024, 2048, ... (user block).
  for (std::streamoff off = 0; off <= (std::streamoff{1} << 20); off = off ? off * 2 : 512) {
    std::array<unsigned char, 8> buf{};
    in.seekg(off);
    if (!in.read(reinterpret_cast<char*>(buf.data()), buf.size())) return false;
    if (buf == sig) return true;
  }
  return false;
}

Handle open_file(const std::filesystem::path& path) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // Close everything with the file; no dangling objects after an exception.
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!f)
    h5_fail("the HDF5 file is damaged or truncated and cannot be opened; re-save the model "
            "with model.save(\"m.h5\")");
  return f;
}

Handle open_image(const std::string& bytes, const std::string& what) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl || H5Pset_fapl_core(fapl.get(), 1 << 16, false) < 0 ||
      H5Pset_file_image(fapl.get(), const_cast<char*>(bytes.data()), bytes.size()) < 0 ||
      H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG) < 0)
    h5_fail("cannot prepare to read " + what);
  Handle f(H5Fopen(what.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!f) h5_fail(what + " is not a readable HDF5 file; re-save the model with model.save()");
  return f;
}

bool has_attr(hid_t obj, const std::string& name) {
  htri_t r = H5Aexists(obj, name.c_str());
  if (r < 0) {
    h5_error_text();
    return false;
  }
  return r > 0;
}

bool has_link(hid_t loc, const std::string& path) {
  auto parts = split_path(path);
  if (parts.empty()) return false;
  std::string prefix = path.starts_with("/") ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "." || parts[i] == "..") return false;
    prefix += (i ? "/" : "") + parts[i];
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0 ||
        H5Oexists_by_name(loc, prefix.c_str(), H5P_DEFAULT) <= 0) {
      h5_error_text();
      return false;
    }
  }
  return true;
}

bool is_group(hid_t loc, const std::string& path) {
  if (!has_link(loc, path)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name(loc, path.c_str(), &info, H5P_DEFAULT) < 0) {
    h5_error_text();
    return false;
  }
  return info.type == H5O_TYPE_GROUP;
}

Handle open_group(hid_t loc, const std::string& path) {
  Handle g(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g) h5_fail("cannot open HDF5 group '" + path + "'");
  return g;
}

std::vector<std::string> list_children(hid_t group) {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) h5_fail("cannot list an HDF5 group");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks && i < 1000000; ++i) {
    ssize_t n = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0,
                                   H5P_DEFAULT);
    if (n < 0 || n > 65536) h5_fail("cannot read an HDF5 link name");
    std::string name(static_cast<size_t>(n), '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1,
                       H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

std::vector<std::string> read_strings_attr(hid_t obj, const std::string& name,
                                           int64_t max_bytes) {
  const std::string what = "HDF5 attribute '" + name + "'";
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr) h5_fail("cannot open " + what);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!type || !space) h5_fail("cannot read the type of " + what);
  H5S_class_t sclass = H5Sget_simple_extent_type(space.get());
  int rank = H5Sget_simple_extent_ndims(space.get());
  hssize_t npoints = sclass == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(space.get());
  if (sclass == H5S_NO_CLASS || rank < 0 || npoints < 0) h5_fail("cannot read the shape of " + what);
  if (rank > 1) throw ModelError(what + " is a " + std::to_string(rank) +
                                 "-D array, expected a list of names; the file is damaged");
  H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
    if (npoints == 0) return {};  // Keras writes an empty float64 array for "no names"
    throw ModelError(what + " holds numbers instead of names; the file is damaged");
  }
  if (cls != H5T_STRING)
    throw ModelError(what + " is not a string attribute; the file is damaged");
  if (npoints > max_bytes)
    throw ModelError(what + " claims " + std::to_string(npoints) +
                     " strings, more than BitLens accepts; the file is damaged");
  H5T_cset_t cset = H5Tget_cset(type.get());
  if (cset != H5T_CSET_ASCII && cset != H5T_CSET_UTF8) cset = H5T_CSET_ASCII;
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(npoints));
  htri_t variable = H5Tis_variable_str(type.get());
  if (variable < 0) h5_fail("cannot read the string type of " + what);
  if (variable) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!mem || H5Tset_size(mem.get(), H5T_VARIABLE) < 0 || H5Tset_cset(mem.get(), cset) < 0)
      h5_fail("cannot set up a string type for " + what);
    std::vector<char*> buf(static_cast<size_t>(npoints), nullptr);
    if (npoints > 0 && H5Aread(attr.get(), mem.get(), buf.data()) < 0)
      h5_fail("cannot read " + what);
    int64_t total = 0;
    bool too_big = false;
    for (char* p : buf) {
      std::string s = p ? std::string(p) : std::string();
      total += static_cast<int64_t>(s.size());
      if (total > max_bytes) too_big = true;
      if (!too_big) out.push_back(std::move(s));
    }
    if (npoints > 0) H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, buf.data());
    if (too_big)
      throw ModelError(what + " is larger than " + std::to_string(max_bytes) +
                       " bytes, more than BitLens accepts; the file is damaged");
  } else {
    size_t size = H5Tget_size(type.get());
    if (size == 0) h5_fail("cannot read the string size of " + what);
    if (static_cast<int64_t>(size) > max_bytes ||
        static_cast<int64_t>(size) * npoints > max_bytes)
      throw ModelError(what + " is larger than " + std::to_string(max_bytes) +
                       " bytes, more than BitLens accepts; the file is damaged");
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!mem || H5Tset_size(mem.get(), size) < 0 || H5Tset_cset(mem.get(), cset) < 0 ||
        H5Tset_strpad(mem.get(), H5T_STR_NULLPAD) < 0)
      h5_fail("cannot set up a string type for " + what);
    std::vector<char> buf(size * static_cast<size_t>(npoints));
    if (npoints > 0 && H5Aread(attr.get(), mem.get(), buf.data()) < 0)
      h5_fail("cannot read " + what);
    H5T_str_t pad = H5Tget_strpad(type.get());
    for (hssize_t i = 0; i < npoints; ++i) {
      const char* p = buf.data() + static_cast<size_t>(i) * size;
      std::string s(p, strnlen(p, size));  // NUL-padded or NUL-terminated
      if (pad == H5T_STR_SPACEPAD)
        while (!s.empty() && s.back() == ' ') s.pop_back();
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string read_string_attr(hid_t obj, const std::string& name, int64_t max_bytes) {
  auto v = read_strings_attr(obj, name, max_bytes);
  if (v.size() != 1)
    throw ModelError("HDF5 attribute '" + name + "' holds " + std::to_string(v.size()) +
                     " strings, expected one; the file is damaged");
  return v[0];
}

std::vector<std::string> read_name_list(hid_t obj, const std::string& base, int64_t max_bytes,
                                        bool* found) {
  if (has_attr(obj, base)) {
    if (found) *found = true;
    return read_strings_attr(obj, base, max_bytes);
  }
  std::vector<std::string> out;
  int chunk = 0;
  for (; has_attr(obj, base + std::to_string(chunk)); ++chunk) {
    auto part = read_strings_attr(obj, base + std::to_string(chunk), max_bytes);
    out.insert(out.end(), part.begin(), part.end());
    if (static_cast<int64_t>(out.size()) > max_bytes)
      throw ModelError("HDF5 attribute '" + base + "' lists more names than BitLens accepts; "
                       "the file is damaged");
  }
  if (found) *found = chunk > 0;
  return out;
}

std::vector<int64_t> dataset_shape(hid_t loc, const std::string& path) {
  Handle ds(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds) h5_fail("cannot open dataset '" + path + "'");
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  if (!space) h5_fail("cannot read the shape of dataset '" + path + "'");
  H5S_class_t sclass = H5Sget_simple_extent_type(space.get());
  if (sclass == H5S_SCALAR) return {};
  if (sclass != H5S_SIMPLE)
    throw ModelError("dataset '" + path + "' has no data; the file is damaged");
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > H5S_MAX_RANK) h5_fail("cannot read the shape of dataset '" + path + "'");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
    h5_fail("cannot read the shape of dataset '" + path + "'");
  std::vector<int64_t> shape;
  for (auto d : dims) {
    if (d > static_cast<hsize_t>(std::numeric_limits<int64_t>::max()))
      throw ModelError("dataset '" + path + "' has an impossible dimension; the file is damaged");
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

Array read_float_dataset(hid_t loc, const std::string& path, int64_t max_elements) {
  Handle ds(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds) h5_fail("cannot open dataset '" + path + "'");
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (!type) h5_fail("cannot read the type of dataset '" + path + "'");
  H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw ModelError("dataset '" + path + "' does not hold numbers; the file is damaged");
  Array a;
  a.shape = dataset_shape(loc, path);
  int64_t n = 1;
  for (auto d : a.shape) {
    if (d != 0 && n > max_elements / d) {
      n = max_elements + 1;
      break;
    }
    n *= d;
  }
  if (n > max_elements)
    throw ModelError("dataset '" + path + "' claims shape " + shape_tuple(a.shape) +
                     ", more than the " + std::to_string(max_elements) +
                     " elements BitLens accepts per array; the file is damaged or not a "
                     "model BitLens can deploy");
  a.data.resize(static_cast<size_t>(n));
  if (n > 0 && H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                       a.data.data()) < 0)
    h5_fail("cannot read dataset '" + path + "'; the file is damaged or truncated");
  return a;
}

// ---- writing ----

Handle create_file(const std::filesystem::path& path) {
  Handle fcpl = no_times_ocpl(H5P_FILE_CREATE);
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
  if (!f) h5_fail("cannot create '" + path.string() + "'; check that the folder exists and is writable");
  return f;
}

Handle create_group(hid_t loc, const std::string& path) {
  auto parts = split_path(path);
  if (parts.empty()) throw ModelError("cannot create an HDF5 group with an empty name");
  Handle gcpl = no_times_ocpl(H5P_GROUP_CREATE);
  std::string prefix = path.starts_with("/") ? "/" : "";
  Handle g;
  for (size_t i = 0; i < parts.size(); ++i) {
    prefix += (i ? "/" : "") + parts[i];
    if (has_link(loc, prefix)) {
      g = Handle(H5Gopen2(loc, prefix.c_str(), H5P_DEFAULT), H5Gclose);
    } else {
      g = Handle(H5Gcreate2(loc, prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
    }
    if (!g) h5_fail("cannot create HDF5 group '" + prefix + "'");
  }
  return g;
}

void write_strings_attr(hid_t obj, const std::string& name,
                        const std::vector<std::string>& values, StringStyle style) {
  size_t maxlen = 1;
  for (const auto& v : values) maxlen = std::max(maxlen, v.size());
  Handle type = string_type(!style.fixed_length, maxlen, style.utf8);
  hsize_t dims[1] = {values.size()};
  Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Handle attr(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (!attr) h5_fail("cannot create HDF5 attribute '" + name + "'");
  herr_t rc = 0;
  if (values.empty()) {
    rc = 0;
  } else if (style.fixed_length) {
    std::vector<char> buf(maxlen * values.size(), '\0');
    for (size_t i = 0; i < values.size(); ++i)
      std::memcpy(buf.data() + i * maxlen, values[i].data(), values[i].size());
    rc = H5Awrite(attr.get(), type.get(), buf.data());
  } else {
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    rc = H5Awrite(attr.get(), type.get(), ptrs.data());
  }
  if (rc < 0) h5_fail("cannot write HDF5 attribute '" + name + "'");
}

void write_string_attr(hid_t obj, const std::string& name, const std::string& value,
                       StringStyle style) {
  Handle type = string_type(!style.fixed_length, value.size(), style.utf8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (!attr) h5_fail("cannot create HDF5 attribute '" + name + "'");
  herr_t rc;
  if (style.fixed_length) {
    std::vector<char> buf(std::max<size_t>(value.size(), 1), '\0');
    std::memcpy(buf.data(), value.data(), value.size());
    rc = H5Awrite(attr.get(), type.get(), buf.data());
  } else {
    const char* p = value.c_str();
    rc = H5Awrite(attr.get(), type.get(), &p);
  }
  if (rc < 0) h5_fail("cannot write HDF5 attribute '" + name + "'");
}

void write_empty_float64_attr(hid_t obj, const std::string& name) {
  hsize_t dims[1] = {0};
  Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Handle attr(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                         H5P_DEFAULT),
              H5Aclose);
  if (!attr) h5_fail("cannot create HDF5 attribute '" + name + "'");
}

void write_float_dataset(hid_t loc, const std::string& path, const Array& array) {
  if (array.size() != static_cast<int64_t>(array.data.size()))
    throw ModelError("cannot write dataset '" + path + "': its shape " + shape_tuple(array.shape) +
                     " does not match its " + std::to_string(array.data.size()) + " values");
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) create_group(loc, path.substr(0, slash));
  std::vector<hsize_t> dims(array.shape.begin(), array.shape.end());
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
               H5Sclose);
  Handle dcpl = no_times_ocpl(H5P_DATASET_CREATE);
  Handle ds(H5Dcreate2(loc, path.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, dcpl.get(),
                       H5P_DEFAULT),
            H5Dclose);
  if (!ds) h5_fail("cannot create dataset '" + path + "'");
  if (!array.data.empty() &&
      H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, array.data.data()) < 0)
    h5_fail("cannot write dataset '" + path + "'");
}

}  // namespace bitlens::io
