/**
 * Training-time augmentation of ultrasound images. One random draw (`sampleAugmentation`) is
 * kept apart from applying it (`applyAugmentation`), so a draw can be logged, cached or replayed.
 */
import { ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { resizeRgb, type RgbImage } from './image.js';

/** One draw of augmentation parameters. `IDENTITY_AUGMENTATION` leaves the image unchanged. */
export interface AugmentationParams {
  /** Mirror left-right. */
  flipHorizontal: boolean;
  /** Rotation about the image centre in degrees, positive is counter-clockwise. */
  rotationDeg: number;
  /** Crop window as fractions of the source width and height, applied before resizing. */
  crop: { left: number; top: number; width: number; height: number };
  /** Multiplicative gain on intensities in [0, 1], as the probe's overall gain; 1 = unchanged. */
  gain: number;
  /** Contrast factor about mid-grey 0.5; 1 = unchanged. */
  contrast: number;
  /** Gamma exponent on intensities in [0, 1]; 1 = unchanged. */
  gamma: number;
  /** Standard deviation of multiplicative speckle noise `v * (1 + sigma * N(0, 1))`; 0 = none. */
  speckleSigma: number;
  /** Seed of the speckle noise field (uint32). */
  noiseSeed: number;
  /** Unsharp-mask amount against a 3x3 box blur: above 0 sharpens, -1 is the full box blur, 0 = none. */
  sharpness: number;
}

export const IDENTITY_AUGMENTATION: AugmentationParams = Object.freeze({
  flipHorizontal: false,
  rotationDeg: 0,
  crop: Object.freeze({ left: 0, top: 0, width: 1, height: 1 }),
  gain: 1,
  contrast: 1,
  gamma: 1,
  speckleSigma: 0,
  noiseSeed: 0,
  sharpness: 0,
});

/** Ranges at strength 1. Each range shrinks linearly towards the identity as strength goes to 0. */
export const AUGMENTATION_RANGES = Object.freeze({
  /** Probability of a horizontal flip (constant for any strength above 0). */
  flipProbability: 0.5,
  /** Maximum absolute rotation in degrees. */
  maxRotationDeg: 15,
  /** Minimum crop area as a fraction of the image (random resized crop). */
  minCropArea: 0.8,
  /** Maximum crop aspect-ratio change, as a factor on width/height: [1/x, x]. */
  maxAspectChange: 1.1,
  /** Gain drawn from [1 - x, 1 + x]. */
  gainDelta: 0.2,
  /** Contrast drawn from [1 - x, 1 + x]. */
  contrastDelta: 0.2,
  /** Gamma drawn log-uniformly from [1/x, x]. */
  maxGammaFactor: 1.25,
  /** Speckle sigma drawn from [0, x]. */
  maxSpeckleSigma: 0.15,
  /** Sharpness drawn from [-x, x]. */
  maxSharpness: 1,
});

/**
 * Draws one set of augmentation parameters from `rng`. `strength` in [0, 1] scales every range
 * (0 gives `IDENTITY_AUGMENTATION`, default 1 gives AUGMENTATION_RANGES). Always consumes the
 * same number of draws from `rng`, so later draws do not depend on the strength.
 */
export function sampleAugmentation(rng: Rng, strength = 1): AugmentationParams {
  if (!Number.isFinite(strength) || strength < 0 || strength > 1) {
    throw new ConfigError(`augmentation strength: expected a number in [0, 1], received ${strength}`);
  }
  const r = AUGMENTATION_RANGES;
  const flipDraw = rng.next();
  const rotationDraw = rng.uniform(-1, 1);
  const areaDraw = rng.next();
  const aspectDraw = rng.uniform(-1, 1);
  const leftDraw = rng.next();
  const topDraw = rng.next();
  const gainDraw = rng.uniform(-1, 1);
  const contrastDraw = rng.uniform(-1, 1);
  const gammaDraw = rng.uniform(-1, 1);
  const speckleDraw = rng.next();
  const noiseSeed = rng.int(2 ** 32);
  const sharpnessDraw = rng.uniform(-1, 1);

  // Random resized crop: area fraction and aspect change, then a position inside the image.
  const area = 1 - strength * (1 - r.minCropArea) * areaDraw;
  const aspect = Math.exp(strength * Math.log(r.maxAspectChange) * aspectDraw);
  const width = Math.min(1, Math.sqrt(area * aspect));
  const height = Math.min(1, Math.sqrt(area / aspect));

  return {
    flipHorizontal: strength > 0 && flipDraw < r.flipProbability,
    rotationDeg: strength * r.maxRotationDeg * rotationDraw,
    crop: { left: (1 - width) * leftDraw, top: (1 - height) * topDraw, width, height },
    gain: 1 + strength * r.gainDelta * gainDraw,
    contrast: 1 + strength * r.contrastDelta * contrastDraw,
    gamma: Math.exp(strength * Math.log(r.maxGammaFactor) * gammaDraw),
    speckleSigma: strength * r.maxSpeckleSigma * speckleDraw,
    noiseSeed: strength > 0 ? noiseSeed : 0,
    sharpness: strength * r.maxSharpness * sharpnessDraw,
  };
}

/** Pixels in HWC order with 1 (grey) or 3 (RGB) uint8 channels. */
interface Plane {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Returns the image as one grey channel when R = G = B everywhere, else as RGB (no copy). */
function toPlane(image: RgbImage): Plane {
  const { data, width, height } = image;
  for (let i = 0; i < data.length; i += 3) {
    if (data[i] !== data[i + 1] || data[i] !== data[i + 2]) return { data, width, height, channels: 3 };
  }
  const grey = new Uint8Array(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = data[i * 3];
  return { data: grey, width, height, channels: 1 };
}

function toRgb(plane: Plane): RgbImage {
  if (plane.channels === 3) return { data: plane.data, width: plane.width, height: plane.height };
  const data = new Uint8Array(plane.data.length * 3);
  for (let i = 0; i < plane.data.length; i++) {
    const value = plane.data[i];
    data[i * 3] = value;
    data[i * 3 + 1] = value;
    data[i * 3 + 2] = value;
  }
  return { data, width: plane.width, height: plane.height };
}

/**
 * Resamples the crop window of an RGB image into a size x size image, flipped and rotated about
 * the output centre, in one bilinear pass. Positions outside the source image are black, as the
 * area outside an ultrasound sector is.
 */
function warpCrop(image: Plane, params: AugmentationParams, size: number): Plane {
  const { width, height, channels, data: source } = image;
  const output = new Uint8Array(size * size * channels);
  const angle = (params.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const centre = size / 2;
  const scaleX = (params.crop.width * width) / size;
  const scaleY = (params.crop.height * height) / size;
  const offsetX = params.crop.left * width;
  const offsetY = params.crop.top * height;
  const rowStride = width * channels;
  for (let y = 0; y < size; y++) {
    const dy = y + 0.5 - centre;
    for (let x = 0; x < size; x++) {
      // Inverse map at pixel centres: output -> unrotated output -> unflipped -> source pixel.
      const dx = x + 0.5 - centre;
      let u = cos * dx - sin * dy + centre;
      const v = sin * dx + cos * dy + centre;
      if (params.flipHorizontal) u = size - u;
      const sx = offsetX + u * scaleX - 0.5;
      const sy = offsetY + v * scaleY - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;

      const target = (y * size + x) * channels;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height) {
        const p = y0 * rowStride + x0 * channels;
        for (let c = 0; c < channels; c++) {
          const value = w00 * source[p + c] + w10 * source[p + channels + c] + w01 * source[p + rowStride + c] + w11 * source[p + rowStride + channels + c];
          output[target + c] = value + 0.5;
        }
        continue;
      }

      // Border: neighbours outside the image count as black.
      const inX0 = x0 >= 0 && x0 < width;
      const inX1 = x0 + 1 >= 0 && x0 + 1 < width;
      const inY0 = y0 >= 0 && y0 < height;
      const inY1 = y0 + 1 >= 0 && y0 + 1 < height;
      for (let c = 0; c < channels; c++) {
        let value = 0;
        if (inY0 && inX0) value += w00 * source[y0 * rowStride + x0 * channels + c];
        if (inY0 && inX1) value += w10 * source[y0 * rowStride + (x0 + 1) * channels + c];
        if (inY1 && inX0) value += w01 * source[(y0 + 1) * rowStride + x0 * channels + c];
        if (inY1 && inX1) value += w11 * source[(y0 + 1) * rowStride + (x0 + 1) * channels + c];
        output[target + c] = value + 0.5;
      }
    }
  }
  return { data: output, width: size, height: size, channels };
}

/** Applies `v + amount * (v - box3x3(v))` per channel in place, with edge pixels replicated. */
function unsharpMask(image: Plane, amount: number): void {
  const { width, height, channels, data } = image;
  const rowStride = width * channels;

  // Horizontal 3-tap sums, then vertical 3-tap sums of those: the 3x3 box sum.
  const horizontal = new Uint16Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * rowStride;
    for (let x = 0; x < width; x++) {
      const left = row + Math.max(0, x - 1) * channels;
      const centre = row + x * channels;
      const right = row + Math.min(width - 1, x + 1) * channels;
      for (let c = 0; c < channels; c++) horizontal[centre + c] = data[left + c] + data[centre + c] + data[right + c];
    }
  }
  for (let y = 0; y < height; y++) {
    const up = Math.max(0, y - 1) * rowStride;
    const row = y * rowStride;
    const down = Math.min(height - 1, y + 1) * rowStride;
    for (let i = 0; i < rowStride; i++) {
      const mean = (horizontal[up + i] + horizontal[row + i] + horizontal[down + i]) / 9;
      const value = data[row + i];
      const sharpened = value + amount * (value - mean) + 0.5;
      data[row + i] = Math.min(255, Math.max(0, sharpened));
    }
  }
}

/** Standard normal values drawn once with a fixed seed; speckle noise indexes into this table. */
const NORMAL_TABLE_SIZE = 1 << 16;
const NORMAL_TABLE = (() => {
  const rng = new Rng(0x5eed);
  const table = new Float32Array(NORMAL_TABLE_SIZE);
  for (let i = 0; i < NORMAL_TABLE_SIZE; i++) table[i] = rng.normal();
  return table;
})();

/** Multiplies each pixel (all channels alike) by `1 + sigma * n`, n standard normal, in place. */
function addSpeckle(image: Plane, sigma: number, seed: number): void {
  const { data, channels } = image;
  // xorshift32 picks table entries; it is cheaper per pixel than Box-Muller on the Rng.
  let state = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < data.length; i += channels) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const factor = 1 + sigma * NORMAL_TABLE[state & (NORMAL_TABLE_SIZE - 1)];
    for (let c = 0; c < channels; c++) {
      const value = data[i + c] * factor + 0.5;
      data[i + c] = Math.min(255, Math.max(0, value));
    }
  }
}

