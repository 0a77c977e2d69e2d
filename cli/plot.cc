// `attend plot`: draws exact match by source length from one or more `attend eval --json` reports
// as a grouped bar chart, one series per report (e.g. an attention model against its
// no-attention baseline), or curves from tab-separated tables (e.g. a learning curve).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attend/core/error.h"
#include "attend/data/corpus.h"
#include "attend/io/json_config.h"
#include "attend/viz/chart.h"
#include "attend/viz/render.h"
#include "commands.h"

namespace attend::cli {
namespace {

struct PlotOptions {
  std::vector<std::string> evals, curves, labels;
  std::string out, title;
  bool no_values = false;
};

// A --curve table: a header line of column names, then rows of numbers, tab-separated.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
    out.push_back(line.substr(start, tab - start));
  out.push_back(line.substr(start));
  return out;
}

Table read_table(const std::string& path) {
  const std::vector<std::string> lines = data::read_lines(path, "plot");
  ATTEND_CHECK(!lines.empty(), "plot", path, ": empty (want a header line of column names, then rows)");
  Table t{.columns = split_tabs(lines[0])};
  ATTEND_CHECK(t.columns.size() >= 2, "plot", path, ":1: ", t.columns.size(),
               " column(s); want x and at least one y, tab-separated");
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const std::vector<std::string> cells = split_tabs(lines[i]);
    ATTEND_CHECK(cells.size() == t.columns.size(), "plot", path, ":", i + 1, ": ", cells.size(), " cells for ",
                 t.columns.size(), " columns");
    std::vector<double> row;
    for (const std::string& c : cells) {
      size_t used = 0;
      double v = 0.0;
      try {
        v = std::stod(c, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      ATTEND_CHECK(used == c.size() && used > 0 && std::isfinite(v), "plot", path, ":", i + 1, ": '", c,
                   "' is not a finite number");
      row.push_back(v);
    }
    t.rows.push_back(std::move(row));
  }
  ATTEND_CHECK(!t.rows.empty(), "plot", path, ": no rows after the header");
  return t;
}

// --curve: one panel per y column of the first table, one series per table.
void plot_curves(const PlotOptions& o) {
  ATTEND_CHECK(o.labels.empty() || o.labels.size() == o.curves.size(), "plot", o.labels.size(), " --label for ",
               o.curves.size(), " --curve: give one label per table, or none");
  std::vector<Table> tables;
  for (const auto& path : o.curves) tables.push_back(read_table(path));
  const std::vector<std::string> columns = tables.at(0).columns;
  for (size_t k = 1; k < tables.size(); ++k)
    ATTEND_CHECK(tables[k].columns == columns, "plot", o.curves[k], ": its columns differ from those of ",
                 o.curves[0]);
  std::vector<viz::LinePanel> panels(columns.size() - 1);
  for (size_t c = 0; c < panels.size(); ++c) {
    panels[c].y_label = columns[c + 1];
    for (size_t k = 0; k < tables.size(); ++k) {
      viz::LineSeries s{.name = o.labels.empty() ? std::filesystem::path(o.curves[k]).stem().string() : o.labels[k]};
      for (const auto& row : tables[k].rows) s.x.push_back(row[0]), s.y.push_back(row[c + 1]);
      panels[c].series.push_back(std::move(s));
    }
  }
  viz::save(viz::line_chart(panels, {.title = o.title, .x_label = columns[0]}), o.out);
  std::cout << "wrote " << o.out << " (" << panels.size() << " panels x " << tables.size() << " series)\n";
}

// One report: exact match in percent per (min_length, max_length) bucket.
struct Report {
  std::string model;
  std::map<std::pair<int64_t, int64_t>, double> percent;
};

// The message of an error from a lower layer without its "[op] " prefix, to be rethrown as [plot].
std::string message_of(const Error& e) {
  const std::string m = e.what();
  const std::string prefix = "[" + e.op() + "] ";
  return m.rfind(prefix, 0) == 0 ? m.substr(prefix.size()) : m;
}

int64_t integer_at(const nlohmann::json& row, const char* key, const std::string& where) {
  const auto it = row.find(key);
  ATTEND_CHECK(it != row.end() && it->is_number_integer(), "plot", where, ": '", key,
               "' is missing or not an integer");
  return it->get<int64_t>();
}

Report read_report(const std::string& path) {
  nlohmann::json j;
  try {
    j = io::read_json_file(path);
  } catch (const Error& e) {
    throw Error("plot", message_of(e));
  }
  ATTEND_CHECK(j.is_object(), "plot", path, ": not an `attend eval --json` report (not a JSON object)");
  Report r;
  if (const auto m = j.find("model"); m != j.end() && m->is_string()) r.model = m->get<std::string>();
  const auto rows = j.find("by_source_length");
  ATTEND_CHECK(rows != j.end() && rows->is_array(), "plot", path,
               ": no 'by_source_length' array (write the report with `attend eval --json FILE`)");
  ATTEND_CHECK(!rows->empty(), "plot", path, ": 'by_source_length' is empty");
  for (size_t i = 0; i < rows->size(); ++i) {
    const nlohmann::json& row = (*rows)[i];
    const std::string where = path + ": by_source_length[" + std::to_string(i) + "]";
    ATTEND_CHECK(row.is_object(), "plot", where, " is not an object");
    const int64_t lo = integer_at(row, "min_length", where), hi = integer_at(row, "max_length", where);
    ATTEND_CHECK(0 <= lo && lo <= hi, "plot", where, ": lengths ", lo, "-", hi, " are not a range");
    const auto acc = row.find("accuracy");
    ATTEND_CHECK(acc != row.end() && acc->is_number(), "plot", where, ": 'accuracy' is missing or not a number");
    const double a = acc->get<double>();
    ATTEND_CHECK(a >= 0 && a <= 1, "plot", where, ": accuracy ", a, " is outside [0, 1]");
    ATTEND_CHECK(r.percent.emplace(std::pair{lo, hi}, 100.0 * a).second, "plot", where, ": bucket ", lo, "-", hi,
                 " appears twice");
  }
  return r;
}

std::string bucket_label(const std::pair<int64_t, int64_t>& b) {
  return b.first == b.second ? std::to_string(b.first) : std::to_string(b.first) + "-" + std::to_string(b.second);
}

void run_plot(const PlotOptions& o) {
  ATTEND_CHECK(o.evals.empty() != o.curves.empty(), "plot", "give --eval reports or --curve tables (one kind)");
  std::string ext = std::filesystem::path(o.out).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  ATTEND_CHECK(ext == ".png" || ext == ".svg" || ext == ".html" || ext == ".htm", "plot", "cannot tell the format of ",
               o.out, " (want .png, .svg, .html or .htm)");
  if (!o.curves.empty()) return plot_curves(o);
  ATTEND_CHECK(o.labels.empty() || o.labels.size() == o.evals.size(), "plot", o.labels.size(),
               " --label for ", o.evals.size(), " --eval: give one label per report, or none");
  std::vector<Report> reports;
  for (const auto& path : o.evals) reports.push_back(read_report(path));

  // Categories: every bucket of any report, by (min_length, max_length).
  std::map<std::pair<int64_t, int64_t>, size_t> index;
  for (const Report& r : reports)
    for (const auto& [bucket, percent] : r.percent) index.emplace(bucket, 0);
  std::vector<std::string> categories;
  for (auto& [bucket, i] : index) {
    i = categories.size();
    categories.push_back(bucket_label(bucket));
  }

  std::vector<viz::BarSeries> series;
  for (size_t k = 0; k < reports.size(); ++k) {
    viz::BarSeries s;
    if (!o.labels.empty()) {
      s.name = o.labels[k];
    } else {
      ATTEND_CHECK(!reports[k].model.empty(), "plot", o.evals[k], ": no 'model' to name the series by; give --label");
      s.name = std::filesystem::path(reports[k].model).stem().string();
    }
    s.values.assign(categories.size(), std::numeric_limits<double>::quiet_NaN());
    for (const auto& [bucket, percent] : reports[k].percent) s.values[index.at(bucket)] = percent;
    series.push_back(std::move(s));
  }

  const viz::Scene scene = viz::bar_chart(categories, series,
                                          {.title = o.title.empty() ? "exact match by source length" : o.title,
                                           .x_label = "source length (tokens)",
                                           .y_label = "exact match (%)",
                                           .values = o.no_values ? viz::BarValues::hidden : viz::BarValues::printed});
  viz::save(scene, o.out);
  std::cout << "wrote " << o.out << " (" << series.size() << " series x " << categories.size() << " length buckets)\n";
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto o = std::make_shared<PlotOptions>();
  CLI::App* c = app.add_subcommand(
      "plot", "Draw `attend eval --json` reports (exact match by length) or curves from tables (PNG, SVG or HTML)");
  c->footer(
      "Draw the 'by_source_length' table of `attend eval --json` reports as a grouped bar chart:\n"
      "one group per length bucket (\"10-19\", or \"60\" for a one-length bucket), one bar per\n"
      "report, height = exact match in percent. Buckets are matched by their length range; a bucket\n"
      "that a report lacks is left without a bar. Example, attention against its baseline:\n"
      "  attend eval -m rnnsearch.ckpt --task-test 500 --bucket-width 10 --json a.json\n"
      "  attend eval -m seq2seq.ckpt --task-test 500 --bucket-width 10 --json b.json\n"
      "  attend plot --eval a.json --eval b.json -o reverse.png\n"
      "Or draw --curve tables (tab-separated, a header line naming the columns, then numbers): the\n"
      "first column is x, each other column a panel of its own y axis, one series per table; e.g.\n"
      "a learning curve with columns 'minutes', 'validation loss', 'validation BLEU'\n"
      "(bench/multi30k_transformer.sh makes one from its training log).");
  c->add_option("--eval", o->evals, "report written by `attend eval --json` (repeat for each series)");
  c->add_option("--curve", o->curves, "tab-separated table with a header line (repeat for each series)");
  c->add_option("--label", o->labels,
                "series name, one per --eval/--curve in the same order (default: the file's stem)");
  c->add_option("--title", o->title, "title over the picture")->capture_default_str();
  c->add_option("-o,--out", o->out, "picture to write: .png, .svg or .html")->required();
  c->add_flag("--no-values", o->no_values, "do not print the percentages above the bars");
  c->callback([o] { run_plot(*o); });
}

}  // namespace attend::cli
