// write_variant: a config variant (e.g. other pad_values) of a model file that keeps everything
// else the file holds. The test-support writer (write_model_h5) rebuilds a file from the Model and drops what BitLens
// does not model (training_config, optimizer_weights, the real keras_version); users retrain
// variants, so the variant is a copy of the source with only the config text patched.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "frontend/messages.hpp"
#include "bitlens/model.hpp"
#include "io/h5.hpp"
#include "io/sandbox.hpp"
#include "io/zip.hpp"
#include "frontend/snapshot.hpp"

namespace bitlens {
namespace {

constexpr int64_t kMaxConfigBytes = int64_t{64} << 20;
constexpr int64_t kMaxAttributeBytes = int64_t{1} << 30;
// Copying is one pass over the file; this only stops a libhdf5 loop on a damaged file
// (plus 1 s per 4 MiB of file).
constexpr int64_t kCopyTimeoutMs = 60000;

mode_t process_umask() {
  // Read, not set: umask(2) would change it for other threads for a moment.
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Umask:", 0) == 0) {
      try {
        return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
      } catch (const std::exception&) {
        break;
      }
    }
  return 022;
}

// A uniquely named file next to the destination (so the final rename stays on one file
// system); removed unless committed.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& out) {
    std::filesystem::path dir = out.parent_path();
    if (dir.empty()) dir = ".";
    std::string tmpl = (dir / ("." + out.filename().string() + ".bitlens-XXXXXX")).string();
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    int fd = ::mkstemp(name.data());
    if (fd < 0)
      throw ModelError("cannot create a temporary file in '" + dir.string() + "' (" +
                       std::strerror(errno) + "); check that the folder exists and is writable");
    // mkstemp makes the file private (0600); the variant gets the usual mode of a new file.
    (void)::fchmod(fd, static_cast<mode_t>(0666 & ~process_umask()));
    ::close(fd);
    path_ = name.data();
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  void commit(const std::filesystem::path& out) {
    std::error_code ec;
    std::filesystem::rename(path_, out, ec);
    if (ec)
      throw ModelError("cannot move the finished variant to '" + out.string() + "' (" + ec.message() + ")");
    path_.clear();
  }

 private:
  std::filesystem::path path_;
};

// ---- legacy .h5 ----

struct LinkEntry {
  std::string name;
  H5L_type_t type;
  H5T_cset_t cset;
  size_t val_size;
};

herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  try {
    static_cast<std::vector<LinkEntry>*>(data)->push_back(
        {name, info->type, info->cset, info->type == H5L_TYPE_HARD ? 0 : info->u.val_size});
    return 0;
  } catch (...) {
    return -1;
  }
}

herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* data) {
  try {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  } catch (...) {
    return -1;
  }
}

// Recreates a root link of `src` in `dst`: hard links by copying the object with everything
// below it and all attributes (H5Ocopy, default flags: deep, attributes kept, soft links kept
// as soft links), soft and external links as the same link.
void copy_link(hid_t src, hid_t dst, const LinkEntry& link) {
  const std::string what = "'/" + link.name + "'";
  io::Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  if (!lcpl || H5Pset_char_encoding(lcpl.get(), link.cset) < 0)
    io::h5_fail("cannot prepare to copy " + what);
  if (link.type == H5L_TYPE_HARD) {
    io::Handle ocpypl(H5Pcreate(H5P_OBJECT_COPY), H5Pclose);
    if (!ocpypl || H5Pset_copy_object(ocpypl.get(), 0) < 0) io::h5_fail("cannot prepare to copy " + what);
    if (H5Ocopy(src, link.name.c_str(), dst, link.name.c_str(), ocpypl.get(), lcpl.get()) < 0)
      io::h5_fail("cannot copy " + what + " of the source model");
    return;
  }
  if (link.val_size > (size_t{1} << 20)) throw ModelError("the link " + what + " is damaged");
  std::vector<char> val(link.val_size + 1, '\0');
  if (H5Lget_val(src, link.name.c_str(), val.data(), val.size(), H5P_DEFAULT) < 0)
    io::h5_fail("cannot read the link " + what);
  if (link.type == H5L_TYPE_SOFT) {
    if (H5Lcreate_soft(val.data(), dst, link.name.c_str(), lcpl.get(), H5P_DEFAULT) < 0)
      io::h5_fail("cannot copy the link " + what);
    return;
  }
  if (link.type == H5L_TYPE_EXTERNAL) {
    unsigned flags = 0;
    const char* file = nullptr;
    const char* obj = nullptr;
    if (H5Lunpack_elink_val(val.data(), link.val_size, &flags, &file, &obj) < 0 ||
        H5Lcreate_external(file, obj, dst, link.name.c_str(), lcpl.get(), H5P_DEFAULT) < 0)
      io::h5_fail("cannot copy the external link " + what);
    return;
  }
  throw ModelError("the source model has a user-defined HDF5 link " + what + " that BitLens cannot copy");
}

