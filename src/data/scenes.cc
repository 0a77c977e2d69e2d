#include "attend/data/scenes.h"

#include <algorithm>
#include <array>

#include "attend/core/error.h"
#include "attend/core/rng.h"

namespace attend::data {
namespace {

constexpr const char* kOp = "scenes";
constexpr std::array<std::string_view, 9> kCells = {"top left", "top",    "top right",    "left",        "centre",
                                                     "right",    "bottom left", "bottom", "bottom right"};
constexpr std::array<std::string_view, 5> kCounts = {"zero", "one", "two", "three", "four"};

// Word 0 of the Philox block at counter (lo = draw k, hi = scene): scene i's draws depend on (seed, i).
uint32_t draw(uint64_t seed, int64_t scene, uint64_t k) {
  return philox4x32(seed, k, static_cast<uint64_t>(scene))[0];
}

// Below n without modulo bias worth noticing (n is at most 70,000; 32 bits).
int64_t below(uint64_t seed, int64_t scene, uint64_t& k, int64_t n) {
  return static_cast<int64_t>((static_cast<uint64_t>(draw(seed, scene, k++)) * static_cast<uint64_t>(n)) >> 32);
}

std::string article(int64_t label) {
  const std::string& name = fashion_class_names()[static_cast<size_t>(label)];
  const bool vowel = std::string_view("aeiou").find(name[0]) != std::string_view::npos;
  std::string s = vowel ? "an " : "a ";
  s += name;
  return s;
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) s += i + 1 == parts.size() ? " and " : " , ";
    s += parts[i];
  }
  return s;
}

// The place of `cur` relative to `prev` in a 3 x 3 grid, or "" when they are not side by side.
std::string_view relation(int64_t prev, int64_t cur) {
  const int64_t pr = prev / 3, pc = prev % 3, r = cur / 3, c = cur % 3;
  if (r == pr && c == pc + 1) return "to its right";
  if (r == pr && c == pc - 1) return "to its left";
  if (c == pc && r == pr + 1) return "below it";
  if (c == pc && r == pr - 1) return "above it";
  return "";
}

}  // namespace

const std::vector<std::string>& fashion_class_names() {
  static const std::vector<std::string> names = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                 "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
  return names;
}

std::string_view cell_name(int64_t cell) {
  ATTEND_CHECK(cell >= 0 && cell < 9, kOp, "cell ", cell, " is not one of the 9 cells of a 3 x 3 grid");
  return kCells[static_cast<size_t>(cell)];
}

std::vector<std::string> scene_captions(const std::vector<SceneObject>& objects) {
  ATTEND_CHECK(!objects.empty() && objects.size() < kCounts.size(), kOp, objects.size(),
               " articles: a caption names 1 to 4");
  std::vector<std::string> absolute, relative;
  for (size_t i = 0; i < objects.size(); ++i) {
    std::string where = " at the ";
    where += cell_name(objects[i].cell);
    absolute.push_back(article(objects[i].label) + where);
    const std::string_view rel = i > 0 ? relation(objects[i - 1].cell, objects[i].cell) : "";
    std::string r = article(objects[i].label);
    if (rel.empty()) {
      r += where;
    } else {
      r += ' ';
      r += rel;
    }
    relative.push_back(r);
  }
  std::string counted(kCounts[objects.size()]);
  counted += objects.size() == 1 ? " article : " : " articles : ";
  counted += join(absolute);
  return {join(absolute), join(relative), counted};
}

std::vector<CaptionedScene> make_scenes(const ImageSet& images, const SceneOptions& o) {
  ATTEND_CHECK(o.grid == 3, kOp, "grid ", o.grid, ": the captions name the cells of a 3 x 3 grid");
  ATTEND_CHECK(images.count > 0 && images.rows > 0 && images.cols > 0, kOp, "an empty image set");
  ATTEND_CHECK(o.cell >= images.rows && o.cell >= images.cols, kOp, "cell ", o.cell, " px is smaller than the ",
               images.rows, "x", images.cols, " images");
  ATTEND_CHECK(o.min_objects >= 1 && o.min_objects <= o.max_objects && o.max_objects <= 4, kOp, "objects per scene ",
               o.min_objects, " to ", o.max_objects, ": must be within 1 to 4");
  const int64_t first = o.first_image, n = o.images < 0 ? images.count - first : o.images;
  ATTEND_CHECK(first >= 0 && n >= 1 && first + n <= images.count, kOp, "images [", first, ", ", first + n,
               ") are not within the set's ", images.count);
  ATTEND_CHECK(o.count >= 0, kOp, "count ", o.count, " < 0");
  const int64_t side = o.grid * o.cell;
  std::vector<CaptionedScene> out(static_cast<size_t>(o.count));
  for (int64_t s = 0; s < o.count; ++s) {
    CaptionedScene& sc = out[static_cast<size_t>(s)];
    uint64_t k = 0;
    const int64_t objects = o.min_objects + below(o.seed, s, k, o.max_objects - o.min_objects + 1);
    // Distinct cells: a partial Fisher-Yates shuffle of the 9, then reading order.
    std::vector<int64_t> cells{0, 1, 2, 3, 4, 5, 6, 7, 8};
    for (int64_t i = 0; i < objects; ++i)
      std::swap(cells[static_cast<size_t>(i)], cells[static_cast<size_t>(i + below(o.seed, s, k, 9 - i))]);
    cells.resize(static_cast<size_t>(objects));
    std::sort(cells.begin(), cells.end());
    sc.size = side;
    sc.pixels.assign(static_cast<size_t>(side * side), 0);
    for (int64_t i = 0; i < objects; ++i) {
      SceneObject ob;
      ob.cell = cells[static_cast<size_t>(i)];
      ob.image = first + below(o.seed, s, k, n);
      ob.label = images.labels[static_cast<size_t>(ob.image)];
      ob.x = ob.cell % 3 * o.cell + below(o.seed, s, k, o.cell - images.cols + 1);
      ob.y = ob.cell / 3 * o.cell + below(o.seed, s, k, o.cell - images.rows + 1);
      const uint8_t* src = images.pixels.data() + ob.image * images.rows * images.cols;
      for (int64_t r = 0; r < images.rows; ++r)
        std::copy_n(src + r * images.cols, images.cols, sc.pixels.data() + (ob.y + r) * side + ob.x);
      sc.objects.push_back(ob);
    }
    sc.captions = scene_captions(sc.objects);
  }
  return out;
}

}  // namespace attend::data
