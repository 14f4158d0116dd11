// `bitlens export`: a complete, self-contained firmware project for one board (generated network,
// kernel library copy, test application with embedded vectors, board support, Makefile, CMake,
// README), and writing it safely (temporary directory, then moved into place).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "bitlens/boards.hpp"
#include "bitlens/codegen.hpp"

namespace bitlens {

struct ProjectOptions {
  std::string name;            // network name ("" = default_network_name)
  int vectors = 2;             // random test vectors embedded in app/ (used when `inputs` is empty)
  uint64_t seed = 20261125;    // their seed (random_inputs)
  std::vector<Array> inputs;   // explicit test inputs, one Array per model input, shape (N, ...)
};

struct Project {
  NetworkCode network;
  std::vector<GeneratedFile> files;  // every file of the project, network/ included
  FitCheck fit;
  int vectors = 0;
  std::vector<Array> inputs, expected;  // the embedded vectors and the host runtime's outputs
};

// Relative tolerance of float outputs in the test application: |got - want| <= tol * (1 + |want|).
inline constexpr float kFloatOutputTolerance = 1e-5f;

// Builds the project in memory. Throws ModelError (unexportable model, bad options, missing
// data files).
Project make_project(const CompileResult& c, const Board& board, const ProjectOptions& options);

// Writes `files` under `dir`, plus `dir`/.bitlens-manifest listing every file export wrote
// there. Everything is first written into a fresh temporary sibling directory (mkdtemp), so a
// failure leaves `dir` as it was. A missing or empty `dir` is that directory renamed into place.
// A non-empty `dir` is refused unless `force`; with `force` each file is moved over its
// destination, and only files the manifest lists are replaced: a symbolic link anywhere on the
// way (e.g. network/ -> elsewhere), or a file at a project path that BitLens did not write,
// refuses the export before anything is touched. Other files are left alone; nothing is
// deleted. `dir` itself may be a link. Throws ModelError.
void write_project(const std::vector<GeneratedFile>& files, const std::filesystem::path& dir, bool force);

// The files of `dir` (recursive, relative paths) for tests and messages.
std::vector<std::string> list_files(const std::filesystem::path& dir);

}  // namespace bitlens
