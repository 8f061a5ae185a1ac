import type { RgbImage } from './image.js';

/** A pixel is padding black when its brightest channel is at most this level (0-255). */
export const PADDING_LEVEL = 4;

/** A row or column still counts as padding when at most this fraction of its pixels is brighter. */
export const PADDING_TOLERANCE = 0.01;

/** A padding band is trimmed only when it is at least this fraction of the image side. */
export const MIN_PADDING_BAND = 0.1;

/** A rectangle in pixel coordinates of an image. */
export interface PixelBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Finds the part of an image (RGB uint8 HWC) left after trimming black padding bands, such as
 * the letterbox bars of a screen capture. Dark deep tissue mostly keeps speckle above
 * PADDING_LEVEL; in BUSI its darkest bands span at most 6% of the height, below MIN_PADDING_BAND,
 * so no BUSI image is trimmed. A band on one side is trimmed when at least MIN_PADDING_BAND
 * of the side wide and at most PADDING_TOLERANCE of each of its rows or columns is brighter than
 * PADDING_LEVEL. Columns are found first, then rows within the kept columns. The rule is
 * symmetric, so a mirrored image gives the mirrored box. An all-black image keeps its full box.
 */
export function findContentBox(image: RgbImage): PixelBox {
  const { width, height } = image;
  const bright = brightMask(image);
  const columnCounts = new Uint32Array(width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) columnCounts[x] += bright[y * width + x];
  }
  const [left, right] = keptRange(columnCounts, height);
  const rowCounts = new Uint32Array(height);
  for (let y = 0; y < height; y++) {
    let count = 0;
    for (let x = left; x < right; x++) count += bright[y * width + x];
    rowCounts[y] = count;
  }
  const [top, bottom] = keptRange(rowCounts, right - left);
  return { left, top, width: right - left, height: bottom - top };
}

/**
 * Returns the image (RGB uint8 HWC) cut to its content box (see findContentBox), and the box.
 * An image without padding bands is returned as is.
 */
export function trimPadding(image: RgbImage): { image: RgbImage; box: PixelBox } {
  const box = findContentBox(image);
  if (box.width === image.width && box.height === image.height) return { image, box };
  const data = new Uint8Array(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * image.width + box.left) * 3;
    data.set(image.data.subarray(from, from + box.width * 3), y * box.width * 3);
  }
  return { image: { data, width: box.width, height: box.height }, box };
}

/** Returns 1 for each pixel brighter than PADDING_LEVEL in any channel, else 0, as uint8 [height * width]. */
function brightMask(image: RgbImage): Uint8Array {
  const mask = new Uint8Array(image.width * image.height);
  const { data } = image;
  for (let i = 0; i < mask.length; i++) {
    mask[i] = data[i * 3] > PADDING_LEVEL || data[i * 3 + 1] > PADDING_LEVEL || data[i * 3 + 2] > PADDING_LEVEL ? 1 : 0;
  }
  return mask;
}

/**
 * Returns [start, end) of the lines to keep, given each line's count of bright pixels out of
 * `lineLength`. A side's padding band is dropped when it reaches MIN_PADDING_BAND of the lines.
 */
function keptRange(counts: Uint32Array, lineLength: number): [number, number] {
  const lines = counts.length;
  const isPadding = (index: number) => counts[index] <= PADDING_TOLERANCE * lineLength;
  let start = 0;
  while (start < lines && isPadding(start)) start++;
  if (start === lines) return [0, lines];
  let end = lines;
  while (end > start && isPadding(end - 1)) end--;
  const minimum = MIN_PADDING_BAND * lines;
  return [start >= minimum ? start : 0, lines - end >= minimum ? end : lines];
}
