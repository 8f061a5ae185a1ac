/**
 * Decoder for DICOM Part-10 files (ultrasound and other single-image modalities). Reads only the
 * image pixel module tags; patient and study tags are never read, so they cannot reach outputs.
 * Supported transfer syntaxes: implicit and explicit VR little endian, explicit VR big endian,
 * deflated explicit VR little endian, and baseline JPEG (decoded by sharp). Others raise
 * NotSupportedError naming the syntax.
 */
import dicomParser from 'dicom-parser';
import sharp from 'sharp';
import { DataError, NotSupportedError, TooManyPixelsError } from '../../errors.js';
import type { ImageInfo, ImageLimits, RgbImage } from '../image.js';

const UNCOMPRESSED_SYNTAXES = new Set([
  '1.2.840.10008.1.2', // Implicit VR Little Endian
  '1.2.840.10008.1.2.1', // Explicit VR Little Endian
  '1.2.840.10008.1.2.2', // Explicit VR Big Endian (retired)
  '1.2.840.10008.1.2.1.99', // Deflated Explicit VR Little Endian (inflated by dicom-parser)
]);
const BIG_ENDIAN_SYNTAX = '1.2.840.10008.1.2.2';
const JPEG_BASELINE_SYNTAX = '1.2.840.10008.1.2.4.50';

/** Names of compressed transfer syntaxes, for the NotSupportedError message. */
const SYNTAX_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (12-bit)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.4.100': 'MPEG-2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.110': 'JPEG XL Lossless',
};

/** Returns true when the bytes carry the Part-10 preamble marker `DICM` at offset 128. */
export function isDicom(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** A decoded DICOM image, its stored layout and its frame count (only frame 1 is decoded). */
export interface DicomDecoded {
  image: RgbImage;
  info: ImageInfo;
  frames: number;
}

function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return String((error as { exception?: unknown })?.exception ?? error);
}

/** Maps signed or unsigned samples to 0-255 by the window (centre, width) or, without one, by the frame's min and max. */
function toBytes(values: Float64Array, windowCentre: number | undefined, windowWidth: number | undefined): Uint8Array {
  const output = new Uint8Array(values.length);
  let low: number;
  let high: number;
  if (windowCentre !== undefined && windowWidth !== undefined && windowWidth >= 1) {
    // Linear VOI function: centre - 0.5 - (width - 1) / 2 maps to 0, centre - 0.5 + (width - 1) / 2 to 255.
    low = windowCentre - 0.5 - (windowWidth - 1) / 2;
    high = windowCentre - 0.5 + (windowWidth - 1) / 2;
  } else {
    low = Infinity;
    high = -Infinity;
    for (const value of values) {
      if (value < low) low = value;
      if (value > high) high = value;
    }
  }
  const range = high - low || 1;
  for (let i = 0; i < values.length; i++) {
    output[i] = Math.max(0, Math.min(255, Math.round(((values[i] - low) / range) * 255)));
  }
  return output;
}

/**
 * Decodes the first frame of a DICOM Part-10 file to RGB uint8 HWC. Monochrome samples above 8
 * bits are rescaled (slope, intercept) and mapped to 0-255 through the file's first window, or its
 * min-max range without one. MONOCHROME1 is inverted. Throws DataError naming the file for
 * invalid or truncated files and NotSupportedError for unsupported syntaxes and layouts.
 */
