// write_variant: a pad_values variant is a copy of the source file in which only the changed
// config values differ. Both files are walked independently with the HDF5 C API (every link,
// every dataset's type/shape/storage/bytes, every attribute's type/shape/bytes) and every zip
// member is compared, so anything lost or altered besides those config values fails.
#include <zip.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "io/zip.hpp"
#include "model_test_util.hpp"

namespace {

using namespace model_test;
using bitlens::io::Handle;

// ---- writing the extra objects real compiled-model files have ----

void put_string_attr(hid_t obj, const std::string& name, const std::string& value, bool utf8 = false) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  ASSERT_GE(H5Tset_size(t.get(), H5T_VARIABLE), 0);
  ASSERT_GE(H5Tset_cset(t.get(), utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), 0);
  Handle s(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(obj, name.c_str()) > 0) {
    ASSERT_GE(H5Adelete(obj, name.c_str()), 0);
  }
  Handle a(H5Acreate2(obj, name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  ASSERT_TRUE(a);
  const char* p = value.c_str();
  ASSERT_GE(H5Awrite(a.get(), t.get(), &p), 0);
}

void put_fixed_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  ASSERT_GE(H5Tset_size(t.get(), value.size()), 0);
  ASSERT_GE(H5Tset_cset(t.get(), H5T_CSET_UTF8), 0);
  ASSERT_GE(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), 0);
  Handle s(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(obj, name.c_str()) > 0) {
    ASSERT_GE(H5Adelete(obj, name.c_str()), 0);
  }
  Handle a(H5Acreate2(obj, name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  ASSERT_TRUE(a);
  ASSERT_GE(H5Awrite(a.get(), t.get(), value.data()), 0);
}

template <class T>
void put_dataset(hid_t loc, const std::string& path, hid_t type, const std::vector<hsize_t>& dims,
                 const std::vector<T>& data, bool chunked_gzip = false) {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  ASSERT_GE(H5Pset_create_intermediate_group(lcpl.get(), 1), 0);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (chunked_gzip) {
    ASSERT_GE(H5Pset_chunk(dcpl.get(), static_cast<int>(dims.size()), dims.data()), 0);
    ASSERT_GE(H5Pset_shuffle(dcpl.get()), 0);
    ASSERT_GE(H5Pset_deflate(dcpl.get(), 4), 0);
  }
  Handle s(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
           H5Sclose);
  Handle d(H5Dcreate2(loc, path.c_str(), type, s.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT), H5Dclose);
  ASSERT_TRUE(d) << path;
  ASSERT_GE(H5Dwrite(d.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0);
  // Attributes on datasets must survive too.
  put_string_attr(d.get(), "note", "slot of " + path);
}

const char* kTrainingConfig =
    R"({"loss": "categorical_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper", "config": )"
    R"({"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}]], "weighted_metrics": null, )"
    R"("loss_weights": null, "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", )"
    R"("learning_rate": 0.0010000000474974513, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}}})";

