/** Limits that protect the server from oversized uploads and from more work than it can queue. */
export interface ServeLimits {
  /** Maximum size of one uploaded image file in bytes; larger uploads get 413. */
  maxUploadBytes: number;
  /** Maximum width * height of an uploaded image, checked from the header before decoding; more gets 413. */
  maxPixels: number;
  /** Predictions that run at the same time. */
  maxConcurrent: number;
  /** Requests that may wait for a free slot, on top of the running ones; one more gets 429. */
  maxQueued: number;
  /** Time from a fully received upload to its stored result, queue wait included, in milliseconds; longer gets 503. */
  requestTimeoutMs: number;
  /**
   * Time allowed to receive a whole request, body included, in milliseconds (Node's `server.requestTimeout`).
   * Node rejects a slower request itself, with a plain-text 408 instead of the API's JSON error.
   */
  receiveTimeoutMs: number;
}

/**
 * Defaults of `busight serve`. The pixel limit of 40 megapixels leaves a wide margin over the
 * exports of ultrasound machines, which are typically below 2 megapixels (an estimate, not a survey).
 * At the limit, the decoded RGB image takes 120 MB (3 bytes per pixel).
 */
export const DEFAULT_SERVE_LIMITS: ServeLimits = {
  maxUploadBytes: 32 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxConcurrent: 1,
  maxQueued: 16,
  requestTimeoutMs: 60_000,
  receiveTimeoutMs: 120_000,
};

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';

/** Upload types that the server decodes, for the health response and the page's file picker. */
export const ACCEPTED_UPLOAD_TYPES = [
  { mediaType: 'image/png', extensions: ['.png'], name: 'PNG' },
  { mediaType: 'image/jpeg', extensions: ['.jpg', '.jpeg'], name: 'JPEG' },
  { mediaType: 'application/dicom', extensions: ['.dcm', '.dicom'], name: 'DICOM' },
] as const;