export async function decodeDicom(bytes: Uint8Array, name: string, limits: ImageLimits): Promise<DicomDecoded> {
  let dataSet: dicomParser.DataSet;
  try {
    dataSet = dicomParser.parseDicom(bytes);
  } catch (error) {
    throw new DataError(`${name}: invalid DICOM file (${reasonOf(error)})`, name);
  }

  const syntax = (dataSet.string('x00020010') ?? '').replace(/\0/g, '').trim();
  const rows = dataSet.uint16('x00280010') ?? 0;
  const columns = dataSet.uint16('x00280011') ?? 0;
  const samplesPerPixel = dataSet.uint16('x00280002') ?? 1;
  const bitsAllocated = dataSet.uint16('x00280100') ?? 8;
  const bitsStored = dataSet.uint16('x00280101') ?? bitsAllocated;
  const isSigned = dataSet.uint16('x00280103') === 1;
  const photometric = (dataSet.string('x00280004') ?? 'MONOCHROME2').trim().toUpperCase();
  const planar = dataSet.uint16('x00280006') ?? 0;
  const frames = Math.max(1, Number.parseInt(dataSet.string('x00280008') ?? '1', 10) || 1);
  const pixelElement = dataSet.elements.x7fe00010;

  if (!pixelElement) throw new DataError(`${name}: DICOM file has no pixel data (7FE0,0010)`, name);
  if (rows === 0 || columns === 0) throw new DataError(`${name}: DICOM file has invalid size ${columns}x${rows}`, name);
  if (rows * columns > limits.maxPixels) {
    throw new TooManyPixelsError(name, columns, rows, limits.maxPixels);
  }
  const info: ImageInfo = {
    format: 'dicom',
    width: columns,
    height: rows,
    channels: samplesPerPixel,
    bitsPerSample: bitsStored,
    space: photometric.toLowerCase(),
    hasAlpha: false,
    frames,
  };

  // Baseline JPEG: the first frame's fragments form one JPEG stream that sharp decodes.
  if (syntax === JPEG_BASELINE_SYNTAX) {
    let jpeg: Uint8Array;
    try {
      jpeg = frames > 1 || (pixelElement.basicOffsetTable?.length ?? 0) > 0
        ? dicomParser.readEncapsulatedImageFrame(dataSet, pixelElement, 0)
        : dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixelElement, 0, pixelElement.fragments?.length ?? 1);
      const { data, info: out } = await sharp(jpeg, { failOn: 'error', limitInputPixels: limits.maxPixels })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      return { image: { data: new Uint8Array(data), width: out.width, height: out.height }, info, frames };
    } catch (error) {
      throw new DataError(`${name}: failed to decode the JPEG pixel data (${reasonOf(error)})`, name);
    }
  }
  if (!UNCOMPRESSED_SYNTAXES.has(syntax)) {
    const syntaxName = SYNTAX_NAMES[syntax] ?? 'unknown';
    throw new NotSupportedError(
      `${name}: DICOM transfer syntax ${syntax || '(missing)'} (${syntaxName}) is not supported; export the file uncompressed or as baseline JPEG`,
    );
  }
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw new NotSupportedError(`${name}: DICOM bits allocated ${bitsAllocated} is not supported; expected 8 or 16`);
  }
  const isMonochrome = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  const isColour = samplesPerPixel === 3 && (photometric === 'RGB' || photometric === 'YBR_FULL');
  if (!(isMonochrome && samplesPerPixel === 1) && !(isColour && bitsAllocated === 8)) {
    throw new NotSupportedError(
      `${name}: DICOM photometric interpretation ${photometric} with ${samplesPerPixel} samples per pixel and ${bitsAllocated} bits is not supported`,
    );
  }

  // Locate frame 1
  const bytesPerSample = bitsAllocated / 8;
  const frameLength = rows * columns * samplesPerPixel * bytesPerSample;
  const source = dataSet.byteArray;
  const start = pixelElement.dataOffset;
  if (start + frameLength > source.length || pixelElement.length < frameLength) {
    throw new DataError(`${name}: DICOM pixel data is truncated (${Math.min(pixelElement.length, source.length - start)} of ${frameLength} bytes for frame 1)`, name);
  }
  const pixelCount = rows * columns;
  const rgb = new Uint8Array(pixelCount * 3);

  if (isColour) {
    for (let i = 0; i < pixelCount; i++) {
      // Planar configuration 0 is RGBRGB..., 1 is RRR...GGG...BBB...
      const a = planar === 0 ? source[start + i * 3] : source[start + i];
      const b = planar === 0 ? source[start + i * 3 + 1] : source[start + pixelCount + i];
      const c = planar === 0 ? source[start + i * 3 + 2] : source[start + 2 * pixelCount + i];
      if (photometric === 'RGB') {
        rgb.set([a, b, c], i * 3);
      } else {
        // YBR_FULL to RGB, as given in DICOM PS3.3 C.7.6.3.1.2.
        rgb[i * 3] = Math.max(0, Math.min(255, Math.round(a + 1.402 * (c - 128))));
        rgb[i * 3 + 1] = Math.max(0, Math.min(255, Math.round(a - 0.344136 * (b - 128) - 0.714136 * (c - 128))));
        rgb[i * 3 + 2] = Math.max(0, Math.min(255, Math.round(a + 1.772 * (b - 128))));
      }
    }
    return { image: { data: rgb, width: columns, height: rows }, info, frames };
  }

  // Monochrome: read stored values, rescale, window to 8 bits
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  const littleEndian = syntax !== BIG_ENDIAN_SYNTAX;
  const slope = Number.parseFloat(dataSet.string('x00281053') ?? '1') || 1;
  const intercept = Number.parseFloat(dataSet.string('x00281052') ?? '0') || 0;
  const storedMask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  const values = new Float64Array(pixelCount);
  for (let i = 0; i < pixelCount; i++) {
    let stored = bitsAllocated === 8 ? source[start + i] : view.getUint16(start + i * 2, littleEndian);
    stored &= storedMask;
    if (isSigned && stored >= 2 ** (bitsStored - 1)) stored -= 2 ** bitsStored;
    values[i] = stored * slope + intercept;
  }
  let grey: Uint8Array;
  if (bitsAllocated === 8 && slope === 1 && intercept === 0 && !isSigned) {
    grey = Uint8Array.from(values);
  } else {
    const centre = Number.parseFloat(dataSet.string('x00281050', 0) ?? '');
    const width = Number.parseFloat(dataSet.string('x00281051', 0) ?? '');
    grey = toBytes(values, Number.isFinite(centre) ? centre : undefined, Number.isFinite(width) ? width : undefined);
  }
  for (let i = 0; i < pixelCount; i++) {
    const value = photometric === 'MONOCHROME1' ? 255 - grey[i] : grey[i];
    rgb[i * 3] = value;
    rgb[i * 3 + 1] = value;
    rgb[i * 3 + 2] = value;
  }
  return { image: { data: rgb, width: columns, height: rows }, info, frames };
}