// What a compiled tf.keras 2.13 model.save("m.h5") adds to what write_model_h5 writes.
void add_compiled_state(const fs::path& file, bool fixed_length_config) {
  auto lock = bitlens::io::h5_lock();
  Handle f(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  ASSERT_TRUE(f);
  Handle root(H5Gopen2(f.get(), "/", H5P_DEFAULT), H5Gclose);
  put_string_attr(root.get(), "training_config", kTrainingConfig, true);
  put_string_attr(root.get(), "backend", "tensorflow", true);  // UTF-8, unlike the writer's ASCII
  if (fixed_length_config) {
    // h5py 2.x wrote model_config as a fixed-length NUL-padded string.
    std::string text = bitlens::io::read_string_attr(root.get(), "model_config", 1 << 24);
    put_fixed_string_attr(root.get(), "model_config", text);
  }
  Handle g(H5Gcreate2(f.get(), "optimizer_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  ASSERT_TRUE(g);
  std::vector<std::string> names = {"Adam/iter:0", "Adam/quant_conv2d/kernel/m:0", "Adam/quant_conv2d/kernel/v:0"};
  bitlens::io::write_strings_attr(g.get(), "weight_names", names, {false, true});
  put_dataset<int64_t>(g.get(), "Adam/iter:0", H5T_STD_I64LE, {}, {1234});
  std::vector<float> m(3 * 3 * 2 * 4), v(m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    m[i] = 0.001f * static_cast<float>(i) - 0.02f;
    v[i] = 1e-6f * static_cast<float>(i * i);
  }
  put_dataset(g.get(), "Adam/quant_conv2d/kernel/m:0", H5T_IEEE_F32LE, {3, 3, 2, 4}, m);
  put_dataset(g.get(), "Adam/quant_conv2d/kernel/v:0", H5T_IEEE_F32LE, {3, 3, 2, 4}, v, true);
  // A big-endian double and a soft link, both things a naive rewrite would not keep.
  put_dataset<double>(g.get(), "Adam/learning_rate:0", H5T_IEEE_F64BE, {}, {0.001});
  ASSERT_GE(H5Lcreate_soft("/optimizer_weights/Adam/iter:0", root.get(), "iterations_alias", H5P_DEFAULT, H5P_DEFAULT), 0);
}

// A functional model with two Larq convolutions (pad_values 1) and a few layers around them.
bitlens::Model larq_model() {
  k::ModelBuilder b("variant_src", k::Style::functional, 11);
  auto x = b.input({8, 8, 2});
  auto c = b.quant_conv2d(x, {.filters = 4, .padding = "same", .use_bias = false,
                              .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .pad_values = 1.0});
  c = b.batch_norm(c);
  c = b.quant_conv2d(c, {.filters = 4, .padding = "same", .use_bias = false,
                         .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .pad_values = 1.0});
  c = b.max_pool2d(c);
  c = b.flatten(c);
  b.quant_dense(c, {.units = 3, .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign"});
  return b.build();
}

fs::path write_compiled_h5(const TempDir& dir, bool fixed_length_config = false) {
  fs::path p = dir / "src.h5";
  bitlens::Model m = larq_model();
  bitlens::H5WriteOptions o;
  o.keras_version = "2.13.1";
  bitlens::write_model_h5(m, p, o);
  add_compiled_state(p, fixed_length_config);
  return p;
}

// The source model with pad_values set to `v` on every QuantConv2D (what --pad-values does).
bitlens::Model with_pad(const fs::path& src, double v, const std::string& only = "") {
  bitlens::Model m = bitlens::load_model(src);
  int changed = 0;
  for (auto& l : m.layers)
    if (l.class_name == "QuantConv2D" && (only.empty() || l.name == only)) {
      l.config["pad_values"] = v;
      ++changed;
    }
  EXPECT_GT(changed, 0);
  return m;
}

// ---- walking a file ----

std::string type_bytes(hid_t type) {
  size_t n = 0;
  EXPECT_GE(H5Tencode(type, nullptr, &n), 0);
  std::string out(n, '\0');
  EXPECT_GE(H5Tencode(type, out.data(), &n), 0);
  return out;
}

std::string space_text(hid_t space) {
  H5S_class_t c = H5Sget_simple_extent_type(space);
  if (c == H5S_SCALAR) return "scalar";
  if (c == H5S_NULL) return "null";
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  std::string s = "(";
  for (auto d : dims) s += std::to_string(d) + ",";
  return s + ")";
}

// Data bytes as stored (file type as memory type: no conversion); variable-length strings as
// their texts.
std::string data_bytes(hid_t type, hid_t space, const std::function<herr_t(hid_t, void*)>& read) {
  Handle mem(H5Tcopy(type), H5Tclose);
  hssize_t n = H5Sget_simple_extent_type(space) == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(space);
  if (n <= 0) return "";
  if (H5Tis_variable_str(mem.get()) > 0) {
    std::vector<char*> p(static_cast<size_t>(n), nullptr);
    EXPECT_GE(read(mem.get(), p.data()), 0);
    std::string out;
    for (char* s : p) out += (s ? std::string(s) : std::string("<null>")) + '\x1f';
    H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, p.data());
    return out;
  }
  EXPECT_EQ(H5Tdetect_class(mem.get(), H5T_VLEN), 0) << "the fixture has no other variable-length data";
  std::string out(static_cast<size_t>(n) * H5Tget_size(mem.get()), '\0');
  EXPECT_GE(read(mem.get(), out.data()), 0);
  return out;
}

struct Walk {
  std::map<std::string, std::string> objects;  // path -> "group", "soft -> target", dataset description
  std::map<std::string, std::string> attrs;    // path@name -> type + shape + bytes
};

void walk_attrs(hid_t obj, const std::string& path, Walk& w) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  EXPECT_GE(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx,
                        [](hid_t, const char* name, const H5A_info_t*, void* d) -> herr_t {
                          static_cast<std::vector<std::string>*>(d)->push_back(name);
                          return 0;
                        },
                        &names),
            0);
  for (const auto& n : names) {
    Handle a(H5Aopen(obj, n.c_str(), H5P_DEFAULT), H5Aclose);
    Handle t(H5Aget_type(a.get()), H5Tclose);
    Handle s(H5Aget_space(a.get()), H5Sclose);
    Handle acpl(H5Aget_create_plist(a.get()), H5Pclose);
    H5T_cset_t name_cset = H5T_CSET_ASCII;
    H5Pget_char_encoding(acpl.get(), &name_cset);
    const hid_t aid = a.get();
    w.attrs[path + "@" + n] = type_bytes(t.get()) + "|" + space_text(s.get()) + "|name cset " +
                              std::to_string(name_cset) + "|" +
                              data_bytes(t.get(), s.get(), [aid](hid_t m, void* b) { return H5Aread(aid, m, b); });
  }
}

void walk(hid_t group, const std::string& path, Walk& w, int depth = 0) {
  ASSERT_LT(depth, 32);
  walk_attrs(group, path.empty() ? "/" : path, w);
  struct Link {
    std::string name;
    H5L_type_t type;
    H5T_cset_t cset;
  };
  std::vector<Link> links;
  hsize_t idx = 0;
  ASSERT_GE(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx,
                       [](hid_t, const char* name, const H5L_info_t* info, void* d) -> herr_t {
                         static_cast<std::vector<Link>*>(d)->push_back({name, info->type, info->cset});
                         return 0;
                       },
                       &links),
            0);
  for (const auto& l : links) {
    const std::string p = path + "/" + l.name;
    const std::string cset = " cset " + std::to_string(l.cset);
    if (l.type == H5L_TYPE_SOFT) {
      char buf[1024] = {};
      ASSERT_GE(H5Lget_val(group, l.name.c_str(), buf, sizeof buf, H5P_DEFAULT), 0);
      w.objects[p] = std::string("soft -> ") + buf + cset;
      continue;
    }
    ASSERT_EQ(l.type, H5L_TYPE_HARD) << p;
    H5O_info_t info;
    ASSERT_GE(H5Oget_info_by_name(group, l.name.c_str(), &info, H5P_DEFAULT), 0);
    if (info.type == H5O_TYPE_GROUP) {
      w.objects[p] = "group" + cset;
      Handle g(H5Gopen2(group, l.name.c_str(), H5P_DEFAULT), H5Gclose);
      walk(g.get(), p, w, depth + 1);
    } else {
      ASSERT_EQ(info.type, H5O_TYPE_DATASET) << p;
      Handle d(H5Dopen2(group, l.name.c_str(), H5P_DEFAULT), H5Dclose);
      Handle t(H5Dget_type(d.get()), H5Tclose);
      Handle s(H5Dget_space(d.get()), H5Sclose);
      Handle dcpl(H5Dget_create_plist(d.get()), H5Pclose);
      std::string storage = "layout " + std::to_string(H5Pget_layout(dcpl.get())) + " filters";
      for (int i = 0; i < H5Pget_nfilters(dcpl.get()); ++i) {
        unsigned flags = 0;
        size_t nvals = 0;
        storage += " " + std::to_string(H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nvals,
                                                       nullptr, 0, nullptr, nullptr));
      }
      const hid_t did = d.get();
      w.objects[p] = "dataset|" + type_bytes(t.get()) + "|" + space_text(s.get()) + "|" + storage + cset + "|" +
                     data_bytes(t.get(), s.get(), [did](hid_t m, void* b) {
                       return H5Dread(did, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, b);
                     });
      walk_attrs(d.get(), p, w);
    }
  }
}