// Copies attribute `name` of `src` to `dst` with its exact datatype, dataspace and bytes.
void copy_attribute(hid_t src, hid_t dst, const std::string& name) {
  const std::string what = "root attribute '" + name + "'";
  io::Handle attr(H5Aopen(src, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr) io::h5_fail("cannot open the " + what);
  io::Handle ftype(H5Aget_type(attr.get()), H5Tclose);
  io::Handle space(H5Aget_space(attr.get()), H5Sclose);
  io::Handle acpl(H5Aget_create_plist(attr.get()), H5Pclose);
  if (!ftype || !space || !acpl) io::h5_fail("cannot read the type of the " + what);
  // A transient copy: usable as the memory type (no conversion, so the bytes stay as stored).
  io::Handle type(H5Tcopy(ftype.get()), H5Tclose);
  if (!type) io::h5_fail("cannot copy the type of the " + what);
  H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_NO_CLASS) io::h5_fail("cannot read the type of the " + what);
  if (cls == H5T_REFERENCE || H5Tdetect_class(type.get(), H5T_REFERENCE) > 0)
    throw ModelError("the " + what + " holds HDF5 references, which BitLens cannot copy");
  H5S_class_t sclass = H5Sget_simple_extent_type(space.get());
  if (sclass == H5S_NO_CLASS) io::h5_fail("cannot read the shape of the " + what);
  hssize_t n = sclass == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(space.get());
  size_t size = H5Tget_size(type.get());
  if (n < 0 || size == 0) io::h5_fail("cannot read the shape of the " + what);
  if (n > 0 && static_cast<int64_t>(size) > kMaxAttributeBytes / n)
    throw ModelError("the " + what + " is larger than BitLens copies; the file is damaged");
  std::vector<unsigned char> buf(static_cast<size_t>(n) * size);
  if (n > 0 && H5Aread(attr.get(), type.get(), buf.data()) < 0) io::h5_fail("cannot read the " + what);
  std::string error;
  {
    io::Handle out(H5Acreate2(dst, name.c_str(), type.get(), space.get(), acpl.get(), H5P_DEFAULT), H5Aclose);
    if (!out) error = "cannot create";
    else if (n > 0 && H5Awrite(out.get(), type.get(), buf.data()) < 0) error = "cannot write";
  }
  if (!error.empty()) {
    std::string detail = io::h5_error_text();
    if (n > 0) H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, buf.data());
    throw ModelError(error + " the " + what + " in the variant" +
                     (detail.empty() ? std::string() : " (HDF5: " + detail + ")"));
  }
  // Frees what a variable-length type allocated; nothing to do for fixed-size types.
  if (n > 0 && H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, buf.data()) < 0)
    io::h5_fail("cannot release the " + what);
}

