// The board database (resources/boards/*.json): MCU, core, FPU, memory regions, clock and
// console of each supported board, and the check whether a compiled model fits one of them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bitlens/compiler.hpp"

namespace bitlens {

struct MemoryRegion {
  std::string name;  // "FLASH", "AXI_SRAM", ...
  std::string kind;  // "flash" or "ram"
  uint64_t origin = 0;
  uint64_t size = 0;
};

struct Board {
  std::string id;           // "NUCLEO-F446RE", "qemu-m4"
  std::string description;
  std::string mcu;
  std::string core;         // gcc -mcpu value: "cortex-m4", "cortex-m7"
  std::string fpu;          // gcc -mfpu value
  bool emulated = false;
  std::string qemu_machine; // emulated boards only
  int64_t clock_hz = 0;
  std::string clock_source;
  std::vector<MemoryRegion> memory;
  std::string data_region, stack_region;  // names in `memory`
  int64_t stack_bytes = 0, heap_bytes = 0;
  std::string timer;        // "dwt" (cycles) or "systick_icount" (QEMU instruction counts)
  json console;             // kind, uart, pins, registers (see resources/boards/*.json)
  std::filesystem::path file;

  const MemoryRegion& region(const std::string& name) const;
  const MemoryRegion& flash() const;
};

// Where BitLens finds its data files (boards, export templates, kernel sources): the installed
// share/bitlens/<what> next to the running executable, else the source tree it was built from.
// Throws ModelError naming the places it looked.
std::filesystem::path data_path(const std::string& what);

// All boards, sorted by id. Throws ModelError for a malformed board file.
std::vector<Board> load_boards();
// One board by id (case-insensitive). Throws ModelError listing the known ids.
Board find_board(const std::string& id);
// Parses one board file. Throws ModelError naming the file and the field.
Board parse_board(const json& j, const std::filesystem::path& file);

struct FitCheck {
  std::string board;
  // Flash: code estimate + constant weights; RAM: arena + I/O outside it + stack + heap.
  int64_t code_bytes = 0, weight_bytes = 0, flash_needed = 0, flash_available = 0;
  int64_t arena_bytes = 0, io_bytes = 0, stack_bytes = 0, heap_bytes = 0, ram_needed = 0, ram_available = 0;
  std::string flash_region, ram_region;
  bool flash_fits = false, ram_fits = false;
  bool fits() const { return flash_fits && ram_fits; }
  std::vector<std::string> advice;  // what to change when it does not fit
};

// Estimated code size of the network and its kernels (bytes): the kernel library's measured
// size plus a per-step and fixed allowance (see boards.cpp).
int64_t code_size_estimate(const CompileResult& c);
FitCheck check_fit(const CompileResult& c, const Board& board);
std::string fit_text(const FitCheck& f);
json fit_json(const FitCheck& f);

}  // namespace bitlens
