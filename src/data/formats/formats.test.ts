import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { DataError, NotSupportedError } from '../../errors.js';
import { memoryLogger } from '../../util/log.js';
import { decodeImageBytes, probeImageBytes } from '../image.js';
import { buildDicom } from './dicom-fixture.js';

/** 4x2 grey ramp: values 0, 40, 80, ..., 280 clamped to 255. */
const RAMP = Uint8Array.from({ length: 8 }, (_, i) => Math.min(255, i * 40));

function raw(channels: number, fill: (pixel: number, channel: number) => number): Uint8Array {
  return Uint8Array.from({ length: 8 * channels }, (_, i) => fill(Math.floor(i / channels), i % channels));
}

function encode(data: Uint8Array | Uint16Array, channels: 1 | 2 | 3 | 4): Sharp {
  const image = sharp(data, { raw: { width: 4, height: 2, channels } });
  return channels <= 2 ? image.toColourspace('b-w') : image;
}

/** Writes a bottom-up BMP with a 40-byte header: 24-bit BGR, or 8-bit with a grey palette. */
function buildBmp(bitsPerPixel: 8 | 24, pixel: (index: number) => number[]): Uint8Array {
  const width = 4;
  const height = 2;
  const rowSize = Math.ceil((width * bitsPerPixel) / 32) * 4;
  const paletteBytes = bitsPerPixel === 8 ? 256 * 4 : 0;
  const offset = 14 + 40 + paletteBytes;
  const bytes = new Uint8Array(offset + rowSize * height);
  const view = new DataView(bytes.buffer);
  bytes.set([0x42, 0x4d]);
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, offset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bitsPerPixel, true);
  if (bitsPerPixel === 8) {
    for (let i = 0; i < 256; i++) bytes.set([i, i, i, 0], 54 + i * 4);
  }
  for (let y = 0; y < height; y++) {
    const row = offset + (height - 1 - y) * rowSize;
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(y * width + x);
      if (bitsPerPixel === 8) bytes[row + x] = r;
      else bytes.set([b, g, r], row + x * 3);
    }
  }
  return bytes;
}

interface FormatCase {
  name: string;
  make: () => Promise<Uint8Array>;
  format: string;
  /** Expected RGB of pixels 0 and 7, or undefined for lossy formats. */
  pixels?: [number[], number[]];
  width?: number;
  height?: number;
  channels?: number;
}

const cases: FormatCase[] = [
  { name: 'PNG 8-bit grey', format: 'png', channels: 1, make: () => encode(RAMP, 1).png().toBuffer(), pixels: [[0, 0, 0], [255, 255, 255]] },
  { name: 'PNG grey+alpha', format: 'png', channels: 2, make: () => encode(raw(2, (p, c) => (c === 0 ? RAMP[p] : 128)), 2).png().toBuffer(), pixels: [[0, 0, 0], [255, 255, 255]] },
  { name: 'PNG palette', format: 'png', make: () => encode(raw(3, (p, c) => (c === 0 ? 200 : 10 * p)), 3).png({ palette: true, colours: 16, dither: 0 }).toBuffer() },
  { name: 'PNG RGB', format: 'png', channels: 3, make: () => encode(raw(3, (p, c) => [10, 20, 30][c] + p), 3).png().toBuffer(), pixels: [[10, 20, 30], [17, 27, 37]] },
  { name: 'PNG RGBA', format: 'png', channels: 4, make: () => encode(raw(4, (p, c) => [10, 20, 30, 255][c]), 4).png().toBuffer(), pixels: [[10, 20, 30], [10, 20, 30]] },
  {
    name: 'PNG 16-bit RGB',
    format: 'png',
    channels: 3,
    make: () => sharp(Uint16Array.from({ length: 24 }, () => 65535), { raw: { width: 4, height: 2, channels: 3 } }).toColourspace('rgb16').png().toBuffer(),
    pixels: [[255, 255, 255], [255, 255, 255]],
  },
  { name: 'JPEG RGB', format: 'jpeg', make: () => encode(raw(3, () => 128), 3).jpeg({ quality: 95 }).toBuffer() },
  { name: 'JPEG CMYK', format: 'jpeg', make: () => encode(raw(3, () => 128), 3).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer() },
  { name: 'JPEG EXIF orientation', format: 'jpeg', width: 2, height: 4, make: () => encode(raw(3, () => 90), 3).jpeg().withMetadata({ orientation: 6 }).toBuffer() },
  { name: 'BMP 24-bit', format: 'bmp', channels: 3, make: async () => buildBmp(24, (i) => [i, 2 * i, 3 * i]), pixels: [[0, 0, 0], [7, 14, 21]] },
  { name: 'BMP 8-bit palette', format: 'bmp', channels: 1, make: async () => buildBmp(8, (i) => [RAMP[i]]), pixels: [[0, 0, 0], [255, 255, 255]] },
  { name: 'TIFF', format: 'tiff', make: () => encode(RAMP, 1).tiff().toBuffer(), pixels: [[0, 0, 0], [255, 255, 255]] },
  { name: 'WebP lossless', format: 'webp', make: () => encode(raw(3, (p) => RAMP[p]), 3).webp({ lossless: true }).toBuffer(), pixels: [[0, 0, 0], [255, 255, 255]] },
  {
    name: 'DICOM 8-bit MONOCHROME2',
    format: 'dicom',
    channels: 1,
    make: async () => buildDicom({ rows: 2, columns: 4, pixels: RAMP }),
    pixels: [[0, 0, 0], [255, 255, 255]],
  },
  {
    name: 'DICOM 16-bit windowed',
    format: 'dicom',
    channels: 1,
    make: async () => buildDicom({ rows: 2, columns: 4, bitsAllocated: 16, pixels: Uint16Array.from([0, 100, 200, 300, 400, 500, 600, 4000]), windowCentre: 300.5, windowWidth: 201 }),
    pixels: [[0, 0, 0], [255, 255, 255]],
  },
  {
    name: 'DICOM 16-bit without window',
    format: 'dicom',
    make: async () => buildDicom({ rows: 2, columns: 4, bitsAllocated: 16, pixels: Uint16Array.from([1000, 1, 2, 3, 4, 5, 6, 3000]) }),
    // Min-max mapping: (1000 - 1) / (3000 - 1) * 255 = 84.9.
    pixels: [[85, 85, 85], [255, 255, 255]],
  },
  {
    name: 'DICOM MONOCHROME1 inverted',
    format: 'dicom',
    make: async () => buildDicom({ rows: 2, columns: 4, pixels: RAMP, photometric: 'MONOCHROME1' }),
    pixels: [[255, 255, 255], [0, 0, 0]],
  },
  {
    name: 'DICOM RGB',
    format: 'dicom',
    channels: 3,
    make: async () => buildDicom({ rows: 2, columns: 4, samplesPerPixel: 3, photometric: 'RGB', pixels: raw(3, (p, c) => [10, 20, 30][c] + p) }),
    pixels: [[10, 20, 30], [17, 27, 37]],
  },
];

