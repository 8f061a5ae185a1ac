import sharp from 'sharp';

import { decodeImageBytes, probeImageBytes, type ImageInfo, type RgbImage } from '../data/image.js';
import { checkAssessable, UnassessableImageError } from '../data/image-content.js';
import { DataError, NotSupportedError, TooManyPixelsError } from '../errors.js';
import { HttpError } from './http-error.js';

/** Upload formats, recognised by their magic bytes. The client's declared content type is ignored. */
export type UploadFormat = 'png' | 'jpeg' | 'dicom';

/** Name passed to the decoder instead of the client's file name, which may contain patient data. */
const UPLOAD_NAME = 'uploaded image';

/** Returns the format of an encoded image from its magic bytes, or undefined for anything else. */
export function sniffUploadFormat(bytes: Uint8Array): UploadFormat | undefined {
  const startsWith = (offset: number, magic: number[]) =>
    bytes.length >= offset + magic.length && magic.every((value, i) => bytes[offset + i] === value);

  if (startsWith(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  // DICOM Part 10 files start with a 128-byte preamble followed by "DICM".
  if (startsWith(128, [0x44, 0x49, 0x43, 0x4d])) return 'dicom';
  return undefined;
}

/**
 * Checks an upload from its magic bytes and header without decoding pixels. Throws HttpError 415
 * for formats other than PNG, JPEG and DICOM (and DICOM transfer syntaxes the decoder cannot
 * read), 413 for more than `maxPixels` pixels and 400 for unreadable headers. No message
 * contains the client's file name or a DICOM tag value.
 */
export async function inspectUpload(
  bytes: Uint8Array,
  maxPixels: number,
): Promise<{ format: UploadFormat; width: number; height: number; frames: number }> {
  const format = sniffUploadFormat(bytes);
  if (format === undefined) {
    throw new HttpError(415, 'unsupported_media_type', 'Unsupported image type: expected a PNG, JPEG or DICOM file.');
  }

  let info: ImageInfo;
  try {
    info = await probeImageBytes(bytes, UPLOAD_NAME, { maxFileBytes: bytes.length, maxPixels });
  } catch (error) {
    throw toHttpError(error);
  }
  if (info.format !== format) {
    throw new HttpError(400, 'invalid_image', `Invalid image: the file starts like ${format} but decodes as ${info.format}.`);
  }
  checkPixelCount(info.width, info.height, maxPixels);
  return { format, width: info.width, height: info.height, frames: info.frames ?? 1 };
}

/**
 * Decodes an upload that passed `inspectUpload` to RGB uint8 HWC (EXIF orientation applied).
 * Throws HttpError 400 for pixel data that fails to decode (`invalid_image`), an image smaller
 * than MIN_ASSESSABLE_SIDE on a side (`image_too_small`) and a blank image (`blank_image`).
 */
export async function decodeUpload(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  try {
    const image = await decodeImageBytes(bytes, UPLOAD_NAME, { maxFileBytes: bytes.length, maxPixels });
    checkAssessable(image, UPLOAD_NAME);
    return image;
  } catch (error) {
    throw toHttpError(error);
  }
}

/** Maps the decoder's typed errors to HTTP errors and passes other errors on. */
function toHttpError(error: unknown): unknown {
  if (error instanceof NotSupportedError) {
    return new HttpError(415, 'unsupported_media_type', `Unsupported image type: ${error.message}`);
  }
  if (error instanceof TooManyPixelsError) {
    // DICOM and BMP headers are checked while probing, before checkPixelCount below can run.
    return tooManyPixels(error.width, error.height, error.maxPixels);
  }
  if (error instanceof UnassessableImageError) {
    const code = error.reason === 'blank' ? 'blank_image' : 'image_too_small';
    return new HttpError(400, code, `Invalid image: ${error.message}`);
  }
  if (error instanceof DataError) {
    return new HttpError(400, 'invalid_image', `Invalid image: ${error.message}`);
  }
  return error;
}

/**
 * Encodes decoded pixels (RGB uint8 HWC) as a fresh PNG. Only pixels reach the encoder, so EXIF,
 * PNG text chunks, ICC profiles and DICOM tags of the upload cannot reach the output.
 * Grey images (R = G = B everywhere) are stored as 8-bit grey PNG.
 */
export async function encodeDeidentifiedPng(image: RgbImage): Promise<Buffer> {
  const pixels = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  let pipeline = sharp(pixels, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (isGrey(image)) pipeline = pipeline.extractChannel(0);
  return pipeline.png({ compressionLevel: 6 }).toBuffer();
}

function checkPixelCount(width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) throw tooManyPixels(width, height, maxPixels);
}

function tooManyPixels(width: number, height: number, maxPixels: number): HttpError {
  return new HttpError(
    413,
    'too_many_pixels',
    `Image too large: ${width} x ${height} = ${width * height} pixels, the maximum is ${maxPixels}. Downscale the image and upload it again.`,
  );
}

function isGrey(image: RgbImage): boolean {
  const data = image.data;
  for (let i = 0; i < data.length; i += 3) {
    if (data[i] !== data[i + 1] || data[i] !== data[i + 2]) return false;
  }
  return true;
}
