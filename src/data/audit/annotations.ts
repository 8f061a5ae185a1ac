/**
 * Heuristic detection of burned-in annotations (calipers, measurement crosses, text) on grey
 * ultrasound images. Two cues are counted:
 * - coloured pixels: max(R, G, B) - min(R, G, B) >= 60, since B-mode ultrasound is grey and
 *   markers are often drawn in colour;
 * - thin bright marks: pixels >= 200 that are at least 90 brighter than the mean of their 7x7
 *   neighbourhood, since caliper crosses and text strokes are one or two pixels wide while
 *   bright tissue comes in wider blobs. A 5% border is ignored, where scanners put an orientation mark.
 * An image is flagged when either count reaches `minPixels`. NOTE: the thresholds were set by
 * looking at BUSI contact sheets, where small grey calipers are still missed on some images and a
 * few bright speckle-rich images are flagged without markers.
 */
import type { RgbImage } from '../image.js';

export const ANNOTATION_THRESHOLDS = Object.freeze({
  minColourSpread: 60,
  minMarkValue: 200,
  minMarkContrast: 90,
  neighbourhoodRadius: 3,
  /** Border ignored by the mark cue, as a fraction of width and height: scanners put a small orientation mark in a corner. */
  borderFraction: 0.05,
  /** Pixels of one cue needed to flag an image. */
  minPixels: 6,
});

export interface AnnotationFinding {
  /** True when the image probably carries burned-in markers or text. */
  flagged: boolean;
  colourPixels: number;
  markPixels: number;
}

/** Looks for burned-in annotations on an RGB uint8 HWC image (see the file comment for the heuristic). */
export function detectAnnotations(image: RgbImage): AnnotationFinding {
  const { width, height, data } = image;
  const t = ANNOTATION_THRESHOLDS;
  const grey = new Float64Array(width * height);
  let colourPixels = 0;
  for (let i = 0; i < width * height; i++) {
    const r = data[i * 3];
    const g = data[i * 3 + 1];
    const b = data[i * 3 + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) >= t.minColourSpread) colourPixels++;
    grey[i] = (r + g + b) / 3;
  }

  // Summed-area table for neighbourhood means.
  const stride = width + 1;
  const integral = new Float64Array(stride * (height + 1));
  for (let y = 0; y < height; y++) {
    let rowSum = 0;
    for (let x = 0; x < width; x++) {
      rowSum += grey[y * width + x];
      integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + rowSum;
    }
  }
  let markPixels = 0;
  const radius = t.neighbourhoodRadius;
  const borderX = Math.round(width * t.borderFraction);
  const borderY = Math.round(height * t.borderFraction);
  for (let y = borderY; y < height - borderY; y++) {
    for (let x = borderX; x < width - borderX; x++) {
      const value = grey[y * width + x];
      if (value < t.minMarkValue) continue;
      const x0 = Math.max(0, x - radius);
      const y0 = Math.max(0, y - radius);
      const x1 = Math.min(width, x + radius + 1);
      const y1 = Math.min(height, y + radius + 1);
      const sum = integral[y1 * stride + x1] - integral[y0 * stride + x1] - integral[y1 * stride + x0] + integral[y0 * stride + x0];
      const mean = sum / ((x1 - x0) * (y1 - y0));
      if (value - mean >= t.minMarkContrast) markPixels++;
    }
  }
  return { flagged: colourPixels >= t.minPixels || markPixels >= t.minPixels, colourPixels, markPixels };
}
