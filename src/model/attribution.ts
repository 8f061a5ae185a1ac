/**
 * Heat maps that split the head's logit over image positions. A linear head computes
 * logit = b + sum_k w_k (f_k - mu_k), with w_k = kernel_k / std_k and mu_k the training mean, and
 * every backbone feature f_k is the root-pooled spatial mean or standard deviation of one channel
 * of a spatial tensor (see rootPool and FeatureBatch.maps). Each term w_k (f_k - mu_k) is split
 * over the positions of its tensor, so the values of one view's map sum to logit - b.
 */
import type { FeatureBatch, PooledMap } from './backbone.js';
import { FIXED_VIEW_COUNT, FIXED_VIEWS, isWholeImage, type CropWindow, type FixedViewSpec } from './fixed-views.js';
import { logitGradient, type HeadWeights } from './head.js';
import { mirrorMap } from './mirror.js';

/** A heat map float32 [height, width] in the image's own coordinates. */
export interface Heatmap {
  values: Float32Array;
  height: number;
  width: number;
}

/**
 * Splits one view's logit over a gridHeight x gridWidth grid on the view. `features`: the view's
 * pooled features float32 [featureDim]. `maps`: the batch's spatial tensors, of which row `row`
 * belongs to this view; each tensor's height and width must divide the grid's. Returns float64
 * [gridHeight, gridWidth] of any sign, positive where a position pushes towards malignancy.
 *
 * The weights are logitGradient(head, features), so for a linear head the values sum to
 * logit - b, and for a head with hidden layers they sum to gradient . (f - mu), a first-order
 * estimate of that difference. Below, A_cp >= 0 is channel c at position p of N and m_c its mean
 * recomputed from A. Each feature's value is split over the positions in proportion to their
 * activations (mean features) or squared deviations (standard deviation features). The split is
 * therefore exact whatever the pooling does to the value, and the backbone's rounding stays in the sum.
 * - A mean feature f_c gives position p the value w_c (f_c A_cp / sum_q A_cq - mu_c / N). An
 *   all-zero channel spreads w_c (f_c - mu_c) evenly.
 * - A standard deviation feature s_c gives position p the value
 *   w_c (s_c (A_cp - m_c)^2 / sum_q (A_cq - m_c)^2 - mu_c / N). A constant channel spreads
 *   w_c (s_c - mu_c) evenly.
 * - A 7 x 7 tensor on a 14 x 14 grid gives each cell's value to the 4 grid cells under it in
 *   equal parts, which keeps the sum.
 * Throws RangeError when the tensors do not account for every feature or do not fit the grid.
 */
export function attributeView(
  head: HeadWeights,
  features: ArrayLike<number>,
  maps: readonly PooledMap[],
  row: number,
  gridHeight: number,
  gridWidth: number,
): Float64Array {
  checkMapsCoverFeatures(maps, features.length);
  const weights = logitGradient(head, features);
  const grid = new Float64Array(gridHeight * gridWidth);
  for (const map of maps) {
    const cells = attributeMap(map, row, features, weights, head.mean);
    spreadOntoGrid(cells, map.height, map.width, grid, gridHeight, gridWidth);
  }
  return grid;
}

/**
 * Returns the values of one tensor's positions, float64 [height, width]: its channels' mean
 * terms and, when the tensor has std features, their std terms (see attributeView).
 */
function attributeMap(
  map: PooledMap,
  row: number,
  features: ArrayLike<number>,
  weights: Float64Array,
  trainingMeans: readonly number[],
): Float64Array {
  const { height, width, channels, meanOffset, stdOffset } = map;
  const positions = height * width;
  const base = row * channels * positions;
  if (!Number.isInteger(row) || row < 0 || base + channels * positions > map.values.length) {
    throw new RangeError(`attributeView: row ${row} is outside a map of ${map.values.length / (channels * positions)} rows`);
  }

  const values = map.values;
  const cells = new Float64Array(positions);
  let even = 0;
  // Splits the term w (f - mu) of feature k: -w mu / N goes to every position, and w f in
  // proportion to shares that add up to `shareTotal`. Returns w f / shareTotal, the factor of each
  // position's share, or spreads w f evenly and returns 0 when there are no shares.
  const splitTerm = (k: number, shareTotal: number): number => {
    even -= (weights[k] * trainingMeans[k]) / positions;
    if (shareTotal > 0) return (weights[k] * features[k]) / shareTotal;
    even += (weights[k] * features[k]) / positions;
    return 0;
  };

  for (let channel = 0; channel < channels; channel++) {
    const start = base + channel * positions;
    const end = start + positions;
    let sum = 0;
    for (let index = start; index < end; index++) sum += values[index];
    const mean = sum / positions;

    // Mean feature: w f A / sum A at each position, and -w mu / N spread evenly.
    const linear = splitTerm(meanOffset + channel, sum);
    if (stdOffset === undefined) {
      for (let index = start; index < end; index++) cells[index - start] += linear * values[index];
      continue;
    }

    // Std feature: w s (A - m)^2 / sum (A - m)^2 at each position, and -w mu / N spread evenly.
    let squaredDeviationSum = 0;
    for (let index = start; index < end; index++) {
      const deviation = values[index] - mean;
      squaredDeviationSum += deviation * deviation;
    }
    const quadratic = splitTerm(stdOffset + channel, squaredDeviationSum);
    for (let index = start; index < end; index++) {
      const deviation = values[index] - mean;
      cells[index - start] += linear * values[index] + quadratic * deviation * deviation;
    }
  }
  for (let position = 0; position < positions; position++) cells[position] += even;
  return cells;
}

