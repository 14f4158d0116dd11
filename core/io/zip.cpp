// libzip wrapper for .keras archives; see zip.hpp.
#include "io/zip.hpp"

#include <zip.h>

#include <array>
#include <fstream>

#include "bitlens/model.hpp"

namespace bitlens::io {

struct ZipReader::Impl {
  zip_t* archive = nullptr;
};

bool has_zip_signature(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 4> buf{};
  if (!in.read(buf.data(), buf.size())) return false;
  return buf[0] == 'P' && buf[1] == 'K' &&
         ((buf[2] == 3 && buf[3] == 4) || (buf[2] == 5 && buf[3] == 6));
}

ZipReader::ZipReader(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
  int err = 0;
  impl_->archive = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!impl_->archive) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw ModelError("the .keras archive is damaged or truncated (zip: " + msg +
                     "); re-save the model with model.save(\"m.keras\")");
  }
}

ZipReader::~ZipReader() {
  if (impl_ && impl_->archive) zip_discard(impl_->archive);
}

std::vector<std::string> ZipReader::names() const {
  std::vector<std::string> out;
  zip_int64_t n = zip_get_num_entries(impl_->archive, 0);
  for (zip_int64_t i = 0; i < n && i < 100000; ++i) {
    const char* name = zip_get_name(impl_->archive, static_cast<zip_uint64_t>(i), 0);
    if (name) out.emplace_back(name);
  }
  return out;
}

bool ZipReader::has(const std::string& name) const {
  return zip_name_locate(impl_->archive, name.c_str(), 0) >= 0;
}

std::string ZipReader::read(const std::string& name, int64_t max_bytes) const {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(impl_->archive, name.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    throw ModelError("the .keras archive has no member '" + name +
                     "'; re-save the model with model.save(\"m.keras\")");
  if (st.size > static_cast<zip_uint64_t>(max_bytes))
    throw ModelError("the .keras archive member '" + name + "' claims " +
                     std::to_string(st.size) + " bytes, more than the " +
                     std::to_string(max_bytes) + " BitLens accepts; the file is damaged");
  zip_file_t* f = zip_fopen(impl_->archive, name.c_str(), 0);
  if (!f)
    throw ModelError("cannot open member '" + name + "' of the .keras archive (zip: " +
                     zip_strerror(impl_->archive) + "); the file is damaged");
  std::string data(static_cast<size_t>(st.size), '\0');
  zip_int64_t got = data.empty() ? 0 : zip_fread(f, data.data(), data.size());
  std::string err = got < 0 ? zip_file_strerror(f) : "";
  zip_fclose(f);
  if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
    throw ModelError("cannot read member '" + name + "' of the .keras archive" +
                     (err.empty() ? std::string() : " (zip: " + err + ")") +
                     "; the file is damaged or truncated");
  return data;
}

void write_zip(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, std::string>>& members) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) throw ModelError("cannot create '" + path.string() + "'; check that the folder is writable");
  for (const auto& [name, bytes] : members) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    zip_int64_t idx = src ? zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
      if (src) zip_source_free(src);
      std::string msg = zip_strerror(z);
      zip_discard(z);
      throw ModelError("cannot add '" + name + "' to '" + path.string() + "' (zip: " + msg + ")");
    }
    zip_file_set_mtime(z, static_cast<zip_uint64_t>(idx), 315532800 /* 1980-01-01 */, 0);
  }
  if (zip_close(z) != 0) {
    std::string msg = zip_strerror(z);
    zip_discard(z);
    throw ModelError("cannot write '" + path.string() + "' (zip: " + msg + ")");
  }
}

}  // namespace bitlens::io