Walk walk_file(const fs::path& file) {
  auto lock = bitlens::io::h5_lock();
  Walk w;
  Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  EXPECT_TRUE(f) << file;
  if (!f) return w;
  Handle root(H5Gopen2(f.get(), "/", H5P_DEFAULT), H5Gclose);
  walk(root.get(), "", w);
  return w;
}

std::string root_string(const fs::path& file, const std::string& name) {
  auto lock = bitlens::io::h5_lock();
  Handle f = bitlens::io::open_file(file);
  Handle root = bitlens::io::open_group(f.get(), "/");
  return bitlens::io::read_string_attr(root.get(), name, 1 << 24);
}

// Checks that `changed` differs from `original` exactly at the pad_values of the QuantConv2D
// layers listed in `expect` (layer name -> new value), then resets those keys and requires the
// rest to be equal. Returns the number of layer configs that differed.
void expect_only_pad_values_differ(const json& original, json changed, const std::map<std::string, double>& expect) {
  ASSERT_NE(original, changed) << "the variant's config is unchanged";
  ASSERT_TRUE(changed["config"]["layers"].is_array());
  std::map<std::string, double> seen;
  for (size_t i = 0; i < changed["config"]["layers"].size(); ++i) {
    json& e = changed["config"]["layers"][i];
    const json& o = original["config"]["layers"][i];
    const std::string name = e["config"].value("name", "");
    auto it = expect.find(name);
    if (it == expect.end()) continue;
    ASSERT_TRUE(e["config"].contains("pad_values")) << name;
    EXPECT_EQ(e["config"]["pad_values"].get<double>(), it->second) << name;
    EXPECT_NE(o["config"]["pad_values"], e["config"]["pad_values"]) << name << ": value did not change";
    seen[name] = it->second;
    e["config"]["pad_values"] = o["config"]["pad_values"];
  }
  EXPECT_EQ(seen, expect);
  EXPECT_EQ(changed, original) << "more than pad_values differs:\n" << json::diff(original, changed).dump(1);
}

