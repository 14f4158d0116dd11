// Board database: reads resources/boards/*.json, locates BitLens' data files, and checks whether
// a compiled model fits a board (flash: code estimate + weights; RAM: arena + stack + heap).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "bitlens/format.hpp"
#include "bitlens/boards.hpp"

#ifndef BITLENS_CORE_SOURCE_TREE
#error "BITLENS_CORE_SOURCE_TREE must name the source tree (set in core/CMakeLists.txt)"
#endif

namespace bitlens {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

fs::path executable_dir() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p.parent_path();
}

// The marker file each data directory must contain, so a half-installed tree is not used.
const char* marker(const std::string& what) {
  if (what == "kernels") return "include/bitlens/bl_kernels.h";
  if (what == "boards") return "qemu-m4.json";
  if (what == "export") return "app/main.c";
  return "";
}

uint64_t number(const json& j, const std::string& key, const fs::path& file) {
  if (!j.contains(key)) throw ModelError(file.string() + ": board field '" + key + "' is missing");
  const json& v = j.at(key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    const unsigned long long x = std::strtoull(s.c_str(), &end, 0);
    if (!s.empty() && *end == '\0') return x;
  }
  throw ModelError(file.string() + ": board field '" + key + "' must be a non-negative number or \"0x...\" string");
}

std::string text(const json& j, const std::string& key, const fs::path& file, bool required = true) {
  if (!j.contains(key)) {
    if (required) throw ModelError(file.string() + ": board field '" + key + "' is missing");
    return "";
  }
  if (!j.at(key).is_string()) throw ModelError(file.string() + ": board field '" + key + "' must be a string");
  return j.at(key).get<std::string>();
}

std::string kib(int64_t b) {
  std::ostringstream s;
  if (b % 1024 == 0) s << b / 1024 << " KiB";
  else s << with_commas(b) << " B";
  return s.str();
}

}  // namespace

const MemoryRegion& Board::region(const std::string& name) const {
  for (const auto& r : memory)
    if (r.name == name) return r;
  throw ModelError(file.string() + ": board has no memory region '" + name + "'");
}

const MemoryRegion& Board::flash() const {
  for (const auto& r : memory)
    if (r.kind == "flash") return r;
  throw ModelError(file.string() + ": board has no flash region");
}

fs::path data_path(const std::string& what) {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("BITLENS_DATA_DIR"); env && *env) candidates.push_back(fs::path(env) / what);
  const fs::path exe = executable_dir();
  if (!exe.empty()) candidates.push_back(exe.parent_path() / "share" / "bitlens" / what);
  const fs::path src = BITLENS_CORE_SOURCE_TREE;
  candidates.push_back(what == "kernels" ? src / "kernels" : src / "resources" / what);
  std::string tried;
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c / marker(what), ec)) return c;
    tried += (tried.empty() ? "" : ", ") + c.string();
  }
  throw ModelError("BitLens data directory '" + what + "' not found (looked in " + tried +
                   "); reinstall BitLens or set BITLENS_DATA_DIR to its share/bitlens directory");
}

Board parse_board(const json& j, const fs::path& file) {
  if (!j.is_object()) throw ModelError(file.string() + ": a board file must hold one JSON object");
  Board b;
  b.file = file;
  b.id = text(j, "id", file);
  b.description = text(j, "description", file);
  b.mcu = text(j, "mcu", file);
  b.core = text(j, "core", file);
  b.fpu = text(j, "fpu", file);
  if (b.core != "cortex-m4" && b.core != "cortex-m7")
    throw ModelError(file.string() + ": core '" + b.core + "' is not supported (cortex-m4, cortex-m7)");
  b.emulated = j.value("emulated", false);
  b.qemu_machine = text(j, "qemu_machine", file, b.emulated);
  b.clock_hz = static_cast<int64_t>(number(j, "clock_hz", file));
  b.clock_source = text(j, "clock_source", file);
  if (!j.contains("memory") || !j["memory"].is_array() || j["memory"].empty())
    throw ModelError(file.string() + ": board field 'memory' must be a non-empty array of regions");
  for (const auto& r : j["memory"]) {
    MemoryRegion m;
    m.name = text(r, "name", file);
    m.kind = text(r, "kind", file);
    if (m.kind != "flash" && m.kind != "ram")
      throw ModelError(file.string() + ": memory region '" + m.name + "' has kind '" + m.kind + "' (flash or ram)");
    m.origin = number(r, "origin", file);
    m.size = number(r, "size", file);
    b.memory.push_back(m);
  }
  b.data_region = text(j, "data_region", file);
  b.stack_region = text(j, "stack_region", file);
  b.stack_bytes = static_cast<int64_t>(number(j, "stack_bytes", file));
  b.heap_bytes = static_cast<int64_t>(number(j, "heap_bytes", file));
  b.timer = text(j, "timer", file);
  if (b.timer != "dwt" && b.timer != "systick_icount")
    throw ModelError(file.string() + ": timer '" + b.timer + "' is not supported (dwt, systick_icount)");
  b.flash();
  if (b.region(b.data_region).kind != "ram" || b.region(b.stack_region).kind != "ram")
    throw ModelError(file.string() + ": data_region and stack_region must name ram regions");
  if (!j.contains("console") || !j["console"].is_object()) throw ModelError(file.string() + ": board field 'console' is missing");
  b.console = j["console"];
  const std::string kind = text(b.console, "kind", file);
  if (kind == "uart") {
    for (const char* k : {"uart", "tx", "rx", "uart_regs", "via"}) text(b.console, k, file);
    for (const char* k : {"af", "baud", "uart_base", "uart_clock_hz", "gpio_base"}) number(b.console, k, file);
    for (const char* k : {"gpio_enable", "uart_enable"}) {
      if (!b.console.contains(k)) throw ModelError(file.string() + ": console field '" + k + "' is missing");
      number(b.console[k], "reg", file);
      number(b.console[k], "bit", file);
    }
    const std::string regs = text(b.console, "uart_regs", file);
    if (regs != "isr_tdr" && regs != "sr_dr")
      throw ModelError(file.string() + ": console uart_regs '" + regs + "' must be isr_tdr or sr_dr");
  } else if (kind != "semihosting") {
    throw ModelError(file.string() + ": console kind '" + kind + "' must be uart or semihosting");
  }
  return b;
}

