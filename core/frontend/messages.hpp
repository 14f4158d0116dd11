// Advice the frontend's errors end with, worded once.
#pragma once

namespace bitlens::frontend {

// For a file that Keras itself would write differently (or that is damaged): re-saving it with
// the user's Keras rewrites every attribute the loader reads.
inline constexpr const char kResave[] = "re-save the model with model.save(\"m.h5\")";
inline constexpr const char kResaveKeras[] = "re-save the model with model.save(\"m.keras\")";

}  // namespace bitlens::frontend
