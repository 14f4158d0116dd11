// What the loader needs from an HDF5 file, read by the isolated reader (core/reader/main.cpp)
// and handed to the loader as bytes (loader.cpp defines the format; both sides are this build).
#pragma once

#include <filesystem>
#include <string>

#include "bitlens/model.hpp"

namespace bitlens::frontend {

// mode "h5": a legacy .h5 file; mode "keras": the model.weights.h5 inside a .keras archive.
// Reads in this process and returns the serialized snapshot. Throws ModelError.
std::string hdf5_snapshot_bytes(const std::string& mode, const std::filesystem::path& file,
                                const LoadLimits& limits);

// mode "copy-h5": writes `out` as a copy of the legacy .h5 `source` whose model_config has
// `changes` (a JSON Patch, variant_config_changes) applied; every other object and attribute
// is copied as stored (write_variant). Throws ModelError.
void copy_h5_with_changes(const std::filesystem::path& source, const std::filesystem::path& out,
                          const json& changes);

}  // namespace bitlens::frontend