void expect_same_except_model_config(const Walk& a, const Walk& b) {
  ASSERT_FALSE(a.objects.empty());
  // Same set of objects, each with the same description and bytes.
  std::vector<std::string> ka, kb;
  for (const auto& [k, v] : a.objects) ka.push_back(k);
  for (const auto& [k, v] : b.objects) kb.push_back(k);
  EXPECT_EQ(ka, kb);
  for (const auto& [k, v] : a.objects) {
    auto it = b.objects.find(k);
    if (it != b.objects.end()) {
      EXPECT_TRUE(v == it->second) << "object differs: " << k;
    }
  }
  std::vector<std::string> aa, ab;
  for (const auto& [k, v] : a.attrs) aa.push_back(k);
  for (const auto& [k, v] : b.attrs) ab.push_back(k);
  EXPECT_EQ(aa, ab);
  for (const auto& [k, v] : a.attrs) {
    if (k == "/@model_config") continue;
    auto it = b.attrs.find(k);
    if (it != b.attrs.end()) {
      EXPECT_TRUE(v == it->second) << "attribute differs: " << k;
    }
  }
}

std::vector<std::string> dir_entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- tests ----

TEST(ModelVariant, H5KeepsEveryObjectAndAttributeExceptTheChangedConfigValues) {
  TempDir dir;
  const fs::path src = write_compiled_h5(dir);
  const fs::path out = dir / "variant.h5";
  bitlens::write_variant(src, with_pad(src, 0.0), out);
  EXPECT_EQ(dir_entries(dir.path()), (std::vector<std::string>{"src.h5", "variant.h5"})) << "temporary file left behind";

  const Walk a = walk_file(src), b = walk_file(out);
  // The fixture really has what must survive.
  for (const char* p : {"/optimizer_weights", "/optimizer_weights/Adam/iter:0",
                        "/optimizer_weights/Adam/quant_conv2d/kernel/v:0", "/iterations_alias",
                        "/model_weights/quant_conv2d/quant_conv2d/kernel:0"})
    EXPECT_TRUE(a.objects.count(p)) << p;
  for (const char* p : {"/@training_config", "/@keras_version", "/@backend", "/optimizer_weights@weight_names",
                        "/model_weights@layer_names", "/optimizer_weights/Adam/iter:0@note"})
    EXPECT_TRUE(a.attrs.count(p)) << p;
  expect_same_except_model_config(a, b);
  // The model_config attribute keeps its type (variable-length, ASCII) ...
  const std::string ta = a.attrs.at("/@model_config"), tb = b.attrs.at("/@model_config");
  EXPECT_EQ(ta.substr(0, ta.find('|')), tb.substr(0, tb.find('|')));
  // ... and only the two pad_values differ.
  expect_only_pad_values_differ(json::parse(root_string(src, "model_config")),
                                json::parse(root_string(out, "model_config")),
                                {{"quant_conv2d", 0.0}, {"quant_conv2d_1", 0.0}});
  EXPECT_EQ(root_string(out, "keras_version"), "2.13.1");
  EXPECT_EQ(json::parse(root_string(out, "training_config")), json::parse(kTrainingConfig));

  // And it loads, with the new values.
  auto m = bitlens::load_model(out);
  EXPECT_EQ(m.keras_version, "2.13.1");
  EXPECT_EQ(m.find("quant_conv2d")->config["pad_values"], 0.0);
  EXPECT_EQ(m.find("quant_conv2d_1")->config["pad_values"], 0.0);
}

