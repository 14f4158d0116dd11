// `bitlens-gui [MODEL] [--screenshot FILE.png [--tab T] [--size WxH] [--select LAYER]]`:
// the desktop app, or a headless render of its window into a PNG (README screenshots, tests).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QIcon>
#include <QTabWidget>
#include <QTimer>
#include <cstdio>

#include "analysis.hpp"
#include "graph/graph_view.hpp"
#include "main_window.hpp"
#include "pages/compare_page.hpp"
#include "pages/graph_page.hpp"

int main(int argc, char** argv) {
  // Screenshots, listings, --help and --version need no display: use the off-screen platform
  // unless the caller chose one.
  for (int i = 1; i < argc; ++i) {
    const QByteArray a(argv[i]);
    const bool headless = a == "--screenshot" || a == "--examples" || a == "--help" || a == "-h" || a == "--version" || a == "-v";
    if (headless && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  }

  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("bitlens-gui"));
  QApplication::setOrganizationName(QStringLiteral("BitLens"));
  QApplication::setApplicationVersion(QStringLiteral(BITLENS_VERSION));
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/bitlens.svg")));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("BitLens: which layers of a Keras/Larq binary network run on exact 1-bit kernels, and why."));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("MODEL"), QStringLiteral("Keras .h5 or .keras model to open"));
  QCommandLineOption shot(QStringLiteral("screenshot"), QStringLiteral("Render the window off-screen into FILE.png and exit."), QStringLiteral("FILE"));
  QCommandLineOption tab(QStringLiteral("tab"), QStringLiteral("Tab to show: graph, report, charts, fallbacks or compare (the model as saved against pad_values -1, 0 and +1)."), QStringLiteral("TAB"), QStringLiteral("graph"));
  QCommandLineOption size(QStringLiteral("size"), QStringLiteral("Window size for the screenshot."), QStringLiteral("WxH"), QStringLiteral("1366x768"));
  QCommandLineOption select(QStringLiteral("select"), QStringLiteral("Select this layer (details panel)."), QStringLiteral("LAYER"));
  QCommandLineOption examples(QStringLiteral("examples"), QStringLiteral("List the bundled example models and exit."));
  QCommandLineOption samples(QStringLiteral("samples"), QStringLiteral("Compare tab: run the variants on these samples (.npy)."), QStringLiteral("X.npy"));
  QCommandLineOption labels(QStringLiteral("labels"), QStringLiteral("Compare tab: their labels (.npy), for accuracy."), QStringLiteral("Y.npy"));
  QCommandLineOption images(QStringLiteral("images"), QStringLiteral("Compare tab: run the variants on an image folder (sub-folders = classes)."), QStringLiteral("DIR"));
  QCommandLineOption scale(QStringLiteral("scale"), QStringLiteral("Compare tab: multiply input values by S."), QStringLiteral("S"), QStringLiteral("1"));
  QCommandLineOption offset(QStringLiteral("offset"), QStringLiteral("Compare tab: then add O."), QStringLiteral("O"), QStringLiteral("0"));
  parser.addOptions({shot, tab, size, select, examples, samples, labels, images, scale, offset});
  parser.process(app);

  if (parser.isSet(examples)) {
    const QDir dir(bitlens::gui::data_dir(QStringLiteral("models")));
    if (dir.path().isEmpty() || !dir.exists()) {
      std::fprintf(stderr, "bitlens-gui: error: no example models next to the program (../share/bitlens/models)\n");
      return 2;
    }
    for (const QString& f : dir.entryList({QStringLiteral("*.h5"), QStringLiteral("*.keras")}, QDir::Files, QDir::Name))
      std::printf("%s\n", qPrintable(dir.filePath(f)));
    return 0;
  }

  const QStringList args = parser.positionalArguments();
  const QString model = args.isEmpty() ? QString() : args.first();
  const QStringList tabs = {QStringLiteral("graph"), QStringLiteral("report"), QStringLiteral("charts"), QStringLiteral("fallbacks"), QStringLiteral("compare")};
  const int tab_index = static_cast<int>(tabs.indexOf(parser.value(tab).toLower()));
  if (tab_index < 0) {
    std::fprintf(stderr, "bitlens-gui: error: --tab must be one of graph, report, charts, fallbacks, compare\n");
    return 2;
  }
  const QStringList wh = parser.value(size).toLower().split(QLatin1Char('x'));
  const int w = wh.size() == 2 ? wh[0].toInt() : 0, h = wh.size() == 2 ? wh[1].toInt() : 0;
  if (w < 200 || h < 150 || w > 10000 || h > 10000) {
    std::fprintf(stderr, "bitlens-gui: error: --size must be WxH, e.g. 1366x768\n");
    return 2;
  }

  bool scale_ok = false, offset_ok = false;
  const double scale_value = parser.value(scale).toDouble(&scale_ok);
  const double offset_value = parser.value(offset).toDouble(&offset_ok);
  if (!scale_ok || !offset_ok) {
    std::fprintf(stderr, "bitlens-gui: error: --scale and --offset take numbers\n");
    return 2;
  }
  if (parser.isSet(labels) && !parser.isSet(samples)) {
    std::fprintf(stderr, "bitlens-gui: error: --labels needs --samples\n");
    return 2;
  }
  if (parser.isSet(images) && parser.isSet(samples)) {
    std::fprintf(stderr, "bitlens-gui: error: give --samples or --images, not both\n");
    return 2;
  }
  if (model.isEmpty() && (parser.isSet(samples) || parser.isSet(images))) {
    std::fprintf(stderr, "bitlens-gui: error: --samples and --images need a MODEL\n");
    return 2;
  }

  bitlens::gui::MainWindow window;
  window.tabs()->setCurrentIndex(tab_index);
  // The dataset is set once the model is open (set_model restores the remembered one).
  bool dataset_pending = parser.isSet(samples) || parser.isSet(images);
  auto apply_dataset = [&] {
    if (!dataset_pending) return;
    dataset_pending = false;
    bitlens::gui::ComparePage::DatasetChoice d;
    d.samples = parser.isSet(samples) ? QFileInfo(parser.value(samples)).absoluteFilePath() : QString();
    d.labels = parser.isSet(labels) ? QFileInfo(parser.value(labels)).absoluteFilePath() : QString();
    d.images = parser.isSet(images) ? QFileInfo(parser.value(images)).absoluteFilePath() : QString();
    d.scale = scale_value;
    d.offset = offset_value;
    window.compare_page()->set_dataset(d);
  };
  if (!parser.isSet(shot)) {
    window.show();
    QObject::connect(&window, &bitlens::gui::MainWindow::analysisFinished, &window, [&](bool) { apply_dataset(); });
    if (!model.isEmpty()) window.open_file(model);
    return QApplication::exec();
  }

  // Headless: errors go to stderr (exit 2), the window is rendered once the analysis is shown.
  const QString out = parser.value(shot);
  window.set_error_dialogs(false);
  window.resize(w, h);
  window.reset_splitter();
  window.show();
  int status = 0;
  auto save = [&] {
    window.graph_page()->view()->fit();
    // Charts and views lay out lazily; let pending layout/paint events run before grabbing.
    QTimer::singleShot(150, &window, [&] {
      if (!window.grab().save(out, "PNG")) {
        std::fprintf(stderr, "bitlens-gui: error: cannot write %s\n", qPrintable(out));
        status = 1;
      }
      QApplication::quit();
    });
  };
  if (model.isEmpty()) {
    QTimer::singleShot(0, &window, save);
  } else {
    QObject::connect(&window, &bitlens::gui::MainWindow::analysisFinished, &window, [&](bool ok) {
      if (!ok) {
        std::fprintf(stderr, "bitlens-gui: error: %s: %s\n", qPrintable(QFileInfo(model).fileName()), qPrintable(window.last_error()));
        status = 2;
        QApplication::quit();
        return;
      }
      if (parser.isSet(select) && !window.select_layer(parser.value(select))) {
        std::fprintf(stderr, "bitlens-gui: error: no layer named '%s'\n", qPrintable(parser.value(select)));
        status = 2;
        QApplication::quit();
        return;
      }
      apply_dataset();
      // The Compare tab runs its comparison after the analysis: shoot once it is shown.
      bitlens::gui::ComparePage* compare = window.compare_page();
      if (window.tabs()->currentWidget() == compare && compare->busy()) {
        QObject::connect(compare, &bitlens::gui::ComparePage::comparisonFinished, &window, [&](bool compared) {
          if (!compared) {
            std::fprintf(stderr, "bitlens-gui: error: %s: %s\n", qPrintable(QFileInfo(model).fileName()), qPrintable(compare->error()));
            status = 2;
            QApplication::quit();
            return;
          }
          save();
        }, Qt::SingleShotConnection);
        return;
      }
      save();
    });
    window.open_file(model);
  }
  const int rc = QApplication::exec();
  return status != 0 ? status : rc;
}
