import sharp from 'sharp';

/** Maximum length of a rendered heat map's longer side in pixels; the browser scales it to the displayed image. */
export const MAX_HEATMAP_SIDE = 1024;

/** Stops of the jet colour map, from no evidence (dark blue) to the strongest evidence (dark red). */
const JET_STOPS: ReadonlyArray<readonly [number, number, number, number]> = [
  [0.0, 0, 0, 143],
  [0.125, 0, 0, 255],
  [0.375, 0, 255, 255],
  [0.625, 255, 255, 0],
  [0.875, 255, 0, 0],
  [1.0, 128, 0, 0],
];

/** CSS gradient of JET_STOPS, for the legend under the heat map. */
export const JET_CSS_GRADIENT = `linear-gradient(to right, ${JET_STOPS.map(([at, r, g, b]) => `rgb(${r} ${g} ${b}) ${at * 100}%`).join(', ')})`;

/**
 * Renders a class-activation heat map (float32 [height, width], values >= 0) as an RGBA PNG of
 * the image's aspect ratio, at most MAX_HEATMAP_SIDE on its longest side. Values are divided by
 * the map's maximum, coloured with the jet colour map, and made transparent where they are low,
 * so the PNG can lie over the image as it is. An all-zero map renders fully transparent.
 */
export async function renderHeatmapPng(
  heatmap: Float32Array,
  heatmapWidth: number,
  heatmapHeight: number,
  imageWidth: number,
  imageHeight: number,
): Promise<Buffer> {
  if (heatmap.length !== heatmapWidth * heatmapHeight) {
    throw new RangeError(`heat map: expected ${heatmapWidth} x ${heatmapHeight} = ${heatmapWidth * heatmapHeight} values, received ${heatmap.length}`);
  }

  // Normalise to grey uint8 [heatmapHeight, heatmapWidth].
  let max = 0;
  for (const value of heatmap) if (Number.isFinite(value) && value > max) max = value;
  const grey = new Uint8Array(heatmap.length);
  if (max > 0) {
    for (let i = 0; i < heatmap.length; i += 1) {
      const value = Number.isFinite(heatmap[i]) ? Math.max(0, heatmap[i]) : 0;
      grey[i] = Math.round((255 * value) / max);
    }
  }

  // Upsample to the output size; fill matches the model's own fill resize of the image.
  const scale = Math.min(1, MAX_HEATMAP_SIDE / Math.max(imageWidth, imageHeight));
  const width = Math.max(1, Math.round(imageWidth * scale));
  const height = Math.max(1, Math.round(imageHeight * scale));
  // extractChannel keeps one channel, because sharp's raw output of a grey image is RGB otherwise.
  const { data: upsampled, info } = await sharp(grey, { raw: { width: heatmapWidth, height: heatmapHeight, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 || info.width !== width || info.height !== height) {
    throw new Error(`heat map upsampling: expected ${width} x ${height} x 1, received ${info.width} x ${info.height} x ${info.channels}`);
  }

  // Colour and alpha per pixel: grey [height, width] -> RGBA [height, width, 4].
  const palette = buildPalette();
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i += 1) {
    const level = upsampled[i];
    rgba.set(palette.subarray(level * 4, level * 4 + 4), i * 4);
  }
  return sharp(rgba, { raw: { width, height, channels: 4 } }).png({ compressionLevel: 6 }).toBuffer();
}

let cachedPalette: Uint8Array | undefined;

/** Builds the 256-entry RGBA lookup table: jet colour, alpha rising to opaque at half the maximum. */
function buildPalette(): Uint8Array {
  if (cachedPalette) return cachedPalette;
  const palette = new Uint8Array(256 * 4);
  for (let level = 0; level < 256; level += 1) {
    const t = level / 255;
    let upper = 1;
    while (upper < JET_STOPS.length - 1 && JET_STOPS[upper][0] < t) upper += 1;
    const [t0, r0, g0, b0] = JET_STOPS[upper - 1];
    const [t1, r1, g1, b1] = JET_STOPS[upper];
    const f = t1 > t0 ? Math.min(1, Math.max(0, (t - t0) / (t1 - t0))) : 0;
    palette[level * 4] = Math.round(r0 + f * (r1 - r0));
    palette[level * 4 + 1] = Math.round(g0 + f * (g1 - g0));
    palette[level * 4 + 2] = Math.round(b0 + f * (b1 - b0));
    palette[level * 4 + 3] = Math.round(255 * Math.min(1, 2 * t));
  }
  cachedPalette = palette;
  return palette;
}
