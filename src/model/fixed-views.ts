/**
 * Deterministic views of an image, shared by feature extraction at training time and by the
 * predictor, so both average logits over exactly the same views.
 */
import { applyAugmentation, IDENTITY_AUGMENTATION } from '../data/augment.js';
import type { RgbImage } from '../data/image.js';
import { resizeRgb } from '../data/image.js';
import { mirrorRgb } from './mirror.js';

/**
 * Crop window of the zoomed views: the central 85% of each side. Adding the zoomed view and its
 * mirror to the image and its mirror, at training and test time, raised the mean AUC of the
 * logistic-regression head in group-aware 5-fold cross-validation on BUSI from 0.933 to 0.939,
 * at twice the backbone time.
 */
export const ZOOM_CROP = Object.freeze({ left: 0.075, top: 0.075, width: 0.85, height: 0.85 });

/**
 * Rotation of views 4 and 5 in degrees, counter-clockwise. Two more views, the image and its
 * mirror each rotated by this angle, raised the pooled specificity at the cross-validated 0.95
 * sensitivity threshold in group-aware 5-fold cross-validation on BUSI (mean of five fold
 * shuffles), at 1.5 times the backbone time.
 */
export const VIEW_ROTATION_DEG = 10;

/** A crop window as fractions of the image's width and height. */
export interface CropWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** One fixed view: the part of the image it shows, and how that part is turned and mirrored. */
export interface FixedViewSpec {
  name: 'image' | 'image_mirrored' | 'zoom' | 'zoom_mirrored' | 'rotated' | 'rotated_mirrored';
  crop: Readonly<CropWindow>;
  /** Rotation about the view's centre in degrees, counter-clockwise when positive. */
  rotationDeg: number;
  /** Whether the view is mirrored left to right, after cropping and rotating. */
  mirror: boolean;
}

const WHOLE_IMAGE: Readonly<CropWindow> = Object.freeze({ left: 0, top: 0, width: 1, height: 1 });

/**
 * The fixed views in order: the image, its mirror, the central zoom, the mirrored zoom, the image
 * rotated by VIEW_ROTATION_DEG and its mirror rotated by the same angle. A mirrored image has the
 * same set of views in another order, so mirroring an image does not change its probability.
 * NOTE: this holds up to rounding only for images of at least 224 pixels a side. libvips enlarges
 * smaller ones in a way that is not mirror symmetric, which moved the probability by up to 0.03.
 */
export const FIXED_VIEWS = Object.freeze([
  { name: 'image', crop: WHOLE_IMAGE, rotationDeg: 0, mirror: false },
  { name: 'image_mirrored', crop: WHOLE_IMAGE, rotationDeg: 0, mirror: true },
  { name: 'zoom', crop: ZOOM_CROP, rotationDeg: 0, mirror: false },
  { name: 'zoom_mirrored', crop: ZOOM_CROP, rotationDeg: 0, mirror: true },
  { name: 'rotated', crop: WHOLE_IMAGE, rotationDeg: VIEW_ROTATION_DEG, mirror: false },
  { name: 'rotated_mirrored', crop: WHOLE_IMAGE, rotationDeg: VIEW_ROTATION_DEG, mirror: true },
] as const satisfies readonly FixedViewSpec[]);

/** Number of fixed views (see FIXED_VIEWS). */
export const FIXED_VIEW_COUNT = FIXED_VIEWS.length;

/** Returns whether a crop window is the whole image. */
export function isWholeImage(crop: Readonly<CropWindow>): boolean {
  return crop.left === 0 && crop.top === 0 && crop.width === 1 && crop.height === 1;
}

/**
 * Builds the first `count` fixed views (see FIXED_VIEWS) of one decoded image (RGB uint8 HWC, any
 * size). Each view is RGB uint8 HWC size x size. Throws RangeError unless 1 <= count <= FIXED_VIEW_COUNT.
 */
export async function fixedViews(image: RgbImage, size: number, count: number): Promise<RgbImage[]> {
  if (!Number.isInteger(count) || count < 1 || count > FIXED_VIEW_COUNT) {
    throw new RangeError(`fixedViews: count must be an integer from 1 to ${FIXED_VIEW_COUNT}, received ${count}`);
  }
  // Whole-image views are resized by libvips and mirrored exactly. The others are resampled from the source.
  const base = await resizeRgb(image, size);
  const views: RgbImage[] = [];
  for (const spec of FIXED_VIEWS.slice(0, count) as readonly FixedViewSpec[]) {
    if (spec.rotationDeg === 0 && isWholeImage(spec.crop)) {
      views.push(spec.mirror ? mirrorRgb(base) : base);
    } else {
      const params = { ...IDENTITY_AUGMENTATION, crop: spec.crop, rotationDeg: spec.rotationDeg, flipHorizontal: spec.mirror };
      views.push(await applyAugmentation(image, params, size));
    }
  }
  return views;
}