// Writes model_config with the patched text, in the string type class (variable or fixed
// length), padding and character set of the source's attribute.
void write_config_attribute(hid_t src, hid_t dst, const std::string& text) {
  const std::string what = "root attribute 'model_config'";
  io::Handle attr(H5Aopen(src, "model_config", H5P_DEFAULT), H5Aclose);
  if (!attr) io::h5_fail("cannot open the " + what);
  io::Handle ftype(H5Aget_type(attr.get()), H5Tclose);
  io::Handle space(H5Aget_space(attr.get()), H5Sclose);
  io::Handle acpl(H5Aget_create_plist(attr.get()), H5Pclose);
  if (!ftype || !space || !acpl) io::h5_fail("cannot read the type of the " + what);
  if (H5Tget_class(ftype.get()) != H5T_STRING)
    throw ModelError("the " + what + " is not a string; " + std::string(frontend::kResave));
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw ModelError("the " + what + " holds more than one string; " + std::string(frontend::kResave));
  io::Handle type(H5Tcopy(ftype.get()), H5Tclose);
  if (!type) io::h5_fail("cannot copy the type of the " + what);
  htri_t variable = H5Tis_variable_str(type.get());
  if (variable < 0) io::h5_fail("cannot read the string type of the " + what);
  std::string fixed;
  if (!variable) {
    H5T_str_t pad = H5Tget_strpad(type.get());
    if (pad == H5T_STR_ERROR) io::h5_fail("cannot read the string padding of the " + what);
    size_t size = std::max<size_t>(text.size() + (pad == H5T_STR_NULLTERM ? 1 : 0), 1);
    if (H5Tset_size(type.get(), size) < 0) io::h5_fail("cannot size the " + what);
    fixed = text;
    fixed.resize(size, pad == H5T_STR_SPACEPAD ? ' ' : '\0');
  }
  io::Handle out(H5Acreate2(dst, "model_config", type.get(), space.get(), acpl.get(), H5P_DEFAULT), H5Aclose);
  if (!out) io::h5_fail("cannot create the " + what + " in the variant");
  const char* ptr = text.c_str();
  herr_t r = variable ? H5Awrite(out.get(), type.get(), &ptr) : H5Awrite(out.get(), type.get(), fixed.data());
  if (r < 0) io::h5_fail("cannot write the " + what + " in the variant");
}

void copy_user_block(const std::filesystem::path& source, const std::filesystem::path& out, hsize_t size) {
  std::ifstream in(source, std::ios::binary);
  std::vector<char> block(static_cast<size_t>(size));
  if (!in.read(block.data(), static_cast<std::streamsize>(block.size())))
    throw ModelError("cannot read the user block of the source model");
  std::fstream f(out, std::ios::binary | std::ios::in | std::ios::out);
  if (!f.write(block.data(), static_cast<std::streamsize>(block.size())) || !f.flush())
    throw ModelError("cannot write the user block of the variant");
}

}  // namespace

