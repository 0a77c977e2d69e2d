// Captioned scenes of real article photos (Fashion-MNIST): the data of issue 16's Show, Attend and
// Tell captioner. A scene is a grid x grid canvas of cell x cell pixels (default 3 x 3 cells of
// 32: 96 x 96) holding 1 to 4 articles in distinct cells; each 28 x 28 article sits at a random
// offset of 0..(cell - 28) pixels inside its cell, so it never leaves it. The captions name every
// article and where it is, in reading order (cells row by row), in several phrasings:
//   0  absolute:  "a sneaker at the top left and a bag at the bottom right"
//   1  relative:  an article in the cell right of / below / left of / above the previous one is
//                 placed against it ("a sneaker at the top left and a bag below it"); otherwise
//                 as in 0. Scenes with no such pair give 0's caption again.
//   2  counted:   "two articles : a sneaker at the top left and a bag at the bottom right"
// Scene i depends only on (seed, i) and the image set: the same seed writes the same scenes on
// every machine. Which images a split may use is the caller's choice (first_image, images): the
// command line draws training scenes from training images and test scenes from test images.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attend/data/idx.h"

namespace attend::data {

// Fashion-MNIST's 10 classes as caption words ("t-shirt", "trouser", ..., "ankle boot").
const std::vector<std::string>& fashion_class_names();
// The cell names of a 3 x 3 grid ("top left", "top", "top right", "left", "centre", ...).
std::string_view cell_name(int64_t cell);

struct SceneOptions {
  int64_t count = 1000;
  int64_t grid = 3;        // cells per side (3: the phrasings name 3 x 3 cells)
  int64_t cell = 32;       // pixels per cell side, >= the image side
  int64_t min_objects = 1, max_objects = 4;
  int64_t first_image = 0;  // the images this split may use: [first_image, first_image + images)
  int64_t images = -1;      // -1: to the end of the set
  uint64_t seed = 1;
};

struct SceneObject {
  int64_t label = 0;   // the class
  int64_t cell = 0;    // row * grid + column
  int64_t image = 0;   // index into the image set
  int64_t x = 0, y = 0;  // top-left pixel of the article on the canvas
};

struct CaptionedScene {
  int64_t size = 0;                   // canvas side in pixels
  std::vector<uint8_t> pixels;        // [size, size], 0 = background
  std::vector<SceneObject> objects;   // reading order
  std::vector<std::string> captions;  // the phrasings, 0 to 2
};

constexpr int kScenePhrasings = 3;

// Error "[scenes] ..." when the grid is not 3 x 3, a cell is smaller than the images, the object
// counts do not fit the grid, or the image range is empty or outside the set.
std::vector<CaptionedScene> make_scenes(const ImageSet& images, const SceneOptions& options);

// The captions of `objects` on a 3 x 3 grid (phrasings 0 to 2), for the generator and for tests.
std::vector<std::string> scene_captions(const std::vector<SceneObject>& objects);

}  // namespace attend::data