TEST(ModelVariant, OneLayerChangeTouchesOnlyThatLayer) {
  TempDir dir;
  const fs::path src = write_compiled_h5(dir);
  const fs::path out = dir / "variant.h5";
  bitlens::write_variant(src, with_pad(src, -1.0, "quant_conv2d_1"), out);
  expect_same_except_model_config(walk_file(src), walk_file(out));
  expect_only_pad_values_differ(json::parse(root_string(src, "model_config")),
                                json::parse(root_string(out, "model_config")), {{"quant_conv2d_1", -1.0}});
}

TEST(ModelVariant, FixedLengthModelConfigStaysFixedLength) {
  TempDir dir;
  const fs::path src = write_compiled_h5(dir, true);
  const fs::path out = dir / "variant.h5";
  bitlens::write_variant(src, with_pad(src, 0.0), out);
  expect_same_except_model_config(walk_file(src), walk_file(out));
  auto lock = bitlens::io::h5_lock();
  Handle f = bitlens::io::open_file(out);
  Handle a(H5Aopen_by_name(f.get(), "/", "model_config", H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  ASSERT_TRUE(a);
  Handle t(H5Aget_type(a.get()), H5Tclose);
  EXPECT_EQ(H5Tget_class(t.get()), H5T_STRING);
  EXPECT_EQ(H5Tis_variable_str(t.get()), 0);
  EXPECT_EQ(H5Tget_cset(t.get()), H5T_CSET_UTF8);
  EXPECT_EQ(H5Tget_strpad(t.get()), H5T_STR_NULLPAD);
  std::string text = bitlens::io::read_string_attr(f.get(), "model_config", 1 << 24);
  EXPECT_EQ(H5Tget_size(t.get()), text.size()) << "sized to the new text, no stale tail";
  expect_only_pad_values_differ(json::parse(root_string(src, "model_config")), json::parse(text),
                                {{"quant_conv2d", 0.0}, {"quant_conv2d_1", 0.0}});
}

TEST(ModelVariant, UnchangedValuesCopyModelConfigVerbatim) {
  TempDir dir;
  const fs::path src = write_compiled_h5(dir);
  const fs::path out = dir / "variant.h5";
  bitlens::write_variant(src, with_pad(src, 1), out);  // already 1.0
  const Walk a = walk_file(src), b = walk_file(out);
  expect_same_except_model_config(a, b);
  EXPECT_TRUE(a.attrs.at("/@model_config") == b.attrs.at("/@model_config"));
}

// ---- .keras ----

struct Member {
  std::string bytes;
  zip_uint16_t method = 0;
  time_t mtime = 0;
  zip_uint64_t comp_size = 0;
};

std::vector<std::pair<std::string, Member>> zip_members(const fs::path& p) {
  std::vector<std::pair<std::string, Member>> out;
  int err = 0;
  zip_t* z = zip_open(p.c_str(), ZIP_RDONLY, &err);
  EXPECT_NE(z, nullptr) << p;
  if (!z) return out;
  bitlens::io::ZipReader r(p);
  for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    EXPECT_EQ(zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st), 0);
    Member m;
    m.method = st.comp_method;
    m.mtime = st.mtime;
    m.comp_size = st.comp_size;
    m.bytes = r.read(st.name, 1 << 28);
    out.emplace_back(st.name, m);
  }
  zip_discard(z);
  return out;
}

