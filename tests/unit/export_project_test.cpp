// Export project tests: safe writing (refuses a non-empty directory, --force, temporary
// directory + rename, never deletes other files), the CLI commands, the board database and fit
// checks, and every bundled model exported for every board and built with -Werror (link
// succeeds exactly when analyze says the model fits).
#include <gtest/gtest.h>

#include <map>

#include "bitlens/export.hpp"
#include "export_test_util.hpp"

using namespace bitlens;
using namespace export_test;

namespace {

Cmd cli(const std::string& args) { return sh(std::string(BITLENS_CLI) + " " + args); }

}  // namespace

TEST(ExportWrite, RefusesNonEmptyDirUnlessForcedAndKeepsOtherFiles) {
  const fs::path root = fresh_dir("write");
  const std::vector<GeneratedFile> files = {{"a.txt", "one"}, {"sub/b.txt", "two"}};
  // A missing directory is created (via a temporary sibling, renamed into place).
  write_project(files, root / "p", false);
  EXPECT_EQ(list_files(root / "p"), (std::vector<std::string>{".bitlens-manifest", "a.txt", "sub/b.txt"}));
  EXPECT_NE(read(root / "p" / ".bitlens-manifest").find("\na.txt\nsub/b.txt\n"), std::string::npos);
  // An existing empty directory is fine too.
  fs::create_directories(root / "empty");
  write_project(files, root / "empty", false);
  EXPECT_EQ(read(root / "empty" / "sub/b.txt"), "two");
  // Non-empty: refused, nothing touched.
  write(root / "p" / "mine.c", "user file");
  write(root / "p" / "a.txt", "edited");
  EXPECT_THROW(write_project(files, root / "p", false), ModelError);
  EXPECT_EQ(read(root / "p" / "a.txt"), "edited");
  // --force: project files replaced, the user's file left alone.
  write_project(files, root / "p", true);
  EXPECT_EQ(read(root / "p" / "a.txt"), "one");
  EXPECT_EQ(read(root / "p" / "mine.c"), "user file");
  // No temporary directory is left behind.
  for (const auto& e : fs::directory_iterator(root))
    EXPECT_EQ(e.path().filename().string().find("bitlens-tmp"), std::string::npos) << e.path();
  // A file where the directory should be.
  write(root / "file", "x");
  EXPECT_THROW(write_project(files, root / "file", true), ModelError);
}

TEST(ExportWrite, ForceNeverWritesThroughLinksOrOverForeignFiles) {
  const fs::path root = fresh_dir("links");
  const std::vector<GeneratedFile> files = {{"Makefile", "all:"}, {"network/n.c", "int x;"}};
  write_project(files, root / "p", false);
  // A planted link: network/ -> a directory outside --out.
  fs::create_directories(root / "outside");
  write(root / "outside" / "n.c", "victim");
  fs::remove_all(root / "p" / "network");
  fs::create_directory_symlink(root / "outside", root / "p" / "network");
  try {
    write_project(files, root / "p", true);
    ADD_FAILURE() << "a link inside --out must refuse the export";
  } catch (const ModelError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find((root / "p" / "network").string() + " is a symbolic link"), std::string::npos) << m;
  }
  EXPECT_EQ(read(root / "outside" / "n.c"), "victim");
  EXPECT_EQ(list_files(root / "outside"), (std::vector<std::string>{"n.c"}));
  EXPECT_EQ(read(root / "p" / "Makefile"), "all:") << "refused before anything is touched";

  // A link in place of a file.
  fs::remove(root / "p" / "network");
  fs::create_directories(root / "p" / "network");
  write(root / "p" / "network" / "n.c", "int x;");
  fs::remove(root / "p" / "Makefile");
  fs::create_symlink(root / "outside" / "n.c", root / "p" / "Makefile");
  EXPECT_THROW(write_project(files, root / "p", true), ModelError);
  EXPECT_EQ(read(root / "outside" / "n.c"), "victim");

  // A file BitLens did not write (no manifest lists it) at a project path.
  const fs::path q = root / "q";
  fs::create_directories(q);
  write(q / "Makefile", "the user's own");
  try {
    write_project(files, q, true);
    ADD_FAILURE() << "a foreign file at a project path must refuse the export";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("which BitLens did not write"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read(q / "Makefile"), "the user's own");
  EXPECT_FALSE(fs::exists(q / "network"));

  // --out itself may be a link (the user chose it): written where it points.
  fs::create_directories(root / "real");
  fs::create_directory_symlink(root / "real", root / "alias");
  write_project(files, root / "alias", false);
  EXPECT_EQ(read(root / "real" / "network" / "n.c"), "int x;");
  EXPECT_TRUE(fs::is_symlink(root / "alias"));
  for (const auto& e : fs::directory_iterator(root))
    EXPECT_EQ(e.path().filename().string().find("bitlens-tmp"), std::string::npos) << e.path();
}

