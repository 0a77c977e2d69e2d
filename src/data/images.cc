// Image batches, PNG reading and scene directories (images.h).
#include "attend/data/images.h"

#include <png.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>

#include "attend/core/error.h"
#include "attend/core/rng.h"
#include "attend/data/corpus.h"

namespace attend::data {

namespace {

constexpr const char* kOp = "ImageBatches";

// The pixels of image i, shifted by (dx, dy) (zeros come in) and mirrored when flip, as [0, 1]
// floats into out [rows * cols].
void put_image(const ImageSet& set, int64_t i, int64_t dx, int64_t dy, bool flip, float* out) {
  const int64_t R = set.rows, C = set.cols;
  const uint8_t* p = set.pixels.data() + i * R * C;
  for (int64_t y = 0; y < R; ++y)
    for (int64_t x = 0; x < C; ++x) {
      const int64_t sy = y - dy, sx0 = x - dx;
      const int64_t sx = flip ? C - 1 - sx0 : sx0;
      out[y * C + x] = sy >= 0 && sy < R && sx0 >= 0 && sx0 < C ? static_cast<float>(p[sy * C + sx]) / 255.0f : 0.0f;
    }
}

}  // namespace

ImageBatches::ImageBatches(std::shared_ptr<const ImageSet> images, std::vector<ImageExample> examples,
                           const ImageBatchOptions& options)
    : PlannedStream(kOp), images_(std::move(images)), examples_(std::move(examples)), options_(options) {
  ATTEND_CHECK(images_ != nullptr && !examples_.empty(), kOp, "no examples");
  ATTEND_CHECK(options_.batch >= 1 && options_.shift >= 0, kOp, "batch ", options_.batch, " must be >= 1 and shift ",
               options_.shift, " >= 0");
  for (size_t i = 0; i < examples_.size(); ++i)
    ATTEND_CHECK(examples_[i].image >= 0 && examples_[i].image < images_->count, kOp, "example ", i, " names image ",
                 examples_[i].image, " of a set of ", images_->count);
}

std::vector<std::vector<int64_t>> ImageBatches::plan(int64_t epoch) const {
  ATTEND_CHECK(epoch >= 0, kOp, "epoch must be >= 0, got ", epoch);
  std::vector<int64_t> order(examples_.size());
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    Rng rng(options_.seed);
    rng.set_state(options_.seed, static_cast<uint64_t>(epoch) << 40);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next_u64() % i]);
  }
  std::vector<std::vector<int64_t>> batches;
  const auto n = static_cast<size_t>(options_.batch);
  for (size_t i = 0; i < order.size(); i += n)
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), i + n)));
  return batches;
}

Batch ImageBatches::batch_of_epoch(const std::vector<int64_t>& ids, int64_t epoch) const {
  const int64_t B = static_cast<int64_t>(ids.size()), R = images_->rows * images_->cols;
  Tensor x = Tensor::empty(Shape{B, R, 1});
  Batch b;
  int64_t T = 0;
  for (const int64_t id : ids) {
    ATTEND_CHECK(id >= 0 && id < num_examples(), kOp, "example ", id, " out of range [0, ", num_examples(), ")");
    T = std::max<int64_t>(T, std::ssize(examples_[static_cast<size_t>(id)].target));
  }
  std::vector<int64_t> target(static_cast<size_t>(B * T), options_.pad_id);
  for (int64_t r = 0; r < B; ++r) {
    const ImageExample& e = examples_[static_cast<size_t>(ids[static_cast<size_t>(r)])];
    int64_t dx = 0, dy = 0;
    bool flip = false;
    if (epoch >= 0 && (options_.shift > 0 || options_.flip)) {
      // (seed, epoch, example): the augmentation of this epoch's picture, whatever batch holds it.
      Rng rng(options_.seed);
      rng.set_state(options_.seed ^ 0xA06D'A7E5'0000'0001ull,
                    (static_cast<uint64_t>(epoch) << 40) + static_cast<uint64_t>(ids[static_cast<size_t>(r)]) * 4);
      const uint64_t span = static_cast<uint64_t>(2 * options_.shift + 1);
      dx = static_cast<int64_t>(rng.next_u64() % span) - options_.shift;
      dy = static_cast<int64_t>(rng.next_u64() % span) - options_.shift;
      flip = options_.flip && (rng.next_u64() & 1) != 0;
    }
    put_image(*images_, e.image, dx, dy, flip, x.data<float>() + r * R);
    std::copy(e.target.begin(), e.target.end(), target.begin() + r * T);
    b.target_lengths.push_back(std::ssize(e.target));
    b.labels.push_back(e.label);
    b.example_ids.push_back(ids[static_cast<size_t>(r)]);
  }
  b.source = Source::of_features(std::move(x), std::vector<int64_t>(static_cast<size_t>(B), R));
  if (T > 0) b.target = Index(std::move(target), Shape{B, T});
  else b.target_lengths.clear();
  return b;
}

Source image_source(const ImageSet& images, const std::vector<int64_t>& indices) {
  const int64_t B = std::ssize(indices), R = images.rows * images.cols;
  Tensor x = Tensor::empty(Shape{B, R, 1});
  for (int64_t r = 0; r < B; ++r) {
    const int64_t i = indices[static_cast<size_t>(r)];
    ATTEND_CHECK(i >= 0 && i < images.count, "image_source", "image ", i, " of a set of ", images.count);
    put_image(images, i, 0, 0, false, x.data<float>() + r * R);
  }
  return Source::of_features(std::move(x), std::vector<int64_t>(static_cast<size_t>(B), R));
}