fs::path write_keras_source(const TempDir& dir) {
  const fs::path base = dir / "base.keras", src = dir / "src.keras";
  bitlens::write_model_keras(larq_model(), base, "3.4.1");
  std::vector<std::pair<std::string, std::string>> members;
  for (auto& [name, m] : zip_members(base)) members.emplace_back(name, m.bytes);
  members.emplace_back("assets/vocabulary.txt", "a\nb\nc\n");
  bitlens::io::write_zip(src, members);
  fs::remove(base);
  return src;
}

TEST(ModelVariant, KerasZipKeepsEveryMemberExceptConfigJson) {
  TempDir dir;
  const fs::path src = write_keras_source(dir);
  const fs::path out = dir / "variant.keras";
  bitlens::write_variant(src, with_pad(src, 0.0), out);
  EXPECT_EQ(dir_entries(dir.path()), (std::vector<std::string>{"src.keras", "variant.keras"}));
  const auto a = zip_members(src), b = zip_members(out);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].first);
    EXPECT_EQ(b[i].first, a[i].first);
    EXPECT_EQ(b[i].second.method, a[i].second.method);
    EXPECT_EQ(b[i].second.mtime, a[i].second.mtime);
    if (a[i].first == "config.json") {
      expect_only_pad_values_differ(json::parse(a[i].second.bytes), json::parse(b[i].second.bytes),
                                    {{"quant_conv2d", 0.0}, {"quant_conv2d_1", 0.0}});
    } else {
      EXPECT_TRUE(b[i].second.bytes == a[i].second.bytes);
      EXPECT_EQ(b[i].second.comp_size, a[i].second.comp_size);
    }
  }
  auto m = bitlens::load_model(out);
  EXPECT_EQ(m.keras_version, "3.4.1");
  EXPECT_EQ(m.find("quant_conv2d_1")->config["pad_values"], 0.0);
}

TEST(ModelVariant, RefusesToChangeTheContainerAndLeavesNothingBehind) {
  TempDir dir;
  const fs::path keras = write_keras_source(dir);
  const fs::path h5 = write_compiled_h5(dir);
  std::string e1 = error_of([&] { bitlens::write_variant(keras, with_pad(keras, 0.0), dir / "v.h5"); });
  EXPECT_NE(e1.find(keras.string()), std::string::npos) << e1;
  EXPECT_NE(e1.find(".keras"), std::string::npos) << e1;
  std::string e2 = error_of([&] { bitlens::write_variant(h5, with_pad(h5, 0.0), dir / "v.keras"); });
  EXPECT_NE(e2.find(h5.string()), std::string::npos) << e2;
  EXPECT_NE(e2.find(".h5"), std::string::npos) << e2;
  // A model whose layers no longer match the file fails before anything is left in the folder.
  bitlens::Model renamed = with_pad(h5, 0.0);
  renamed.find("quant_conv2d")->config["name"] = "renamed";
  std::string e3 = error_of([&] { bitlens::write_variant(h5, renamed, dir / "v.h5"); });
  EXPECT_NE(e3.find("only change config values"), std::string::npos) << e3;
  EXPECT_EQ(dir_entries(dir.path()), (std::vector<std::string>{"src.h5", "src.keras"}));
  // The output folder must exist.
  std::string e4 = error_of([&] { bitlens::write_variant(h5, with_pad(h5, 0.0), dir / "missing" / "v.h5"); });
  EXPECT_NE(e4.find("temporary file"), std::string::npos) << e4;
}

TEST(ModelVariant, ConfigTextKeepsKeyOrder) {
  // The patched text keeps the source's key order ("b" before "a"), not nlohmann's sorted order.
  bitlens::Model m;
  m.layers.push_back({});
  m.layers[0].name = "q";
  m.layers[0].class_name = "QuantConv2D";
  m.layers[0].config = {{"name", "q"}, {"pad_values", 0.0}, {"b", 1}, {"a", 2}};
  const std::string text =
      R"({"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "QuantConv2D", )"
      R"("config": {"name": "q", "b": 1, "pad_values": 1.0, "a": 2}}]}})";
  auto out = bitlens::variant_config_text(text, m);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, R"({"class_name":"Sequential","config":{"name":"s","layers":[{"class_name":"QuantConv2D",)"
                  R"("config":{"name":"q","b":1,"pad_values":0.0,"a":2}}]}})");
  m.layers[0].config["pad_values"] = 1;
  EXPECT_FALSE(bitlens::variant_config_text(text, m).has_value());
}

}  // namespace
