/**
 * Small JPEG thumbnails and heat-map overlays for the run report and the web app.
 */
import sharp from 'sharp';

import { ConfigError, DataError } from '../errors.js';
import type { RgbImage } from '../data/image.js';
import type { EmbeddedImage } from './report-input.js';

function validateRgbImage(image: RgbImage, what: string): void {
  if (!(Number.isInteger(image.width) && image.width > 0 && Number.isInteger(image.height) && image.height > 0)) {
    throw new DataError(`${what}: expected a positive integer width and height, received ${image.width}x${image.height}`);
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new DataError(
      `${what}: expected ${image.width * image.height * 3} bytes for a ${image.width}x${image.height} RGB image, received ${image.data.length}`,
    );
  }
}

/**
 * Encodes `image` (RGB uint8 HWC, 0-255) as a JPEG that fits in `size` x `size` pixels, keeping
 * the aspect ratio. Images smaller than `size` are not enlarged. `quality` is the JPEG quality, 1-100.
 */
export async function thumbnailJpeg(image: RgbImage, size = 160, quality = 80): Promise<EmbeddedImage> {
  validateRgbImage(image, 'thumbnail');
  if (!(Number.isInteger(size) && size > 0)) {
    throw new ConfigError(`thumbnail: expected a positive integer size in pixels, received ${size}`);
  }
  if (!(Number.isInteger(quality) && quality >= 1 && quality <= 100)) {
    throw new ConfigError(`thumbnail: expected an integer JPEG quality from 1 to 100, received ${quality}`);
  }
  const jpeg = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(size, size, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality })
    .toBuffer();
  return { mime: 'image/jpeg', base64: jpeg.toString('base64') };
}

/** Encodes `image` (RGB uint8 HWC, 0-255) as a JPEG thumbnail `data:` URI (see `thumbnailJpeg`). */
export async function thumbnailDataUri(image: RgbImage, size = 160, quality = 80): Promise<string> {
  const thumbnail = await thumbnailJpeg(image, size, quality);
  return `data:${thumbnail.mime};base64,${thumbnail.base64}`;
}

/**
 * Ten evenly spaced stops of the inferno colormap, from #000004 to #FCFFA4. Values between stops
 * are interpolated linearly.
 */
const INFERNO_STOPS: ReadonlyArray<readonly [number, number, number]> = [
  [0x00, 0x00, 0x04],
  [0x1b, 0x0c, 0x42],
  [0x4b, 0x0c, 0x6b],
  [0x78, 0x1c, 0x6d],
  [0xa5, 0x2c, 0x60],
  [0xcf, 0x44, 0x46],
  [0xed, 0x69, 0x25],
  [0xfb, 0x9a, 0x06],
  [0xf7, 0xd0, 0x3c],
  [0xfc, 0xff, 0xa4],
];

/** Maps `value` in [0, 1] to an inferno RGB colour, each channel 0-255 (not rounded). */
export function infernoColour(value: number): [number, number, number] {
  const clamped = Math.min(Math.max(value, 0), 1);
  const position = clamped * (INFERNO_STOPS.length - 1);
  const index = Math.min(Math.floor(position), INFERNO_STOPS.length - 2);
  const fraction = position - index;
  const from = INFERNO_STOPS[index];
  const to = INFERNO_STOPS[index + 1];
  return [
    from[0] + (to[0] - from[0]) * fraction,
    from[1] + (to[1] - from[1]) * fraction,
    from[2] + (to[2] - from[2]) * fraction,
  ];
}

/**
 * Overlays a heat map on an image with the inferno colormap.
 * Contract: `image` is RGB uint8 HWC 0-255; `heat` is float32 row-major [heatH, heatW] with values
 * >= 0 in any unit; returns RGB uint8 HWC of the image's width and height.
 *
 * The heat map is divided by its maximum (an all-zero map stays zero), upsampled to the image size
 * bilinearly with pixel centres aligned (like `align_corners=False`), coloured with inferno and
 * blended as `(1 - opacity) * image + opacity * colour` with `opacity` in [0, 1].
 */
export async function heatmapOverlay(
  image: RgbImage,
  heat: Float32Array,
  heatW: number,
  heatH: number,
  opacity: number,
): Promise<RgbImage> {
  validateRgbImage(image, 'heat map overlay');
  if (!(Number.isInteger(heatW) && heatW > 0 && Number.isInteger(heatH) && heatH > 0)) {
    throw new DataError(`heat map overlay: expected a positive integer heat map size, received ${heatW}x${heatH}`);
  }
  if (heat.length !== heatW * heatH) {
    throw new DataError(`heat map overlay: expected ${heatW * heatH} heat values for ${heatW}x${heatH}, received ${heat.length}`);
  }
  if (!(opacity >= 0 && opacity <= 1)) {
    throw new ConfigError(`heat map overlay: expected an opacity in [0, 1], received ${opacity}`);
  }
  let maxHeat = 0;
  for (let i = 0; i < heat.length; i++) {
    const value = heat[i];
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new DataError(`heat map overlay: expected finite heat values >= 0, received ${value} at index ${i}`);
    }
    if (value > maxHeat) maxHeat = value;
  }
  const scale = maxHeat > 0 ? 1 / maxHeat : 0;

  const { width, height } = image;
  const output = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    // Source row coordinate of this pixel centre, clamped to the outer heat-map centres.
    const sourceY = Math.min(Math.max(((y + 0.5) * heatH) / height - 0.5, 0), heatH - 1);
    const y0 = Math.floor(sourceY);
    const y1 = Math.min(y0 + 1, heatH - 1);
    const fy = sourceY - y0;
    for (let x = 0; x < width; x++) {
      const sourceX = Math.min(Math.max(((x + 0.5) * heatW) / width - 0.5, 0), heatW - 1);
      const x0 = Math.floor(sourceX);
      const x1 = Math.min(x0 + 1, heatW - 1);
      const fx = sourceX - x0;
      const top = heat[y0 * heatW + x0] * (1 - fx) + heat[y0 * heatW + x1] * fx;
      const bottom = heat[y1 * heatW + x0] * (1 - fx) + heat[y1 * heatW + x1] * fx;
      const colour = infernoColour((top * (1 - fy) + bottom * fy) * scale);

      const offset = (y * width + x) * 3;
      for (let channel = 0; channel < 3; channel++) {
        output[offset + channel] = Math.round((1 - opacity) * image.data[offset + channel] + opacity * colour[channel]);
      }
    }
  }
  return { data: output, width, height };
}
