/** Test helpers that build upload files with identifying metadata; used by the serve tests only. */
import { crc32 } from 'node:zlib';

import sharp from 'sharp';

import { Rng } from '../util/rng.js';

/** Text planted in metadata by the fixtures; it must never come back from the server. */
export const PATIENT_MARKER = 'PATIENT-ZHANG-SAN-19700101';

/**
 * Encodes a synthetic ultrasound-like grey image as PNG: speckle noise that darkens with depth,
 * plus a dark elliptical lesion with a bright rim. Deterministic for a given seed.
 */
export async function ultrasoundLikePng(width: number, height: number, seed = 1): Promise<Buffer> {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height);
  const cx = width * (0.35 + 0.3 * rng.next());
  const cy = height * (0.4 + 0.2 * rng.next());
  const rx = width * 0.15;
  const ry = height * 0.1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const depth = 1 - (0.6 * y) / height;
      const r = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
      let value: number;
      if (r < 1) {
        value = 25 + 20 * rng.next(); // dark lesion
      } else if (r < 1.3) {
        value = 210; // bright rim
      } else {
        value = 90 + 110 * rng.next() * depth; // speckled tissue
      }
      data[y * width + x] = Math.max(0, Math.min(255, Math.round(value)));
    }
  }
  return sharp(data, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

/** Encodes a blank PNG, every pixel at grey level 128, which decodes but has nothing to assess. */
export async function blankPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
}

/** Returns a copy of a PNG with a tEXt chunk `keyword: text` inserted after IHDR. */
export function withPngTextChunk(png: Uint8Array, keyword: string, text: string): Buffer {
  const data = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]);
  const type = Buffer.from('tEXt', 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
  // The 8-byte signature and the IHDR chunk (4 length + 4 type + 13 data + 4 CRC) come first.
  const afterIhdr = 8 + 25;
  const source = Buffer.from(png);
  return Buffer.concat([source.subarray(0, afterIhdr), length, type, data, crc, source.subarray(afterIhdr)]);
}

/** Re-encodes an image as JPEG whose EXIF names the patient. */
export async function jpegWithExif(png: Uint8Array): Promise<Buffer> {
  return sharp(png)
    .jpeg({ quality: 90 })
    .withExif({ IFD0: { ImageDescription: PATIENT_MARKER, Artist: PATIENT_MARKER } })
    .toBuffer();
}

/** Builds a minimal DICOM Part 10 header (preamble, "DICM", a PatientName element) without pixel data. */
export function dicomHeaderOnly(): Buffer {
  const preamble = Buffer.alloc(128);
  const magic = Buffer.from('DICM', 'latin1');
  // DICOM values have even length, padded with a space.
  const name = Buffer.from(PATIENT_MARKER.length % 2 === 1 ? `${PATIENT_MARKER} ` : PATIENT_MARKER, 'latin1');
  // (0010,0010) PatientName, explicit VR little endian: group, element, "PN", 2-byte length.
  const element = Buffer.alloc(8);
  element.writeUInt16LE(0x0010, 0);
  element.writeUInt16LE(0x0010, 2);
  element.write('PN', 4, 'latin1');
  element.writeUInt16LE(name.length, 6);
  return Buffer.concat([preamble, magic, element, name]);
}

/** Returns true when `haystack` contains the ASCII text `needle`. */
export function containsText(haystack: Uint8Array, needle: string): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle, 'latin1'));
}
