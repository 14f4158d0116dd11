// `bitlens validate`: builds and runs the generated code (host or QEMU) and compares it with the
// host runtime and the reference interpreter. Exit 0 match, 1 mismatch, 2 unusable model/tools.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "bitlens/limits.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/runtime.hpp"
#include "bitlens/validate.hpp"
#include "commands.hpp"

namespace bitlens::cli {

int cmd_validate(const std::vector<std::string>& args) {
  std::string model_file;
  std::vector<std::string> input_files;
  bool random = false;
  uint64_t seed = 0;
  int batch = 2;
  ValidateOptions vo;
  CompileOptions opt;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--target") {
      const std::string t = take_value(args, i);
      if (t == "host") vo.target = ValidateTarget::Host;
      else if (t == "qemu-m4") vo.target = ValidateTarget::QemuM4;
      else if (t == "qemu-m7") vo.target = ValidateTarget::QemuM7;
      else usage_error("--target must be host, qemu-m4 or qemu-m7");
    } else if (a == "--input") {
      input_files.push_back(take_value(args, i));
    } else if (a == "--random") {
      random = true;
      const std::string v = take_value(args, i);
      char* end = nullptr;
      seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end) usage_error("--random SEED must be a non-negative integer");
    } else if (a == "--batch") {
      batch = std::atoi(take_value(args, i).c_str());
      if (batch < 1 || batch > 1000) usage_error("--batch must be between 1 and 1000");
    } else if (a == "--name") {
      vo.name = take_value(args, i);
    } else if (a == "--network") {
      vo.network_dir = take_value(args, i);
    } else if (a == "--keep") {
      vo.work_dir = take_value(args, i);
    } else if (!model_command_arg("validate", args, i, opt, model_file)) {
      return 0;
    }
  }
  if (model_file.empty()) usage_error("validate: no MODEL given (see 'bitlens help validate')");
  if (random && !input_files.empty()) usage_error("validate: give either --input FILE or --random SEED, not both");
  if (!random && input_files.empty()) random = true;  // default: --random 0 --batch 2

  std::string current = model_file;
  try {
    const CompileResult c = compile(load_model(model_file), opt);
    if (random) {
      check_host_limits(c, batch, RunKind::Reference);
      vo.inputs = random_inputs(c, seed, batch);
    } else {
      if (input_files.size() != c.graph.inputs.size())
        usage_error("validate: the model has " + std::to_string(c.graph.inputs.size()) + " input(s); give one --input "
                    "file per input, in order");
      for (const auto& f : input_files) {
        current = f;
        vo.inputs.push_back(read_npy(f));
      }
      current = model_file;
      check_inputs(c, vo.inputs);
    }
    const ValidateResult r = validate(c, vo);
    std::cout << validate_text(c, r);
    return r.pass() ? 0 : 1;
  } catch (const std::exception& e) {
    std::string msg = error_text(e);
    if (msg.rfind(current + ": ", 0) == 0) msg = msg.substr(current.size() + 2);
    // Tool failures span several lines (build log); the first line is the error.
    std::fprintf(stderr, "bitlens: error: %s: %s\n", current.c_str(), msg.c_str());
    return 2;
  }
}

}  // namespace bitlens::cli