std::vector<Board> load_boards() {
  const fs::path dir = data_path("boards");
  std::vector<Board> boards;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& ex) {
      throw ModelError(e.path().string() + ": not valid JSON (" + ex.what() + ")");
    }
    boards.push_back(parse_board(j, e.path()));
  }
  std::sort(boards.begin(), boards.end(), [](const Board& a, const Board& b) { return a.id < b.id; });
  return boards;
}

Board find_board(const std::string& id) {
  const auto boards = load_boards();
  std::string ids;
  for (const auto& b : boards) {
    if (lower(b.id) == lower(id)) return b;
    ids += (ids.empty() ? "" : ", ") + b.id;
  }
  throw ModelError("unknown board '" + id + "'; known boards: " + ids + " (see 'bitlens boards')");
}

// Measured with arm-none-eabi-gcc 12.2 -O2 -mthumb: the whole kernel library (every kernel and
// its reference twin, bl_expf/bl_tanhf included) is 22,984 B of code for Cortex-M4. Only the
// kernels a model calls are linked (--gc-sections), so the library size is an upper bound.
// Each step's generated call (parameter set-up, call, check) takes 100-200 B; the API,
// start-up, board set-up and the C library's console output take a few KiB.
int64_t code_size_estimate(const CompileResult& c) {
  constexpr int64_t kKernelLibrary = 23040, kPerStep = 192, kFixed = 6144;
  return kKernelLibrary + kFixed + kPerStep * static_cast<int64_t>(c.schedule.size());
}

