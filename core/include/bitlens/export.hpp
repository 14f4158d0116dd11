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

// Writes `files` under `dir`. A missing or empty `dir` is created by writing everything into a
// temporary sibling directory that is then renamed into place. A non-empty `dir` is refused
// unless `force`; with `force` the files are still written to the temporary directory first,
// then each is moved over its destination (files of `dir` that are not part of the project are
// left alone; nothing is deleted that export did not create). Throws ModelError.
void write_project(const std::vector<GeneratedFile>& files, const std::filesystem::path& dir, bool force);

// The files of `dir` (recursive, relative paths) for tests and messages.
std::vector<std::string> list_files(const std::filesystem::path& dir);

}  // namespace bitlens
