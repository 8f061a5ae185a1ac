import type { Writable } from 'node:stream';

/** Progress of one long step, for example feature extraction: `current` of `total` items done. */
export interface ProgressEvent {
  stage: string;
  current: number;
  total: number;
}

/**
 * Logger passed to every library entry point, so tests can capture output and the library never
 * writes to the console itself. Messages must not contain patient data: file names of the user's
 * images appear only in error and skip notices, never with results.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  progress(event: ProgressEvent): void;
}

/** A logger that drops everything; the default for library calls. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  progress() {},
};

/** Returns a logger that writes plain lines to the given streams (defaults: stdout and stderr) and ignores progress. */
export function streamLogger(out: Writable = process.stdout, err: Writable = process.stderr): Logger {
  return {
    info: (message) => out.write(`${message}\n`),
    warn: (message) => err.write(`warning: ${message}\n`),
    error: (message) => err.write(`error: ${message}\n`),
    progress() {},
  };
}

/** Returns a logger that stores every message and progress event, for tests. */
export function memoryLogger(): Logger & { lines: string[]; events: ProgressEvent[] } {
  const lines: string[] = [];
  const events: ProgressEvent[] = [];
  return {
    lines,
    events,
    info: (message) => lines.push(`info: ${message}`),
    warn: (message) => lines.push(`warning: ${message}`),
    error: (message) => lines.push(`error: ${message}`),
    progress: (event) => events.push(event),
  };
}