/** Builds the 256-entry table for gain, contrast about 0.5 and gamma, on intensities in [0, 1]. */
function intensityTable(params: AugmentationParams): Uint8Array {
  const table = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    let x = (v / 255) * params.gain;
    x = (x - 0.5) * params.contrast + 0.5;
    x = Math.max(0, Math.min(1, x));
    table[v] = Math.round(255 * x ** params.gamma);
  }
  return table;
}

/**
 * Applies one parameter draw to an RGB uint8 HWC image and returns a size x size RGB uint8 HWC
 * image. Steps: crop, resize, flip and rotation (one bilinear pass, or resizeRgb when the geometry
 * is the identity), sharpness, gain/contrast/gamma, speckle noise (the same factor on all three
 * channels, since ultrasound is grey). With IDENTITY_AUGMENTATION the result equals
 * `resizeRgb(image, size)`.
 */
export async function applyAugmentation(image: RgbImage, params: AugmentationParams, size: number): Promise<RgbImage> {
  // Crop, resize, flip and rotate; grey images (R = G = B) are processed as one channel.
  const { crop } = params;
  const isFullCrop = crop.left === 0 && crop.top === 0 && crop.width === 1 && crop.height === 1;
  const plane = isFullCrop && !params.flipHorizontal && params.rotationDeg === 0
    ? toPlane(await resizeRgb(image, size))
    : warpCrop(toPlane(image), params, size);

  // Sharpness
  if (params.sharpness !== 0) unsharpMask(plane, params.sharpness);

  // Gain, contrast and gamma
  if (params.gain !== 1 || params.contrast !== 1 || params.gamma !== 1) {
    const table = intensityTable(params);
    const data = plane.data;
    for (let i = 0; i < data.length; i++) data[i] = table[data[i]];
  }

  // Multiplicative speckle noise
  if (params.speckleSigma > 0) addSpeckle(plane, params.speckleSigma, params.noiseSeed);
  return toRgb(plane);
}
