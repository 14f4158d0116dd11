// Thin HDF5 access for the Keras loader and writer (C API, RAII handles). Reads every string
// encoding Keras/h5py ever wrote and turns every HDF5 failure into a one-line ModelError.
// Not thread-safe by itself: callers hold h5_lock() for the whole file operation.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "bitlens/model.hpp"

namespace bitlens::io {

// The HDF5 library is not reentrant; every loader/writer entry point holds this lock.
// It also switches HDF5's automatic error printing off (once per process).
std::unique_lock<std::recursive_mutex> h5_lock();

// Innermost message of the current HDF5 error stack ("" when none), then clears the stack.
std::string h5_error_text();

// Throws ModelError(what + ": " + HDF5's innermost message).
[[noreturn]] void h5_fail(const std::string& what);

// Owning hid_t with its matching close function.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  // Gives up ownership (for a caller that closes the id itself and checks the result).
  hid_t release() {
    hid_t id = id_;
    id_ = -1;
    return id;
  }
  explicit operator bool() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// True when the file starts with the HDF5 signature (at offset 0, 512, 1024, ...).
bool has_hdf5_signature(const std::filesystem::path& path);

// Opens read-only. Throws ModelError naming the file problem.
Handle open_file(const std::filesystem::path& path);
// Opens an in-memory HDF5 image read-only (a zip member). `bytes` must outlive the handle.
Handle open_image(const std::string& bytes, const std::string& what);

bool has_attr(hid_t obj, const std::string& name);
// True when every component of `path` (relative to `loc`, '/'-separated) exists.
bool has_link(hid_t loc, const std::string& path);
// True when `path` exists and is a group.
bool is_group(hid_t loc, const std::string& path);
Handle open_group(hid_t loc, const std::string& path);
// Names of the direct children of a group, in HDF5 name order.
std::vector<std::string> list_children(hid_t group);

// Reads a string attribute in any encoding (variable/fixed length, ASCII/UTF-8, scalar or
// 1-D; trailing NULs stripped). An empty numeric array (Keras' "no weights" marker) reads as
// no strings. Anything else throws. `max_bytes` bounds the fixed-length payload.
std::vector<std::string> read_strings_attr(hid_t obj, const std::string& name,
                                           int64_t max_bytes);
// A scalar (or one-element) string attribute.
std::string read_string_attr(hid_t obj, const std::string& name, int64_t max_bytes);
// A Keras name list: attribute `base`, or chunks base0, base1, ... concatenated in order.
// Returns false in `found` when neither exists.
std::vector<std::string> read_name_list(hid_t obj, const std::string& base, int64_t max_bytes,
                                        bool* found = nullptr);

// Shape of a dataset without reading it.
std::vector<int64_t> dataset_shape(hid_t loc, const std::string& path);
// Reads a float or integer dataset of any width into float32. Refuses datasets with more
// than `max_elements` elements before allocating.
Array read_float_dataset(hid_t loc, const std::string& path, int64_t max_elements);

// ---- writing ----

struct StringStyle {
  bool fixed_length = false;  // h5py 2.x: NUL-padded fixed-length strings
  bool utf8 = false;
};

// Creates (truncates) a file with deterministic settings (no object timestamps).
Handle create_file(const std::filesystem::path& path);
// Creates a group (and missing intermediate groups) without timestamps.
Handle create_group(hid_t loc, const std::string& path);
void write_string_attr(hid_t obj, const std::string& name, const std::string& value,
                       StringStyle style);
void write_strings_attr(hid_t obj, const std::string& name,
                        const std::vector<std::string>& values, StringStyle style);
// Keras' marker for "no weights": a float64 array of shape (0,).
void write_empty_float64_attr(hid_t obj, const std::string& name);
// Float32 dataset (contiguous, no timestamps); intermediate groups are created.
void write_float_dataset(hid_t loc, const std::string& path, const Array& array);

}  // namespace bitlens::io
