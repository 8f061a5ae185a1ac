import { DataError } from '../errors.js';
import type { RgbImage } from './image.js';
import { isWholeBox, trimPadding } from './padding.js';

/**
 * Shortest side in pixels below which an image is too small to assess. The model resizes every image
 * to 224 x 224, and upscaled thumbnails look malignant to it: of 20 BUSI benign images shrunk to
 * 32, 64 and 128 pixels, it called 16, 6 and 0 malignant. Ultrasound frames are far larger.
 */
export const MIN_ASSESSABLE_SIDE = 128;

/**
 * Standard deviation of the grey level (0-255) below which an image counts as blank. The 780
 * BUSI images range from 27 to 74 (median 52). A uniform image carries no information, yet the
 * model would still return a probability near 0.5 for it.
 */
export const MIN_GREY_LEVEL_SD = 2;

/** Reason why checkAssessable rejected an image. */
export type UnassessableReason = 'too_small' | 'blank';

/** DataError for an image that decodes but is too small or blank to assess. */
export class UnassessableImageError extends DataError {
  override name = 'UnassessableImageError';
  readonly reason: UnassessableReason;
  constructor(reason: UnassessableReason, message: string, path?: string) {
    super(message, path);
    this.reason = reason;
  }
}

/**
 * Throws UnassessableImageError (a DataError) naming `name` when an image (RGB uint8 HWC) is too
 * small or blank to assess, so no probability is reported for it. Both checks apply to the whole
 * image and to the part left after cutting off black padding bands (see trimPadding), because
 * that part is what the model scores.
 */
export function checkAssessable(image: RgbImage, name: string): void {
  checkContent(image, name, 'image');
  const trimmed = trimPadding(image);
  if (!isWholeBox(trimmed.box, image)) checkContent(trimmed.image, name, 'image content inside the black bands');
}

/** Throws UnassessableImageError when `image` is too small or blank; `subject` names it in the message. */
function checkContent(image: RgbImage, name: string, subject: string): void {
  if (Math.min(image.width, image.height) < MIN_ASSESSABLE_SIDE) {
    throw new UnassessableImageError(
      'too_small',
      `${name}: ${subject} is ${image.width}x${image.height} pixels, too small to assess (at least ${MIN_ASSESSABLE_SIDE} pixels on each side are needed)`,
      name,
    );
  }
  const sd = greyLevelSd(image);
  if (sd < MIN_GREY_LEVEL_SD) {
    throw new UnassessableImageError(
      'blank',
      `${name}: ${subject} is blank (grey-level standard deviation ${sd.toFixed(2)}, below ${MIN_GREY_LEVEL_SD}); check that the right file was exported`,
      name,
    );
  }
}

/** Returns the standard deviation of the grey level (mean of R, G, B) over at most about 65,000 sampled pixels. */
export function greyLevelSd(image: RgbImage): number {
  const pixels = image.width * image.height;
  const step = Math.max(1, Math.floor(pixels / 65536));
  let count = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let pixel = 0; pixel < pixels; pixel += step) {
    const offset = pixel * 3;
    const grey = (image.data[offset] + image.data[offset + 1] + image.data[offset + 2]) / 3;
    sum += grey;
    sumSquares += grey * grey;
    count++;
  }
  const mean = sum / count;
  return Math.sqrt(Math.max(0, sumSquares / count - mean * mean));
}