TEST(ExportCli, ExportRefusesNonEmptyDirAndForceWorks) {
  const fs::path root = fresh_dir("cli");
  const std::string m = model("forum_1layer_padp1.h5");
  auto r = cli("export " + m + " --board qemu-m4 --out " + (root / "p").string() + " --vectors 1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("the model fits"), std::string::npos) << r.out;
  const auto files = list_files(root / "p");
  for (const char* f : {"network/forum_1layer_padp1.c", "network/forum_1layer_padp1.h", "network/forum_1layer_padp1_data.c",
                        "bitlens/include/bitlens/bl_kernels.h", "bitlens/src/bconv2d.c", "app/main.c",
                        "app/test_vectors.c", "board/startup.c", "board/linker.ld", "board/board.c", "Makefile",
                        "CMakeLists.txt", "cmake/arm-none-eabi.cmake", "README.md"})
    EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << f;
  write(root / "p" / "notes.txt", "keep me");
  r = cli("export " + m + " --board qemu-m4 --out " + (root / "p").string());
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("not empty"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--force"), std::string::npos) << r.out;
  r = cli("export " + m + " --board qemu-m4 --out " + (root / "p").string() + " --force --name other");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read(root / "p" / "notes.txt"), "keep me");
  EXPECT_TRUE(fs::exists(root / "p" / "network" / "other.c"));
  EXPECT_TRUE(fs::exists(root / "p" / "network" / "forum_1layer_padp1.c")) << "export never deletes files";
  // Unknown board: exit 2 naming the known ones.
  r = cli("export " + m + " --board NUCLEO-XYZ --out " + (root / "q").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("NUCLEO-F446RE"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root / "q"));
}

TEST(ExportBoards, DatabaseListsAllBoards) {
  const auto boards = load_boards();
  std::set<std::string> ids;
  for (const auto& b : boards) ids.insert(b.id);
  EXPECT_EQ(ids, (std::set<std::string>{"NUCLEO-F446RE", "NUCLEO-F746ZG", "NUCLEO-H743ZI", "NUCLEO-L476RG", "qemu-m4",
                                        "qemu-m7"}));
  EXPECT_EQ(find_board("qemu-m4").qemu_machine, "mps2-an386");
  EXPECT_EQ(find_board("QEMU-M7").qemu_machine, "mps2-an500");
  EXPECT_EQ(find_board("nucleo-h743zi").core, "cortex-m7");
  EXPECT_THROW(find_board("arduino"), ModelError);
  const auto r = cli("boards");
  EXPECT_EQ(r.status, 0);
  for (const auto& id : ids) EXPECT_NE(r.out.find(id), std::string::npos) << id;
  EXPECT_THROW(parse_board(json{{"id", "x"}}, "x.json"), ModelError);
}

TEST(ExportFit, ForumTwoLayerFitsEveryBoard) {
  const auto c = compiled("forum_2layer_pad0.h5");
  for (const auto& b : load_boards()) {
    const auto f = check_fit(c, b);
    EXPECT_TRUE(f.fits()) << fit_text(f);
    EXPECT_TRUE(f.advice.empty());
  }
}

TEST(ExportFit, AnalyzeBoardReportsLargeModelTooBigForL476) {
  auto r = cli("analyze " + model("large_binary.h5") + " --board NUCLEO-L476RG");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Board NUCLEO-L476RG: the model does NOT fit"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SHORT by"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("boards where it fits: NUCLEO-H743ZI"), std::string::npos) << r.out;
  r = cli("analyze " + model("large_binary.h5") + " --board NUCLEO-L476RG --json");
  ASSERT_EQ(r.status, 0);
  const json j = json::parse(r.out);
  EXPECT_FALSE(j["fit"]["fits"].get<bool>());
  EXPECT_FALSE(j["fit"]["flash"]["fits"].get<bool>());
  EXPECT_TRUE(j["fit"]["ram"]["fits"].get<bool>());
  r = cli("analyze " + model("large_binary.h5") + " --board NUCLEO-H743ZI");
  EXPECT_NE(r.out.find("Board NUCLEO-H743ZI: the model fits"), std::string::npos) << r.out;
  EXPECT_EQ(cli("analyze " + model("large_binary.h5") + " --board nope").status, 2);
}

