import { promises as fs } from 'node:fs';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { DataError, NotSupportedError, TooManyPixelsError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { decodeBmp, isBmp } from './formats/bmp.js';
import { decodeDicom, isDicom } from './formats/dicom.js';
import type { Sample } from './sample.js';

/** A decoded image: RGB, uint8 0-255, HWC, `data.length === width * height * 3`. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Limits applied to every decoded file, against decompression bombs and oversized uploads. */
export interface ImageLimits {
  /** Maximum file size in bytes. */
  maxFileBytes: number;
  /** Maximum width * height of the decoded image. */
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxFileBytes: 64 * 1024 * 1024,
  maxPixels: 8192 * 8192,
};

/** Encoded formats that sharp (libvips) decodes for busight; BMP and DICOM have their own decoders. */
const SHARP_FORMATS = new Set(['png', 'jpeg', 'webp', 'tiff', 'gif']);

/** Header facts of an encoded image: container format, size and channel layout as stored. */
export interface ImageInfo {
  /** Container format: png, jpeg, webp, tiff, gif, bmp or dicom. */
  format: string;
  width: number;
  height: number;
  /** Stored channels, 1 to 4 (grey, grey+alpha, RGB or CMYK, RGBA). */
  channels: number;
  /** Bits per stored sample, for example 8 or 16. */
  bitsPerSample: number;
  /** Colour space as the decoder names it, for example srgb, b-w, cmyk, monochrome2. */
  space: string;
  hasAlpha: boolean;
  /** Frames in a DICOM file; the decoder reads only the first. Undefined for other formats. */
  frames?: number;
}

/**
 * Returns true for errors that mean "this one file cannot be used" (corrupt, unsupported or
 * over a limit), so a caller walking many files can list the file and go on.
 */
export function isSkippableImageError(error: unknown): error is DataError | NotSupportedError {
  return error instanceof DataError || error instanceof NotSupportedError;
}

function checkFileSize(byteLength: number, name: string, limits: ImageLimits): void {
  if (byteLength === 0) {
    throw new DataError(`${name}: file is empty (0 bytes)`, name);
  }
  if (byteLength > limits.maxFileBytes) {
    throw new DataError(
      `${name}: file is ${byteLength} bytes, above the maximum of ${limits.maxFileBytes} bytes`,
      name,
    );
  }
}

function checkPixelCount(width: number, height: number, name: string, limits: ImageLimits): void {
  if (width * height > limits.maxPixels) {
    throw new TooManyPixelsError(name, width, height, limits.maxPixels);
  }
}

function errorReason(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}

/**
 * Reads the header of encoded image bytes without decoding pixels. Throws DataError naming the
 * file for empty, over-size or non-image input, NotSupportedError for a recognised but
 * unsupported format.
 */
export async function probeImageBytes(bytes: Uint8Array, name: string, limits = DEFAULT_IMAGE_LIMITS): Promise<ImageInfo> {
  checkFileSize(bytes.length, name, limits);
  if (isDicom(bytes)) return (await decodeDicom(bytes, name, limits)).info;
  if (isBmp(bytes)) return decodeBmp(bytes, name, limits).info;

  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { failOn: 'error', limitInputPixels: false }).metadata();
  } catch (error) {
    throw new DataError(`${name}: not a readable image (${errorReason(error)})`, name);
  }
  if (!SHARP_FORMATS.has(metadata.format)) {
    throw new NotSupportedError(
      `${name}: image format '${metadata.format}' is not supported; use PNG, JPEG, BMP, TIFF, WebP, GIF or DICOM`,
    );
  }
  const width = metadata.autoOrient?.width ?? metadata.width;
  const height = metadata.autoOrient?.height ?? metadata.height;
  const bitsPerSample = metadata.bitsPerSample ?? (metadata.depth === 'ushort' ? 16 : 8);
  return {
    format: metadata.format,
    width,
    height,
    channels: metadata.channels,
    bitsPerSample,
    space: metadata.space,
    hasAlpha: metadata.hasAlpha,
  };
}

/**
 * Decodes encoded image bytes to RGB uint8 HWC (grey is replicated to 3 channels, alpha dropped,
 * EXIF orientation applied, 16-bit scaled to 8-bit, CMYK converted to sRGB). `name` is used only in
 * error messages. Throws DataError naming the file and the problem for unreadable, truncated,
 * non-image or over-limit input, and NotSupportedError for recognised but unsupported formats.
 * DICOM files give their first frame, with an info line on `logger` when there are more.
 */
export async function decodeImageBytes(
  bytes: Uint8Array,
  name: string,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
  logger?: Logger,
): Promise<RgbImage> {
  checkFileSize(bytes.length, name, limits);
  if (isDicom(bytes)) {
    const decoded = await decodeDicom(bytes, name, limits);
    if (decoded.frames > 1) logger?.info(`${name}: DICOM file has ${decoded.frames} frames; using the first frame`);
    return decoded.image;
  }
  if (isBmp(bytes)) return decodeBmp(bytes, name, limits).image;

  const info = await probeImageBytes(bytes, name, limits);
  checkPixelCount(info.width, info.height, name, limits);

  // Decode with libvips; failOn 'error' rejects truncated and corrupt data but tolerates warnings
  // such as a mismatched sRGB ICC profile, which many clinical exports carry.
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(bytes, { failOn: 'error', limitInputPixels: limits.maxPixels, autoOrient: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    // The header was read, so the pixel data is what failed: usually a truncated or damaged file.
    throw new DataError(`${name}: failed to decode ${info.format} image: the pixel data is truncated or damaged (${errorReason(error)})`, name);
  }
  if (decoded.info.channels !== 3) {
    throw new DataError(
      `${name}: expected 3 channels after conversion to RGB, received ${decoded.info.channels}`,
      name,
    );
  }
  return {
    data: new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength),
    width: decoded.info.width,
    height: decoded.info.height,
  };
}

/**
 * Reads a sample's encoded bytes: from `readBytes` when the sample lives inside another file
 * (parquet), otherwise from `file`, checking the size limit before reading.
 */
export async function readSampleBytes(sample: Sample, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<Uint8Array> {
  if (sample.readBytes) return sample.readBytes();
  let size: number;
  try {
    const stat = await fs.stat(sample.file);
    if (!stat.isFile()) throw new DataError(`${sample.file}: not a regular file`, sample.file);
    size = stat.size;
  } catch (error) {
    if (error instanceof DataError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'file not found' : `cannot read file (${errorReason(error)})`;
    throw new DataError(`${sample.file}: ${problem}`, sample.file);
  }
  checkFileSize(size, sample.file, limits);
  try {
    return new Uint8Array(await fs.readFile(sample.file));
  } catch (error) {
    throw new DataError(`${sample.file}: cannot read file (${errorReason(error)})`, sample.file);
  }
}

/** Reads and decodes one sample's image to RGB uint8 HWC (see decodeImageBytes). */
export async function loadSampleImage(sample: Sample, limits: ImageLimits = DEFAULT_IMAGE_LIMITS, logger?: Logger): Promise<RgbImage> {
  const bytes = await readSampleBytes(sample, limits);
  return decodeImageBytes(bytes, sample.file, limits, logger);
}

/** Resizes an RGB uint8 HWC image to size x size (bilinear, aspect not kept), returning RGB uint8 HWC. */
export async function resizeRgb(image: RgbImage, size: number): Promise<RgbImage> {
  if (image.width === size && image.height === size) {
    return { data: image.data.slice(), width: size, height: size };
  }
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: size, height: size };
}
