import { createHash } from 'node:crypto';
import type { RgbImage } from '../image.js';

/**
 * Returns the hex SHA-256 of an RGB uint8 HWC image's size and decoded pixels, so two files with
 * the same pixels match even when their encodings differ (a PNG re-saved, metadata stripped).
 */
export function pixelHash(image: RgbImage): string {
  const header = new Uint8Array(new Uint32Array([image.width, image.height]).buffer);
  return createHash('sha256').update(header).update(image.data).digest('hex');
}