Source image_source(const std::vector<uint8_t>& pixels, int64_t rows, int64_t cols) {
  ImageSet one{.count = 1, .rows = rows, .cols = cols, .pixels = pixels, .labels = {0}};
  ATTEND_CHECK(rows > 0 && cols > 0 && std::ssize(pixels) == rows * cols, "image_source", pixels.size(),
               " pixels for an image of ", rows, "x", cols);
  return image_source(one, {0});
}

GrayImage read_png_gray(const std::string& path) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  const auto fail = [&](const char* what) {
    const std::string why = png.message[0] ? png.message : what;
    png_image_free(&png);
    return Error("png", path + ": " + why);
  };
  if (!std::filesystem::is_regular_file(path)) throw Error("png", path + ": no such file");
  if (!png_image_begin_read_from_file(&png, path.c_str())) throw fail("not a PNG file");
  png.format = PNG_FORMAT_GRAY;
  GrayImage out{.rows = png.height, .cols = png.width, .pixels = {}};
  ATTEND_CHECK(out.rows > 0 && out.cols > 0 && out.rows * out.cols <= (int64_t{1} << 28), "png", path, ": ", out.cols,
               "x", out.rows, " pixels");
  out.pixels.resize(static_cast<size_t>(out.rows * out.cols));
  if (!png_image_finish_read(&png, nullptr, out.pixels.data(), 0, nullptr)) throw fail("cannot decode");
  png_image_free(&png);
  return out;
}

SceneSplit read_scene_split(const std::string& dir, const std::string& split) {
  const std::string captions_file = dir + "/" + split + ".captions.tsv", layout_file = dir + "/" + split + ".layout.tsv";
  SceneSplit s;
  s.images = std::make_shared<ImageSet>();
  std::map<std::string, int64_t> index;
  const std::vector<std::string> lines = read_lines(captions_file, "scenes");
  for (size_t n = 0; n < lines.size(); ++n) {
    if (lines[n].empty()) continue;
    const size_t t1 = lines[n].find('\t'), t2 = t1 == std::string::npos ? t1 : lines[n].find('\t', t1 + 1);
    ATTEND_CHECK(t2 != std::string::npos, "scenes", captions_file, ":", n + 1,
                 ": expected file<TAB>phrasing<TAB>caption");
    const std::string file = lines[n].substr(0, t1);
    auto [it, fresh] = index.emplace(file, std::ssize(s.files));
    if (fresh) {
      const GrayImage im = read_png_gray(dir + "/" + file);
      ImageSet& set = *s.images;
      if (set.count == 0) set.rows = im.rows, set.cols = im.cols;
      ATTEND_CHECK(im.rows == set.rows && im.cols == set.cols, "scenes", captions_file, ":", n + 1, ": ", file, " is ",
                   im.cols, "x", im.rows, " pixels; the split's first picture is ", set.cols, "x", set.rows);
      set.pixels.insert(set.pixels.end(), im.pixels.begin(), im.pixels.end());
      set.labels.push_back(0);
      ++set.count;
      s.files.push_back(file);
      s.captions.emplace_back();
      s.objects.emplace_back();
    }
    s.captions[static_cast<size_t>(it->second)].push_back(lines[n].substr(t2 + 1));
  }
  ATTEND_CHECK(!s.files.empty(), "scenes", captions_file, ": no captions");
  const std::vector<std::string> layout = read_lines(layout_file, "scenes");
  for (size_t n = 0; n < layout.size(); ++n) {
    if (layout[n].empty()) continue;
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t tab; (tab = layout[n].find('\t', start)) != std::string::npos; start = tab + 1)
      f.push_back(layout[n].substr(start, tab - start));
    f.push_back(layout[n].substr(start));
    ATTEND_CHECK(f.size() == 7, "scenes", layout_file, ":", n + 1, ": expected 7 fields (file, article, class, cell, x, ",
                 "y, image), got ", f.size());
    const auto it = index.find(f[0]);
    ATTEND_CHECK(it != index.end(), "scenes", layout_file, ":", n + 1, ": ", f[0], " is not in ", captions_file);
    SceneObject ob;
    try {
      ob = {.label = std::stoll(f[2]), .cell = std::stoll(f[3]), .image = std::stoll(f[6]), .x = std::stoll(f[4]),
            .y = std::stoll(f[5])};
    } catch (const std::exception&) {
      throw Error("scenes", layout_file + ":" + std::to_string(n + 1) + ": a field is not a number");
    }
    ATTEND_CHECK(ob.cell >= 0 && ob.cell < 9, "scenes", layout_file, ":", n + 1, ": cell ", ob.cell, " is not in 0..8");
    s.objects[static_cast<size_t>(it->second)].push_back(ob);
  }
  return s;
}

int64_t region_cell(int64_t region, int64_t regions_per_side, int64_t grid) {
  const int64_t row = region / regions_per_side, col = region % regions_per_side;
  // The centre (col + 0.5) / G of the canvas falls in cell floor((col + 0.5) grid / G).
  const int64_t cr = (2 * row + 1) * grid / (2 * regions_per_side), cc = (2 * col + 1) * grid / (2 * regions_per_side);
  return cr * grid + cc;
}

}  // namespace attend::data