// Every bundled model for every board: the project's sources compile with the board's flags and
// -Wall -Wextra -Werror -pedantic, and link with its linker script. The kernel library is the
// same for every project of one CPU/FPU, so it is compiled once per CPU/FPU (the full `make`
// path is exercised by export_qemu_test). The link succeeds exactly when check_fit says the
// model fits; large_binary.h5 (1.2 MB of weights) is built for H743 (fits) and L476 (does not).
TEST(ExportBuild, EveryBundledModelForEveryBoard) {
  if (!have("arm-none-eabi-gcc")) GTEST_SKIP() << "arm-none-eabi-gcc not installed (gcc-arm-none-eabi)";
  const fs::path root = fresh_dir("all");
  std::map<std::string, fs::path> kernel_objs;  // "cpu fpu" -> dir of objects
  const std::string kernels = std::string(BITLENS_SOURCE_DIR) + "/kernels";
  for (const auto& b : load_boards()) {
    const std::string key = b.core + "_" + b.fpu;
    if (kernel_objs.count(key)) continue;
    const fs::path d = root / ("kernels_" + key);
    fs::create_directories(d);
    const std::string flags = "-mcpu=" + b.core + " -mthumb -mfpu=" + b.fpu +
                              " -mfloat-abi=hard -std=c99 -O2 -ffp-contract=off -Wall -Wextra -Werror -pedantic "
                              "-ffunction-sections -fdata-sections -I" + kernels + "/include";
    const auto r = sh("cd " + d.string() + " && for f in " + kernels + "/src/*.c; do arm-none-eabi-gcc " + flags +
                      " -c $f -o $(basename $f .c).o || exit 1; done");
    ASSERT_EQ(r.status, 0) << r.out;
    kernel_objs[key] = d;
  }
  const std::vector<std::string> models = {"forum_1layer_padm1.h5", "forum_1layer_pad0.h5", "forum_1layer_padp1.h5",
                                           "forum_2layer_padm1.h5", "forum_2layer_pad0.h5", "forum_2layer_padp1.h5",
                                           "mnist_tutorial.h5",     "quicknet_style.h5",    "large_binary.h5"};
  int built = 0, refused = 0;
  for (const auto& m : models) {
    const auto c = compiled(m);
    for (const auto& b : load_boards()) {
      if (m == "large_binary.h5" && b.id != "NUCLEO-H743ZI" && b.id != "NUCLEO-L476RG") continue;
      ProjectOptions po;
      po.vectors = 1;
      const Project p = make_project(c, b, po);
      const fs::path d = root / (p.network.name + "_" + b.id);
      write_project(p.files, d, false);
      const std::string flags = "-mcpu=" + b.core + " -mthumb -mfpu=" + b.fpu +
                                " -mfloat-abi=hard -std=c99 -O2 -ffp-contract=off -Wall -Wextra -Werror -pedantic "
                                "-ffunction-sections -fdata-sections -Inetwork -Ibitlens/include -Iapp -Iboard";
      const std::string specs = b.emulated ? "--specs=rdimon.specs" : "--specs=nano.specs --specs=nosys.specs";
      const auto cc = sh("cd " + d.string() + " && for f in network/*.c app/*.c board/*.c; do arm-none-eabi-gcc " + flags +
                         " -c $f -o $f.o || exit 1; done");
      ASSERT_EQ(cc.status, 0) << m << " for " << b.id << ":\n" << cc.out;
      const auto ld = sh("cd " + d.string() + " && arm-none-eabi-gcc -mcpu=" + b.core + " -mthumb -mfpu=" + b.fpu +
                         " -mfloat-abi=hard -T board/linker.ld -Wl,--gc-sections " + specs + " network/*.o app/*.o board/*.o " +
                         kernel_objs[b.core + "_" + b.fpu].string() + "/*.o -lm -o fw.elf");
      EXPECT_EQ(ld.status == 0, p.fit.fits()) << m << " for " << b.id << ": link " << (ld.status == 0 ? "ok" : "failed")
                                              << " but the fit check says " << fit_text(p.fit) << ld.out;
      (ld.status == 0 ? built : refused)++;
      if (ld.status != 0) {
        EXPECT_NE(ld.out.find("overflow"), std::string::npos) << ld.out;
      }
      fs::remove_all(d);  // large data files: keep the temp dir small
    }
  }
  EXPECT_GE(built, 40);
  EXPECT_GE(refused, 1);  // large_binary on L476 (flash); quicknet_style (65 KiB of RAM) fits its 96 KiB
}