/** Adds float64 [height, width] `cells` onto `grid`, each cell's value split equally over the grid cells it covers. */
function spreadOntoGrid(cells: Float64Array, height: number, width: number, grid: Float64Array, gridHeight: number, gridWidth: number): void {
  if (gridHeight % height !== 0 || gridWidth % width !== 0) {
    throw new RangeError(`attributeView: a ${height}x${width} map does not divide a ${gridHeight}x${gridWidth} grid`);
  }
  const factorY = gridHeight / height;
  const factorX = gridWidth / width;
  const share = 1 / (factorY * factorX);
  for (let y = 0; y < gridHeight; y++) {
    for (let x = 0; x < gridWidth; x++) {
      grid[y * gridWidth + x] += cells[Math.floor(y / factorY) * width + Math.floor(x / factorX)] * share;
    }
  }
}

/** Throws RangeError unless the maps' mean and std blocks lie inside the feature vector and add up to its length. */
function checkMapsCoverFeatures(maps: readonly PooledMap[], featureDim: number): void {
  let covered = 0;
  for (const map of maps) {
    for (const offset of map.stdOffset === undefined ? [map.meanOffset] : [map.meanOffset, map.stdOffset]) {
      if (offset < 0 || offset + map.channels > featureDim) {
        throw new RangeError(`attributeView: features ${offset} to ${offset + map.channels - 1} are outside the ${featureDim} features`);
      }
      covered += map.channels;
    }
  }
  if (covered !== featureDim) {
    throw new RangeError(`attributeView: the maps account for ${covered} of ${featureDim} features, but every feature needs its map`);
  }
}

/**
 * Resamples float64 [height, width] values on a crop window's grid onto the whole image's grid
 * of the same size. Each crop cell's value is shared among the image cells its footprint
 * overlaps, in proportion to the overlap area, so the sum is kept. Returns float64 [height, width].
 * Throws RangeError when the window is not inside [0, 1] x [0, 1].
 */
export function cropMapToImage(map: Float64Array, height: number, width: number, crop: CropWindow): Float64Array {
  if (map.length !== height * width) {
    throw new RangeError(`cropMapToImage: expected ${height}x${width} = ${height * width} values, received ${map.length}`);
  }
  const { left, top } = crop;
  if (!(left >= 0 && top >= 0 && crop.width > 0 && crop.height > 0 && left + crop.width <= 1 && top + crop.height <= 1)) {
    throw new RangeError(`cropMapToImage: the crop window ${JSON.stringify(crop)} is not inside the unit square`);
  }
  const weightsX = overlapWeights(width, left, crop.width);
  const weightsY = overlapWeights(height, top, crop.height);

  // Along x, then along y: rows [height, width] -> out [height, width].
  const rows = new Float64Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let imageX = 0; imageX < width; imageX++) {
      let sum = 0;
      for (let x = 0; x < width; x++) sum += weightsX[imageX * width + x] * map[y * width + x];
      rows[y * width + imageX] = sum;
    }
  }
  const out = new Float64Array(height * width);
  for (let imageY = 0; imageY < height; imageY++) {
    for (let y = 0; y < height; y++) {
      const weight = weightsY[imageY * height + y];
      if (weight === 0) continue;
      for (let x = 0; x < width; x++) out[imageY * width + x] += weight * rows[y * width + x];
    }
  }
  return out;
}

/**
 * Returns float64 [cells (image), cells (crop)]: the fraction of crop cell j's footprint
 * [start + extent j / cells, start + extent (j + 1) / cells] that lies in image cell i.
 */
function overlapWeights(cells: number, start: number, extent: number): Float64Array {
  const weights = new Float64Array(cells * cells);
  for (let cropCell = 0; cropCell < cells; cropCell++) {
    const from = start + (extent * cropCell) / cells;
    const to = start + (extent * (cropCell + 1)) / cells;
    for (let imageCell = 0; imageCell < cells; imageCell++) {
      const overlap = Math.min(to, (imageCell + 1) / cells) - Math.max(from, imageCell / cells);
      if (overlap > 0) weights[imageCell * cells + cropCell] = overlap / (to - from);
    }
  }
  return weights;
}

