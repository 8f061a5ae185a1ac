/**
 * Decoder for Windows BMP files, which sharp (libvips) does not read. Supports uncompressed
 * (BI_RGB) and bit-field (BI_BITFIELDS) images at 1, 4, 8, 16, 24 and 32 bits per pixel,
 * bottom-up and top-down. RLE-compressed and embedded JPEG/PNG BMPs raise NotSupportedError.
 */
import { DataError, NotSupportedError, TooManyPixelsError } from '../../errors.js';
import type { ImageInfo, ImageLimits, RgbImage } from '../image.js';

const COMPRESSION_NAMES: Record<number, string> = { 0: 'BI_RGB', 1: 'BI_RLE8', 2: 'BI_RLE4', 3: 'BI_BITFIELDS', 4: 'BI_JPEG', 5: 'BI_PNG', 6: 'BI_ALPHABITFIELDS' };

/** Returns true when the bytes start with the BMP signature `BM` and a plausible header size. */
export function isBmp(bytes: Uint8Array): boolean {
  if (bytes.length < 26 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) return false;
  const headerSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(14, true);
  return [12, 40, 52, 56, 64, 108, 124].includes(headerSize);
}

/** Shift and width of a contiguous channel bit mask, for example 0x00ff0000 -> shift 16, 8 bits. */
function maskShape(mask: number): { shift: number; bits: number } {
  if (mask === 0) return { shift: 0, bits: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (((mask >>> (shift + bits)) & 1) === 1) bits++;
  return { shift, bits };
}

/** Decodes BMP bytes to RGB uint8 HWC (alpha dropped). Throws DataError naming the file for invalid or truncated input. */
export function decodeBmp(bytes: Uint8Array, name: string, limits: ImageLimits): { image: RgbImage; info: ImageInfo } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const truncated = (): DataError => new DataError(`${name}: BMP file is truncated (${bytes.length} bytes)`, name);
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (bytes.length < 14 + headerSize) throw truncated();

  // Read the header: the 12-byte OS/2 core header has 16-bit sizes, the later ones 32-bit.
  let width: number;
  let height: number;
  let bitsPerPixel: number;
  let compression = 0;
  let paletteSize = 0;
  if (headerSize === 12) {
    width = view.getUint16(18, true);
    height = view.getInt16(20, true);
    bitsPerPixel = view.getUint16(24, true);
  } else {
    width = view.getInt32(18, true);
    height = view.getInt32(22, true);
    bitsPerPixel = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    paletteSize = view.getUint32(46, true);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height === 0) throw new DataError(`${name}: BMP has invalid size ${width}x${height}`, name);
  if (width * height > limits.maxPixels) {
    throw new TooManyPixelsError(name, width, height, limits.maxPixels);
  }
  if (compression !== 0 && compression !== 3 && compression !== 6) {
    throw new NotSupportedError(`${name}: BMP compression ${COMPRESSION_NAMES[compression] ?? compression} is not supported; convert the file to PNG`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) {
    throw new DataError(`${name}: BMP has invalid bits per pixel ${bitsPerPixel}`, name);
  }

  // Channel masks: explicit for BI_BITFIELDS (after a 40-byte header or inside V4/V5), else defaults.
  let masks = bitsPerPixel === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : [0xff0000, 0xff00, 0xff, 0];
  if (compression === 3 || compression === 6) {
    if (bytes.length < 14 + 40 + 16) throw truncated();
    masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true), headerSize >= 56 || compression === 6 ? view.getUint32(66, true) : 0];
  }
  const shapes = masks.map(maskShape);

  // Palette for 1, 4 and 8 bits: BGR0 entries (BGR for the core header) after the header.
  const palette: number[][] = [];
  if (bitsPerPixel <= 8) {
    const entrySize = headerSize === 12 ? 3 : 4;
    const count = paletteSize || 1 << bitsPerPixel;
    const start = 14 + headerSize;
    for (let i = 0; i < count; i++) {
      const offset = start + i * entrySize;
      if (offset + 3 > bytes.length) throw truncated();
      palette.push([bytes[offset + 2], bytes[offset + 1], bytes[offset]]);
    }
  }

  const rowSize = Math.ceil((width * bitsPerPixel) / 32) * 4;
  if (pixelOffset + rowSize * height > bytes.length) throw truncated();
  const data = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const sourceRow = pixelOffset + (topDown ? row : height - 1 - row) * rowSize;
    for (let x = 0; x < width; x++) {
      let rgb: number[];
      if (bitsPerPixel <= 8) {
        const bitOffset = x * bitsPerPixel;
        const byte = bytes[sourceRow + (bitOffset >> 3)];
        const index = (byte >> (8 - bitsPerPixel - (bitOffset & 7))) & ((1 << bitsPerPixel) - 1);
        rgb = palette[index] ?? [0, 0, 0];
      } else if (bitsPerPixel === 24) {
        const p = sourceRow + x * 3;
        rgb = [bytes[p + 2], bytes[p + 1], bytes[p]];
      } else {
        const p = sourceRow + x * (bitsPerPixel / 8);
        const value = bitsPerPixel === 16 ? view.getUint16(p, true) : view.getUint32(p, true);
        rgb = shapes.slice(0, 3).map(({ shift, bits }) => {
          if (bits === 0) return 0;
          const max = 2 ** bits - 1;
          return Math.round((((value >>> shift) & max) * 255) / max);
        });
      }
      const target = (row * width + x) * 3;
      data[target] = rgb[0];
      data[target + 1] = rgb[1];
      data[target + 2] = rgb[2];
    }
  }

  const hasAlpha = shapes[3].bits > 0;
  const isGreyPalette = bitsPerPixel <= 8 && palette.every(([r, g, b]) => r === g && g === b);
  let channels = hasAlpha ? 4 : 3;
  if (isGreyPalette) channels = 1;
  let bitsPerSample = 8;
  if (bitsPerPixel <= 8) bitsPerSample = bitsPerPixel;
  else if (bitsPerPixel === 16) bitsPerSample = 5;
  return {
    image: { data, width, height },
    info: {
      format: 'bmp',
      width,
      height,
      channels,
      bitsPerSample,
      space: bitsPerPixel <= 8 ? 'palette' : 'srgb',
      hasAlpha,
    },
  };
}
