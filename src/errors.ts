/**
 * Typed errors of busight. The CLI maps each class to one exit code in `exitCodeFor`,
 * so callers never branch on message text.
 */

/** Invalid or unreadable input data: a missing folder, a corrupt image, a bad split file. */
export class DataError extends Error {
  override name = 'DataError';
  /** File or folder the problem is in, when there is one. */
  readonly path?: string;
  constructor(message: string, path?: string) {
    super(message);
    this.path = path;
  }
}

/** DataError for an image whose width x height exceeds the pixel limit, so callers can return their own size message. */
export class TooManyPixelsError extends DataError {
  override name = 'TooManyPixelsError';
  constructor(
    name: string,
    readonly width: number,
    readonly height: number,
    readonly maxPixels: number,
  ) {
    super(`${name}: image is ${width}x${height} = ${width * height} pixels, above the maximum of ${maxPixels} pixels`, name);
  }
}

/** Invalid option or option combination given by the user. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A model bundle or backbone that is missing, corrupt or inconsistent. */
export class ModelError extends Error {
  override name = 'ModelError';
}

/** A valid request that this version does not implement. */
export class NotSupportedError extends Error {
  override name = 'NotSupportedError';
}

/** Maps an error to the process exit code that the CLI uses for it. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) return 2;
  if (error instanceof DataError) return 3;
  if (error instanceof ModelError) return 4;
  if (error instanceof NotSupportedError) return 5;
  return 1;
}