FitCheck check_fit(const CompileResult& c, const Board& board) {
  FitCheck f;
  f.board = board.id;
  const MemoryRegion& flash = board.flash();
  const MemoryRegion& data = board.region(board.data_region);
  const MemoryRegion& stack = board.region(board.stack_region);
  f.flash_region = flash.name;
  f.code_bytes = code_size_estimate(c);
  f.weight_bytes = c.totals.rom_bytes;
  f.flash_needed = f.code_bytes + f.weight_bytes;
  f.flash_available = static_cast<int64_t>(flash.size);
  f.flash_fits = f.flash_needed <= f.flash_available;
  f.arena_bytes = c.plan.arena_bytes;
  f.io_bytes = c.totals.io_bytes;
  f.stack_bytes = board.stack_bytes;
  f.heap_bytes = board.heap_bytes;
  f.ram_needed = f.arena_bytes + f.io_bytes + f.stack_bytes + f.heap_bytes;
  const bool split = board.stack_region != board.data_region;
  f.ram_region = split ? data.name + " + " + stack.name : data.name;
  f.ram_available = static_cast<int64_t>(data.size) + (split ? static_cast<int64_t>(stack.size) : 0);
  // With a separate stack region each region must hold its own part.
  const int64_t in_data = f.arena_bytes + f.io_bytes + f.heap_bytes + (split ? 0 : f.stack_bytes);
  f.ram_fits = in_data <= static_cast<int64_t>(data.size) && (!split || f.stack_bytes <= static_cast<int64_t>(stack.size));

  if (!f.fits()) {
    std::vector<std::string> others;
    try {
      for (const auto& b : load_boards()) {
        if (b.id == board.id || b.emulated) continue;
        const FitCheck o = [&] {
          FitCheck x;
          const int64_t need_flash = f.flash_needed;
          const MemoryRegion& d = b.region(b.data_region);
          const bool sp = b.stack_region != b.data_region;
          x.flash_fits = need_flash <= static_cast<int64_t>(b.flash().size);
          x.ram_fits = f.arena_bytes + f.io_bytes + b.heap_bytes + (sp ? 0 : b.stack_bytes) <= static_cast<int64_t>(d.size);
          return x;
        }();
        if (o.fits()) others.push_back(b.id);
      }
    } catch (const ModelError&) {
    }
    std::string alt;
    for (const auto& o : others) alt += (alt.empty() ? "" : ", ") + o;
    if (!f.flash_fits) {
      // The largest constant arrays are where flash can be won.
      const Node* big = nullptr;
      bool has_float = false;
      for (const auto& n : c.graph.nodes) {
        if (n.removed) continue;
        if (!big || n.rom_bytes > big->rom_bytes) big = &n;
        has_float |= n.decision.kernel == KernelClass::Float && n.rom_bytes > 0;
      }
      std::string a = "flash: short by " + with_commas(f.flash_needed - f.flash_available) + " B; the weights take " +
                      with_commas(f.weight_bytes) + " B";
      if (big && big->rom_bytes > 0)
        a += ", most of them in layer '" + big->name + "' (" + with_commas(big->rom_bytes) + " B): give it fewer filters or units";
      if (has_float) a += "; float layers store 32 bits per weight: make them binary (Larq quantizers) to store 1 bit";
      f.advice.push_back(a);
    }
    if (!f.ram_fits) {
      std::string a = "RAM: needs " + with_commas(f.ram_needed) + " B (arena " + with_commas(f.arena_bytes) + " B, stack " +
                      with_commas(f.stack_bytes) + " B, heap " + with_commas(f.heap_bytes) + " B) in " + f.ram_region +
                      "; the arena cannot be smaller than " + with_commas(c.plan.lower_bound_bytes) +
                      " B for this model: reduce the largest activations (fewer channels, an earlier stride or pooling, "
                      "bit-packed (binary) tensors instead of float ones), or pass a caller-provided arena in external RAM";
      f.advice.push_back(a);
    }
    f.advice.push_back(alt.empty() ? "no listed board has enough memory" : "boards where it fits: " + alt);
  }
  return f;
}

std::string fit_text(const FitCheck& f) {
  std::ostringstream s;
  auto pct = [](int64_t a, int64_t b) {
    std::ostringstream p;
    p.setf(std::ios::fixed);
    p.precision(1);
    p << (b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0) << " %";
    return p.str();
  };
  s << "Board " << f.board << ": " << (f.fits() ? "the model fits" : "the model does NOT fit") << "\n";
  s << "  flash (" << f.flash_region << "): " << with_commas(f.flash_needed) << " B = weights " << with_commas(f.weight_bytes)
    << " B + code estimate " << with_commas(f.code_bytes) << " B, of " << kib(f.flash_available) << " ("
    << pct(f.flash_needed, f.flash_available) << "), "
    << (f.flash_fits ? "margin " + with_commas(f.flash_available - f.flash_needed) + " B"
                     : "SHORT by " + with_commas(f.flash_needed - f.flash_available) + " B")
    << "\n";
  s << "  RAM (" << f.ram_region << "): " << with_commas(f.ram_needed) << " B = arena " << with_commas(f.arena_bytes) << " B";
  if (f.io_bytes) s << " + I/O " << with_commas(f.io_bytes) << " B";
  s << " + stack " << with_commas(f.stack_bytes) << " B + heap " << with_commas(f.heap_bytes) << " B, of "
    << kib(f.ram_available) << " (" << pct(f.ram_needed, f.ram_available) << "), "
    << (f.ram_fits ? "margin " + with_commas(f.ram_available - f.ram_needed) + " B" : std::string("does NOT fit")) << "\n";
  for (const auto& a : f.advice) s << "  - " << a << "\n";
  return s.str();
}

json fit_json(const FitCheck& f) {
  return json{{"board", f.board},
              {"fits", f.fits()},
              {"flash", {{"region", f.flash_region}, {"needed", f.flash_needed}, {"available", f.flash_available},
                         {"weights", f.weight_bytes}, {"code_estimate", f.code_bytes}, {"fits", f.flash_fits}}},
              {"ram", {{"region", f.ram_region}, {"needed", f.ram_needed}, {"available", f.ram_available},
                       {"arena", f.arena_bytes}, {"io", f.io_bytes}, {"stack", f.stack_bytes}, {"heap", f.heap_bytes},
                       {"fits", f.ram_fits}}},
              {"advice", f.advice}};
}

}  // namespace bitlens
