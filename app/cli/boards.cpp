// `bitlens boards`: lists the board database (resources/boards/*.json) that export, validate and
// analyze --board use.
#include <cstdio>
#include <iomanip>
#include <iostream>

#include "bitlens/boards.hpp"
#include "commands.hpp"

namespace bitlens::cli {

namespace {

int list_boards(bool as_json);

}  // namespace

Command boards_command(CLI::App& root) {
  auto as_json = std::make_shared<bool>(false);
  CLI::App* cmd = root.add_subcommand("boards", "list the boards export, validate and analyze --board know");
  cmd->footer(
      "Lists the boards (resources/boards/*.json): MCU, core, FPU, flash, RAM, clock and console.\n"
      "'bitlens analyze MODEL --board B' tells whether a model fits one of them.");
  cmd->add_flag("--json", *as_json, "print one JSON document instead");
  return {cmd, [as_json]() -> int { return list_boards(*as_json); }};
}

namespace {

int list_boards(bool as_json) {
  try {
    const auto boards = load_boards();
    if (as_json) {
      json j = json::array();
      for (const auto& b : boards) {
        json regions = json::array();
        for (const auto& r : b.memory)
          regions.push_back({{"name", r.name}, {"kind", r.kind}, {"origin", r.origin}, {"size", r.size}});
        j.push_back({{"id", b.id}, {"description", b.description}, {"mcu", b.mcu}, {"core", b.core}, {"fpu", b.fpu},
                     {"emulated", b.emulated}, {"qemu_machine", b.qemu_machine}, {"clock_hz", b.clock_hz},
                     {"memory", regions}, {"data_region", b.data_region}, {"stack_region", b.stack_region},
                     {"console", b.console}, {"file", b.file.filename().string()}});
      }
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << std::left << std::setw(15) << "board" << std::setw(18) << "MCU" << std::setw(11) << "core"
              << std::setw(12) << "FPU" << std::right << std::setw(10) << "flash" << std::setw(10) << "RAM" << std::setw(9)
              << "clock" << "  console\n";
    for (const auto& b : boards) {
      uint64_t ram = 0;
      for (const auto& r : b.memory)
        if (r.kind == "ram") ram += r.size;
      const std::string con = b.console.value("kind", "") == "uart"
                                  ? b.console.value("uart", "") + " " + b.console.value("tx", "") + "/" +
                                        b.console.value("rx", "") + " (" + b.console.value("via", "") + ")"
                                  : "semihosting, QEMU " + b.qemu_machine;
      std::cout << std::left << std::setw(15) << b.id << std::setw(18) << b.mcu.substr(0, 17) << std::setw(11) << b.core
                << std::setw(12) << b.fpu << std::right << std::setw(10)
                << (std::to_string(b.flash().size / 1024) + " KiB") << std::setw(10) << (std::to_string(ram / 1024) + " KiB")
                << std::setw(9) << (std::to_string(b.clock_hz / 1000000) + " MHz") << "  " << con << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlens: error: boards: %s\n", error_text(e).c_str());
    return 2;
  }
}

}  // namespace

}  // namespace bitlens::cli
