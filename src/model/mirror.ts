import type { RgbImage } from '../data/image.js';

/** Mirrors an image left to right. `image`: RGB uint8 HWC; returns a new RGB uint8 HWC image of the same size. */
export function mirrorRgb(image: RgbImage): RgbImage {
  const { width, height } = image;
  const data = new Uint8Array(image.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      const to = (y * width + (width - 1 - x)) * 3;
      data[to] = image.data[from];
      data[to + 1] = image.data[from + 1];
      data[to + 2] = image.data[from + 2];
    }
  }
  return { data, width, height };
}