// Runs in the isolated reader (core/reader): libhdf5 touches every object of the source here.
void frontend::copy_h5_with_changes(const std::filesystem::path& source, const std::filesystem::path& tmp,
                                    const json& changes) {
  auto lock = io::h5_lock();
  {
    io::Handle src = io::open_file(source);
    io::Handle sroot = io::open_group(src.get(), "/");
    if (!io::has_attr(sroot.get(), "model_config"))
      throw ModelError("the source has no model_config attribute; " + std::string(frontend::kResave));
    std::optional<std::string> config =
        apply_config_changes(io::read_string_attr(sroot.get(), "model_config", kMaxConfigBytes), changes);

    // Same file-creation properties as the source (user block, sizes, root group settings).
    io::Handle fcpl(H5Fget_create_plist(src.get()), H5Pclose);
    hsize_t user_block = 0;
    if (!fcpl || H5Pget_userblock(fcpl.get(), &user_block) < 0)
      io::h5_fail("cannot read the file properties of the source model");
    io::Handle dst(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
    if (!dst) io::h5_fail("cannot create '" + tmp.string() + "'; check that the folder is writable");
    io::Handle droot = io::open_group(dst.get(), "/");

    std::vector<LinkEntry> links;
    hsize_t idx = 0;
    if (H5Literate(sroot.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &links) < 0)
      io::h5_fail("cannot list the objects of the source model");
    for (const auto& l : links) copy_link(sroot.get(), droot.get(), l);

    std::vector<std::string> attrs;
    idx = 0;
    if (H5Aiterate2(sroot.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &attrs) < 0)
      io::h5_fail("cannot list the attributes of the source model");
    for (const auto& a : attrs) {
      if (a == "model_config" && config) write_config_attribute(sroot.get(), droot.get(), *config);
      else copy_attribute(sroot.get(), droot.get(), a);
    }
    droot.reset();
    if (H5Fflush(dst.get(), H5F_SCOPE_GLOBAL) < 0) io::h5_fail("cannot write '" + tmp.string() + "'");
    if (H5Fclose(dst.release()) < 0) io::h5_fail("cannot finish writing '" + tmp.string() + "'");
    if (user_block > 0) copy_user_block(source, tmp, user_block);
  }
}

namespace {

// ---- .keras ----

void write_keras_variant(const std::filesystem::path& source, const Model& changed,
                         const std::filesystem::path& tmp) {
  std::optional<std::string> config;
  {
    io::ZipReader reader(source);
    config = variant_config_text(reader.read("config.json", kMaxConfigBytes), changed);
  }
  std::error_code ec;
  std::filesystem::copy_file(source, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) throw ModelError("cannot copy the source model to '" + tmp.string() + "' (" + ec.message() + ")");
  if (!config) return;  // nothing differs: the copy is the variant
  // Replace config.json in the copy; libzip rewrites that member and copies the others as
  // stored (compressed data, times, attributes).
  int err = 0;
  zip_t* z = zip_open(tmp.c_str(), 0, &err);
  if (!z) throw ModelError("cannot open the copy '" + tmp.string() + "' of the .keras archive");
  auto fail = [&](const std::string& what) {
    std::string msg = zip_strerror(z);
    zip_discard(z);
    throw ModelError(what + " (zip: " + msg + ")");
  };
  zip_int64_t index = zip_name_locate(z, "config.json", 0);
  zip_stat_t st;
  zip_stat_init(&st);
  if (index < 0 || zip_stat_index(z, static_cast<zip_uint64_t>(index), 0, &st) != 0)
    fail("cannot find config.json in the copy of the .keras archive");
  const auto i = static_cast<zip_uint64_t>(index);
  zip_source_t* src = zip_source_buffer(z, config->data(), config->size(), 0);
  if (!src) fail("cannot prepare the new config.json");
  if (zip_file_replace(z, i, src, 0) < 0) {
    zip_source_free(src);
    fail("cannot replace config.json");
  }
  if ((st.valid & ZIP_STAT_COMP_METHOD) &&
      zip_set_file_compression(z, i, st.comp_method == ZIP_CM_STORE ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0) < 0)
    fail("cannot set the compression of config.json");
  if ((st.valid & ZIP_STAT_MTIME) && zip_file_set_mtime(z, i, st.mtime, 0) < 0)
    fail("cannot set the time of config.json");
  if (zip_close(z) != 0) fail("cannot write '" + tmp.string() + "'");
}

}  // namespace

void write_variant(const std::filesystem::path& source, const Model& changed,
                   const std::filesystem::path& out) {
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(out, source, ec))
    throw ModelError("refusing to overwrite the source model; write the variant to another file");
  const bool zip = io::has_zip_signature(source);
  const bool h5 = !zip && io::has_hdf5_signature(source);
  if (!zip && !h5)
    throw ModelError("'" + source.string() + "' is neither a Keras .h5 file nor a .keras archive");
  const std::string ext = out.extension().string();
  if (zip && ext != ".keras")
    throw ModelError("'" + source.string() + "' is a .keras archive and its variant keeps that format; "
                     "write the variant to a file ending in .keras");
  if (h5 && ext == ".keras")
    throw ModelError("'" + source.string() + "' is a Keras .h5 file and its variant keeps that format; "
                     "write the variant to a file ending in " +
                     (source.extension().empty() ? std::string(".h5") : source.extension().string()));

  TempFile tmp(out);
  if (zip) {
    write_keras_variant(source, changed, tmp.path());
  } else {
    // The copy reads every object of the source (optimizer state too, which loading did not),
    // so it runs in the isolated reader: a damaged file ends in a ModelError, not a crash.
    const json changes = variant_config_changes(changed.raw_config, changed);
    TempFile ops(out);
    {
      std::ofstream f(ops.path(), std::ios::binary | std::ios::trunc);
      f << changes.dump();
      if (!f.flush()) throw ModelError("cannot write '" + ops.path().string() + "' (disk full?)");
    }
    std::error_code ec;
    const auto size = std::filesystem::file_size(source, ec);
    const int64_t bytes = ec ? 0 : static_cast<int64_t>(size);
    const LoadLimits limits;
    io::ReaderJob job;
    job.args = {"copy-h5",
                std::filesystem::absolute(source).string(),
                std::to_string(limits.max_elements_per_array),
                std::to_string(limits.max_total_elements),
                std::to_string(limits.max_json_bytes),
                std::to_string(limits.max_layers),
                std::filesystem::absolute(tmp.path()).string(),
                std::filesystem::absolute(ops.path()).string(),
                // The copy holds what the source holds, plus the changed config text.
                std::to_string(2 * bytes + static_cast<int64_t>(changes.dump().size()) + (int64_t{64} << 20))};
    job.max_answer_bytes = 1 << 20;
    job.timeout_ms = kCopyTimeoutMs + bytes / ((4 << 20) / 1000);
    job.what = "the HDF5 library (copying the model)";
    io::run_reader(job);
  }
  tmp.commit(out);
}

}  // namespace bitlens
