/**
 * Perceptual hash (pHash): the signs of the lowest 8x8 DCT frequencies of a 32x32 grey
 * thumbnail, compared with their median. Global brightness and contrast changes, re-compression
 * and shifts of a few pixels change few bits, while different images differ in about half of the
 * 64 bits. In natural images the DC coefficient is the largest and sets its bit, and 31 of the
 * other 63 lie above their median, so hashes have 32 set bits and distances are then even.
 */
import type { RgbImage } from '../image.js';

const THUMBNAIL_SIZE = 32;
const HASH_SIZE = 8;

/** Cosine table for the 32-point DCT-II: COSINES[u * 32 + x] = cos((2x + 1) u pi / 64). */
const COSINES = (() => {
  const table = new Float64Array(THUMBNAIL_SIZE * THUMBNAIL_SIZE);
  for (let u = 0; u < THUMBNAIL_SIZE; u++) {
    for (let x = 0; x < THUMBNAIL_SIZE; x++) {
      table[u * THUMBNAIL_SIZE + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * THUMBNAIL_SIZE));
    }
  }
  return table;
})();

/** Averages an RGB uint8 HWC image into a 32x32 grey thumbnail (box filter over each cell). */
function greyThumbnail(image: RgbImage): Float64Array {
  const { width, height, data } = image;
  const sums = new Float64Array(THUMBNAIL_SIZE * THUMBNAIL_SIZE);
  const counts = new Float64Array(THUMBNAIL_SIZE * THUMBNAIL_SIZE);
  for (let y = 0; y < height; y++) {
    const cellY = Math.min(THUMBNAIL_SIZE - 1, Math.floor((y * THUMBNAIL_SIZE) / height));
    for (let x = 0; x < width; x++) {
      const cellX = Math.min(THUMBNAIL_SIZE - 1, Math.floor((x * THUMBNAIL_SIZE) / width));
      const p = (y * width + x) * 3;
      sums[cellY * THUMBNAIL_SIZE + cellX] += (data[p] + data[p + 1] + data[p + 2]) / 3;
      counts[cellY * THUMBNAIL_SIZE + cellX] += 1;
    }
  }
  for (let i = 0; i < sums.length; i++) sums[i] /= Math.max(1, counts[i]);
  return sums;
}

/** Returns the 64-bit pHash of an RGB uint8 HWC image as 16 hex digits. */
export function perceptualHash(image: RgbImage): string {
  return perceptualHashes(image).hash;
}

/**
 * Returns the pHash of an RGB uint8 HWC image and the pHash of its left-right mirror, both as 16
 * hex digits. Mirroring a row negates its odd horizontal DCT frequencies, so the mirror's hash
 * comes from the same coefficients. It equals the hash of the mirrored image when the width is a
 * multiple of 32, and differs by the thumbnail's cell rounding otherwise.
 */
export function perceptualHashes(image: RgbImage): { hash: string; mirrored: string } {
  const coefficients = lowFrequencies(greyThumbnail(image));
  const mirrored = coefficients.map((value, index) => (index % HASH_SIZE) % 2 === 1 ? -value : value);
  return { hash: hashBits(coefficients), mirrored: hashBits(mirrored) };
}

/** Returns the lowest 8x8 DCT-II coefficients of a 32x32 thumbnail, row v then column u, as [v * 8 + u]. */
function lowFrequencies(pixels: Float64Array): number[] {
  const n = THUMBNAIL_SIZE;

  // Separable DCT-II, only the lowest HASH_SIZE frequencies in each direction.
  const rows = new Float64Array(n * HASH_SIZE);
  for (let y = 0; y < n; y++) {
    for (let u = 0; u < HASH_SIZE; u++) {
      let sum = 0;
      for (let x = 0; x < n; x++) sum += pixels[y * n + x] * COSINES[u * n + x];
      rows[y * HASH_SIZE + u] = sum;
    }
  }
  const coefficients: number[] = [];
  for (let v = 0; v < HASH_SIZE; v++) {
    for (let u = 0; u < HASH_SIZE; u++) {
      let sum = 0;
      for (let y = 0; y < n; y++) sum += rows[y * HASH_SIZE + u] * COSINES[v * n + y];
      coefficients.push(sum);
    }
  }
  return coefficients;
}

/** Returns 16 hex digits: one bit per coefficient, set when it lies above the median of the 63 non-DC ones. */
function hashBits(coefficients: readonly number[]): string {
  const median = [...coefficients.slice(1)].sort((a, b) => a - b)[31];
  let hex = '';
  for (let nibble = 0; nibble < 16; nibble++) {
    let value = 0;
    for (let bit = 0; bit < 4; bit++) value = (value << 1) | (coefficients[nibble * 4 + bit] > median ? 1 : 0);
    hex += value.toString(16);
  }
  return hex;
}

/** Returns the number of differing bits between two 16-hex-digit hashes (0 to 64). */
export function hammingDistance(a: string, b: string): number {
  let distance = 0;
  for (let i = 0; i < a.length; i++) {
    let x = Number.parseInt(a[i], 16) ^ Number.parseInt(b[i], 16);
    while (x) {
      distance += x & 1;
      x >>= 1;
    }
  }
  return distance;
}
