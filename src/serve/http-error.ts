/** Machine-readable codes of the API's JSON errors; the web page translates each one. */
export const API_ERROR_CODES = [
  'bad_request',
  'invalid_image',
  'image_too_small',
  'blank_image',
  'not_found',
  'payload_too_large',
  'too_many_pixels',
  'unsupported_media_type',
  'queue_full',
  'timeout',
  'unavailable',
  'internal',
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** Body of every error response: `{ "error": { "code": ..., "message": ... } }`. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

/** An error that the server sends to the client as JSON with the given HTTP status. */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly statusCode: number;
  readonly code: ApiErrorCode;
  /** Seconds for the `Retry-After` header of 429 and 503 responses. */
  readonly retryAfterS?: number;

  constructor(statusCode: number, code: ApiErrorCode, message: string, retryAfterS?: number) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }

  toBody(): ApiErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}
