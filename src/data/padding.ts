import type { RgbImage } from './image.js';

/** The test that decides which lines at one edge of an image are padding. */
export interface PaddingRule {
  /** A pixel is bright when any channel exceeds this level (0-255). */
  level: number;
  /** A line is padding when at most this fraction of its pixels is bright. */
  tolerance: number;
  /**
   * Maximum run of non-padding lines inside a band, as a fraction of the lines, when padding lines
   * follow it. Such a run is a caption printed in a black bar. 0 allows none.
   */
  maxGap: number;
  /** A band is cut only when it is at least this fraction of the lines; narrower bands stay. */
  minBand: number;
}

/**
 * Rule of the left, right and top edges. Video capture puts black at level 16 or so, bars carry
 * text, while tissue columns and the top rows hold the bright tissue under the skin. Narrow
 * bands matter: a black frame of 25 pixels around 40 benign BUSI images (256 pixels) turned 26
 * of them malignant, so bands from 3% of the side are cut.
 */
export const EDGE_PADDING_RULE: Readonly<PaddingRule> = Object.freeze({ level: 24, tolerance: 0.05, maxGap: 0.03, minBand: 0.03 });

/**
 * Rule of the bottom edge: deep tissue can be nearly black, so only pure black counts, without
 * gaps, and only from a tenth of the height. In BUSI, pure black runs at the bottom reach 6% of
 * the height and are tissue beyond the imaging depth, which stays.
 */
export const BOTTOM_PADDING_RULE: Readonly<PaddingRule> = Object.freeze({ level: 4, tolerance: 0.01, maxGap: 0, minBand: 0.1 });

/** A rectangle in pixel coordinates of an image. */
export interface PixelBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Finds the part of an image (RGB uint8 HWC) left after cutting off black padding bands, such as
 * the bars of a screen capture. Columns come first: the left and right bands by
 * EDGE_PADDING_RULE. Then rows, counting only the kept columns: the top band by
 * EDGE_PADDING_RULE and the bottom band by BOTTOM_PADDING_RULE. A band is cut when it reaches
 * its rule's minBand. In BUSI, three images lose black side margins of 8 to 28 of their 256
 * columns. The rule treats left and right alike, so a mirrored
 * image gives the mirrored box. An image that is padding throughout keeps its full box.
 */
export function findContentBox(image: RgbImage): PixelBox {
  const { width, height } = image;
  const brightest = brightestChannel(image);
  const edge = EDGE_PADDING_RULE;
  const bottomRule = BOTTOM_PADDING_RULE;

  const columnCounts = new Uint32Array(width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) if (brightest[y * width + x] > edge.level) columnCounts[x]++;
  }
  const columnIsPadding = (x: number) => columnCounts[x] <= edge.tolerance * height;
  const [left, right] = keptRange(width, columnIsPadding, columnIsPadding, edge, edge);

  const keptWidth = right - left;
  const topCounts = new Uint32Array(height);
  const bottomCounts = new Uint32Array(height);
  for (let y = 0; y < height; y++) {
    for (let x = left; x < right; x++) {
      const value = brightest[y * width + x];
      if (value > edge.level) topCounts[y]++;
      if (value > bottomRule.level) bottomCounts[y]++;
    }
  }
  const [top, bottom] = keptRange(
    height,
    (y) => topCounts[y] <= edge.tolerance * keptWidth,
    (y) => bottomCounts[y] <= bottomRule.tolerance * keptWidth,
    edge,
    bottomRule,
  );
  return { left, top, width: right - left, height: bottom - top };
}

/** Results of trimPadding by image object, so the checks, the predictor and the web app share one pass. */
const trimmedByImage = new WeakMap<RgbImage, { image: RgbImage; box: PixelBox }>();

/**
 * Returns the image (RGB uint8 HWC) cut to its content box (see findContentBox), and the box.
 * An image without padding bands is returned as is. The result is remembered for the image
 * object (about 12 ms for 1024x768 pixels), so the image must not change after it is trimmed.
 */
export function trimPadding(image: RgbImage): { image: RgbImage; box: PixelBox } {
  let trimmed = trimmedByImage.get(image);
  if (!trimmed) {
    const box = findContentBox(image);
    trimmed = { image: isWholeBox(box, image) ? image : cropRgb(image, box), box };
    trimmedByImage.set(image, trimmed);
  }
  return trimmed;
}

/** Returns a copy of the part `box` of an image (RGB uint8 HWC); `box` must lie inside the image. */
function cropRgb(image: RgbImage, box: PixelBox): RgbImage {
  const data = new Uint8Array(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * image.width + box.left) * 3;
    data.set(image.data.subarray(from, from + box.width * 3), y * box.width * 3);
  }
  return { data, width: box.width, height: box.height };
}

/** Returns whether `box` covers the whole of an image of the given size. */
export function isWholeBox(box: PixelBox, size: { width: number; height: number }): boolean {
  return box.left === 0 && box.top === 0 && box.width === size.width && box.height === size.height;
}

/** Returns each pixel's brightest channel, uint8 [height * width]. */
function brightestChannel(image: RgbImage): Uint8Array {
  const out = new Uint8Array(image.width * image.height);
  const { data } = image;
  for (let i = 0; i < out.length; i++) out[i] = Math.max(data[i * 3], data[i * 3 + 1], data[i * 3 + 2]);
  return out;
}

/**
 * Returns [start, end) of the `lines` to keep, given which lines count as padding from the start
 * edge and from the end edge, and each edge's rule. When both bands together would cover every
 * line, nothing is cut.
 */
function keptRange(
  lines: number,
  paddingFromStart: (index: number) => boolean,
  paddingFromEnd: (index: number) => boolean,
  startRule: Readonly<PaddingRule>,
  endRule: Readonly<PaddingRule>,
): [number, number] {
  const startBand = bandLength(lines, (step) => paddingFromStart(step), startRule);
  const endBand = bandLength(lines, (step) => paddingFromEnd(lines - 1 - step), endRule);
  const start = startBand >= startRule.minBand * lines ? startBand : 0;
  const end = endBand >= endRule.minBand * lines ? lines - endBand : lines;
  return end > start ? [start, end] : [0, lines];
}

/**
 * Returns how many lines from an edge belong to its padding band: the lines up to the last
 * padding line that is reached, stepping over runs of non-padding lines no longer than
 * rule.maxGap of the lines. `isPadding(step)` is true when the line `step` lines in from the
 * edge is padding.
 */
function bandLength(lines: number, isPadding: (step: number) => boolean, rule: Readonly<PaddingRule>): number {
  const maxGap = Math.floor(rule.maxGap * lines);
  let band = 0;
  let step = 0;
  while (step < lines) {
    if (isPadding(step)) {
      step++;
      band = step;
      continue;
    }
    let runEnd = step;
    while (runEnd < lines && !isPadding(runEnd)) runEnd++;
    if (runEnd - step > maxGap || runEnd === lines) break;
    step = runEnd;
  }
  return band;
}
