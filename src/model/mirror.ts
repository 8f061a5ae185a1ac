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

/** Mirrors a float32 or float64 [height, width] map left to right into a new array of the same type and size. */
export function mirrorMap<T extends Float32Array | Float64Array>(map: T, height: number, width: number): T {
  if (map.length !== height * width) {
    throw new RangeError(`mirrorMap: expected ${height}x${width} = ${height * width} values, received ${map.length}`);
  }
  const mirrored = map.slice() as T;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) mirrored[y * width + (width - 1 - x)] = map[y * width + x];
  }
  return mirrored;
}