/**
 * Brings float64 [height, width] values on fixed view `view` (see FIXED_VIEWS) into the image's
 * own coordinates. The steps undo the view's own in reverse order. A mirrored view is flipped
 * back, a rotated one turned back (see rotatedMapToImage), and a cropped one resampled from its
 * crop window onto the image. Every step keeps the sum. Returns float64 [height, width]. Throws
 * RangeError for a view outside 0 to FIXED_VIEW_COUNT - 1.
 */
export function viewMapToImage(map: Float64Array, height: number, width: number, view: number): Float64Array {
  const spec: FixedViewSpec | undefined = FIXED_VIEWS[view];
  if (!Number.isInteger(view) || spec === undefined) {
    throw new RangeError(`viewMapToImage: view must be an integer from 0 to ${FIXED_VIEW_COUNT - 1}, received ${view}`);
  }
  let aligned = map;
  if (spec.rotationDeg !== 0) aligned = rotatedMapToImage(aligned, height, width, spec.rotationDeg, spec.mirror);
  else if (spec.mirror) aligned = mirrorMap(aligned, height, width);
  if (!isWholeImage(spec.crop)) aligned = cropMapToImage(aligned, height, width, spec.crop);
  return aligned;
}

/**
 * Brings float64 [height, width] values on a view that was rotated by `rotationDeg` about its
 * centre and then mirrored when `mirror` (as applyAugmentation builds it) back onto the image's
 * grid. Each view cell's centre is mapped to the image position it shows, and its value is split
 * bilinearly over the 4 image cells around that position, clamped to the grid, so the sum is
 * kept. Values of corners that show the black outside of the image land on the nearest edge cell.
 * Returns float64 [height, width].
 */
export function rotatedMapToImage(map: Float64Array, height: number, width: number, rotationDeg: number, mirror: boolean): Float64Array {
  if (map.length !== height * width) {
    throw new RangeError(`rotatedMapToImage: expected ${height}x${width} = ${height * width} values, received ${map.length}`);
  }
  const angle = (rotationDeg * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const out = new Float64Array(height * width);
  const clampX = (x: number) => Math.min(width - 1, Math.max(0, x));
  const clampY = (y: number) => Math.min(height - 1, Math.max(0, y));
  for (let y = 0; y < height; y++) {
    const dy = y + 0.5 - height / 2;
    for (let x = 0; x < width; x++) {
      // The same inverse map as the view's resampling, in grid cells: view -> unrotated -> unmirrored.
      const dx = x + 0.5 - width / 2;
      let u = cos * dx - sin * dy + width / 2;
      const v = sin * dx + cos * dy + height / 2;
      if (mirror) u = width - u;
      const cellX = u - 0.5;
      const cellY = v - 0.5;
      const x0 = Math.floor(cellX);
      const y0 = Math.floor(cellY);
      const fx = cellX - x0;
      const fy = cellY - y0;
      const value = map[y * width + x];
      out[clampY(y0) * width + clampX(x0)] += value * (1 - fx) * (1 - fy);
      out[clampY(y0) * width + clampX(x0 + 1)] += value * fx * (1 - fy);
      out[clampY(y0 + 1) * width + clampX(x0)] += value * (1 - fx) * fy;
      out[clampY(y0 + 1) * width + clampX(x0 + 1)] += value * fx * fy;
    }
  }
  return out;
}

/**
 * Builds the heat map of one image whose `views` fixed views are rows firstRow to
 * firstRow + views - 1 of `batch` (pooled features and maps, see Backbone.extract). Each view's
 * attributeView map is brought into the image's coordinates and the maps are averaged, so for a
 * linear head they sum to (mean of the view logits) - b. Returns its ReLU, float32
 * [height, width] with values >= 0 (0 = no evidence for malignancy), on the finest grid of the
 * maps (14 x 14 for MobileNetV2, 7 x 7 for MobileNet v1). Throws RangeError without maps.
 */
export function logitHeatmap(head: HeadWeights, batch: FeatureBatch, firstRow: number, views: number): Heatmap {
  const maps = batch.maps;
  if (!maps || maps.length === 0) throw new RangeError('logitHeatmap: the feature batch has no maps. Extract it with { maps: true }.');
  const height = Math.max(...maps.map((map) => map.height));
  const width = Math.max(...maps.map((map) => map.width));
  const featureDim = head.featureDim;

  const sum = new Float64Array(height * width);
  for (let view = 0; view < views; view++) {
    const row = firstRow + view;
    const features = batch.pooled.subarray(row * featureDim, (row + 1) * featureDim);
    const aligned = viewMapToImage(attributeView(head, features, maps, row, height, width), height, width, view);
    for (let cell = 0; cell < sum.length; cell++) sum[cell] += aligned[cell];
  }

  const values = new Float32Array(sum.length);
  for (let cell = 0; cell < sum.length; cell++) values[cell] = Math.max(0, sum[cell] / views);
  return { values, height, width };
}