describe('image formats', () => {
  for (const item of cases) {
    test(`${item.name} decodes to RGB`, async () => {
      const bytes = await item.make();
      const info = await probeImageBytes(bytes, item.name);
      assert.equal(info.format, item.format);
      if (item.channels !== undefined) assert.equal(info.channels, item.channels);
      const image = await decodeImageBytes(bytes, item.name);
      assert.equal(image.width, item.width ?? 4);
      assert.equal(image.height, item.height ?? 2);
      assert.equal(image.data.length, image.width * image.height * 3);
      if (item.pixels) {
        assert.deepEqual([...image.data.subarray(0, 3)], item.pixels[0]);
        assert.deepEqual([...image.data.subarray(21, 24)], item.pixels[1]);
      }
    });
  }

  test('DICOM multi-frame uses first frame', async () => {
    const pixels = new Uint8Array(16);
    pixels.fill(50, 0, 8);
    pixels.fill(200, 8, 16);
    const logger = memoryLogger();
    const image = await decodeImageBytes(buildDicom({ rows: 2, columns: 4, pixels, frames: 2 }), 'cine.dcm', undefined, logger);
    assert.equal(image.data[0], 50);
    assert.deepEqual(logger.lines, ['info: cine.dcm: DICOM file has 2 frames; using the first frame']);
  });

  test('DICOM JPEG 2000 raises NotSupportedError', async () => {
    const bytes = buildDicom({ rows: 2, columns: 4, pixels: RAMP, transferSyntax: '1.2.840.10008.1.2.4.90' });
    await assert.rejects(decodeImageBytes(bytes, 'scan.dcm'), (error: unknown) => {
      assert.ok(error instanceof NotSupportedError);
      assert.match(error.message, /^scan\.dcm: DICOM transfer syntax 1\.2\.840\.10008\.1\.2\.4\.90 \(JPEG 2000 Lossless\) is not supported/);
      return true;
    });
  });

  test('DICOM truncated pixels raise DataError', async () => {
    const bytes = buildDicom({ rows: 20, columns: 40, pixels: RAMP });
    await assert.rejects(decodeImageBytes(bytes, 'short.dcm'), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.match(error.message, /^short\.dcm: DICOM pixel data is truncated/);
      return true;
    });
  });

  test('BMP RLE raises NotSupportedError', async () => {
    const bytes = buildBmp(8, (i) => [i]);
    new DataView(bytes.buffer).setUint32(30, 1, true);
    await assert.rejects(decodeImageBytes(bytes, 'rle.bmp'), /rle\.bmp: BMP compression BI_RLE8 is not supported/);
  });

  test('BMP truncated raises DataError', async () => {
    const bytes = buildBmp(24, () => [1, 2, 3]).subarray(0, 60);
    await assert.rejects(decodeImageBytes(bytes, 'cut.bmp'), /cut\.bmp: BMP file is truncated/);
  });

  test('SVG raises NotSupportedError', async () => {
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
    await assert.rejects(decodeImageBytes(svg, 'x.svg'), (error: unknown) => error instanceof NotSupportedError && /format 'svg' is not supported/.test(error.message));
  });

  test('DICOM pixel limit applies', async () => {
    const bytes = buildDicom({ rows: 2, columns: 4, pixels: RAMP });
    await assert.rejects(decodeImageBytes(bytes, 'big.dcm', { maxFileBytes: 1e6, maxPixels: 4 }), /big\.dcm: image is 4x2 = 8 pixels, above the maximum of 4 pixels/);
  });
});
