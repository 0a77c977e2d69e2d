// Images as model input: batches of pictures for the image models (vit, sat), PNG files read as
// grayscale, and the scene directories `attend gen scenes` writes.
//
// An image source is a feature Source (core/source.h): features [B, R = rows * cols, channels]
// f32, the pixels row by row scaled to [0, 1], every length R (images are never padded). The
// models reshape it to [B, channels, rows, cols] and normalize it themselves (their configs hold
// the mean and deviation), so a checkpoint reads raw pictures.
//
// ImageBatches: a PlannedStream (batching.h) over examples that point into one ImageSet (an image
// may serve several examples: a scene and each of its captions). Each epoch the examples are
// shuffled by (seed, epoch) and cut into batches of `batch`. Batch.source is the images,
// Batch.labels the examples' labels (classification), Batch.target / target_lengths their
// captions (padded with pad_id). Augmentation (training only): each image of epoch e is shifted by
// up to `shift` pixels in x and y (zeros come in) and, with `flip`, mirrored left-right with
// probability 1/2, drawn from (seed, e, example): the same epoch shows the same pictures after a
// resume.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attend/core/source.h"
#include "attend/data/batching.h"
#include "attend/data/idx.h"
#include "attend/data/scenes.h"

namespace attend::data {

struct ImageExample {
  int64_t image = 0;            // index into the ImageSet
  int64_t label = -1;           // classification
  std::vector<int64_t> target;  // a caption's ids (sequence to sequence)
};

struct ImageBatchOptions {
  int64_t batch = 64;
  bool shuffle = true;
  uint64_t seed = 1;
  int64_t pad_id = 0;
  int64_t shift = 0;  // augmentation: random translation of up to this many pixels
  bool flip = false;  // augmentation: random left-right mirror
};

class ImageBatches : public PlannedStream {
 public:
  // Errors "[ImageBatches] ..." for no examples, an image index outside the set, a batch < 1.
  ImageBatches(std::shared_ptr<const ImageSet> images, std::vector<ImageExample> examples,
               const ImageBatchOptions& options);
  std::vector<std::vector<int64_t>> plan(int64_t epoch) const override;
  // The pictures as they are (no augmentation).
  Batch make_batch(const std::vector<int64_t>& ids) const override { return batch_of_epoch(ids, -1); }
  // Epoch `epoch`'s pictures (augmented when the options say so; epoch < 0: never).
  Batch batch_of_epoch(const std::vector<int64_t>& ids, int64_t epoch) const override;
  int64_t num_examples() const { return static_cast<int64_t>(examples_.size()); }

 private:
  std::shared_ptr<const ImageSet> images_;
  std::vector<ImageExample> examples_;
  ImageBatchOptions options_;
};

// Images [N] of an ImageSet as a Source of features [N, rows * cols, 1] in [0, 1].
Source image_source(const ImageSet& images, const std::vector<int64_t>& indices);
// One grayscale picture [rows, cols] (0 = black) as a Source of one row.
Source image_source(const std::vector<uint8_t>& pixels, int64_t rows, int64_t cols);

// A PNG file as 8-bit grayscale (colour converted by libpng's luminance), rows * cols bytes.
struct GrayImage {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> pixels;
};
// Error "[png] <path>: ..." naming the file and libpng's reason (not a PNG, truncated, ...).
GrayImage read_png_gray(const std::string& path);

// One split of a scene directory (`attend gen scenes`): <dir>/<split>.captions.tsv, its PNG
// files and <dir>/<split>.layout.tsv. Images in the order of first appearance in the captions.
struct SceneSplit {
  std::shared_ptr<ImageSet> images;                  // [N, S, S]; labels unused
  std::vector<std::string> files;                    // [N] as the captions file names them
  std::vector<std::vector<std::string>> captions;    // [N] the phrasings, in phrasing order
  std::vector<std::vector<SceneObject>> objects;     // [N] reading order (from the layout)
};
// Errors "[scenes] <file>:<line>: ..." for a malformed line, a picture of another size than the
// first, a layout that names a file the captions do not.
SceneSplit read_scene_split(const std::string& dir, const std::string& split);

// The cell (row * grid + column) of region r of a G x G feature grid over a canvas of grid x grid
// cells: the cell holding the region's centre.
int64_t region_cell(int64_t region, int64_t regions_per_side, int64_t grid = 3);

}  // namespace attend::data
