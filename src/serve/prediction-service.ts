import { trimPadding, type PixelBox } from '../data/padding.js';
import type { Predictor } from '../model/predictor.js';
import type { Logger } from '../util/log.js';
import type { CaseRecord, CaseStore } from './case-store.js';
import { decodeUpload, encodeDeidentifiedPng, inspectUpload } from './deidentify.js';
import { HttpError } from './http-error.js';
import type { ServeLimits } from './options.js';
import { WorkQueue } from './work-queue.js';

/**
 * Turns uploaded image bytes into a stored case: checks the upload, waits for a run slot,
 * decodes, predicts with a heat map, re-encodes the pixels and stores the de-identified result.
 */
/** A stored case with facts about its upload that are not stored. */
export interface AnalysedUpload {
  record: CaseRecord;
  /** Frames in the uploaded file: above 1 for a multi-frame DICOM file, of which only the first was analysed. */
  sourceFrames: number;
  /** The part of the image that was analysed when black padding bands were cut off, else null. */
  contentBox: PixelBox | null;
}

export class PredictionService {
  readonly queue: WorkQueue;
  /** Moving average of one analysis's run-slot time in milliseconds (a 1 s guess until measured), for `Retry-After`. */
  private averageStepMs = 1000;

  constructor(
    private readonly predictor: Predictor,
    private readonly store: CaseStore,
    private readonly limits: ServeLimits,
    private readonly logger: Logger,
  ) {
    this.queue = new WorkQueue(limits.maxConcurrent, limits.maxQueued);
  }

  /**
   * Admits one request or throws HttpError 429 when maxConcurrent + maxQueued requests are
   * already admitted. The caller must call the returned release function when it is done.
   */
  admit(): () => void {
    const release = this.queue.tryAdmit();
    if (!release) {
      throw new HttpError(
        429,
        'queue_full',
        `Too many requests: ${this.queue.admittedCount} images are being analysed or waiting (maximum ${this.limits.maxConcurrent + this.limits.maxQueued}). Retry later.`,
        this.estimateWaitS(),
      );
    }
    return release;
  }

  /**
   * Analyses and stores one upload. Throws HttpError 413, 415 or 400 for a bad upload, and 503 when
   * the result is not stored within requestTimeoutMs. A timed-out case is never stored.
   * The returned promise settles only after the work has stopped, so `release` can follow it.
   */
  async analyse(bytes: Uint8Array): Promise<AnalysedUpload> {
    const started = performance.now();
    const { width, height, frames } = await inspectUpload(bytes, this.limits.maxPixels);

    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(
        new HttpError(503, 'timeout', `Timed out: the image was not analysed within ${this.limits.requestTimeoutMs} ms. Retry later.`, this.estimateWaitS()),
      );
    }, this.limits.requestTimeoutMs);

    const work = this.queue.run(() => this.measureStep(() => this.predictAndStore(bytes, controller.signal)), controller.signal);
    try {
      const { record, contentBox } = await Promise.race([work, rejectOnAbort(controller.signal)]);
      const elapsedMs = Math.round(performance.now() - started);
      this.logger.info(`stored case ${record.caseNumber} (${width} x ${height} pixels) in ${elapsedMs} ms`);
      return { record, sourceFrames: frames, contentBox };
    } catch (error) {
      // Wait for a running step to finish before the caller releases its admission slot.
      await work.catch((workError: unknown) => {
        if (workError !== error && !(workError instanceof HttpError)) {
          this.logger.error(`analysis failed after its request had timed out: ${workError instanceof Error ? workError.message : String(workError)}`);
        }
      });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Estimates the seconds until the queue has room: its length times the average analysis time. */
  private estimateWaitS(): number {
    const queuedRounds = this.queue.admittedCount / this.limits.maxConcurrent;
    return Math.max(1, Math.ceil((queuedRounds * this.averageStepMs) / 1000));
  }

  /** Runs one step and folds its duration into averageStepMs. */
  private async measureStep<T>(step: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await step();
    } finally {
      this.averageStepMs = 0.8 * this.averageStepMs + 0.2 * (performance.now() - started);
    }
  }

  private async predictAndStore(
    bytes: Uint8Array,
    abortSignal: AbortSignal,
  ): Promise<{ record: CaseRecord; contentBox: PixelBox | null }> {
    const upload = await decodeUpload(bytes, this.limits.maxPixels);
    const prediction = await this.predictor.predict(upload, { heatmap: true, heatmapOver: 'content' });
    // Only the scored part is kept: black bars, and any text burned into them, are not stored.
    // trimPadding returns the predictor's own cut of this upload.
    const image = prediction.contentBox ? trimPadding(upload).image : upload;
    const imagePng = await encodeDeidentifiedPng(image);
    abortSignal.throwIfAborted();

    const manifest = this.predictor.manifest;
    const heatmap =
      prediction.heatmap && prediction.heatmapWidth && prediction.heatmapHeight
        ? { data: prediction.heatmap, width: prediction.heatmapWidth, height: prediction.heatmapHeight }
        : undefined;
    const record = this.store.insert({
      probability: prediction.probability,
      label: prediction.label,
      threshold: prediction.threshold,
      modelName: manifest.modelName,
      modelVersion: manifest.modelVersion,
      imageWidth: image.width,
      imageHeight: image.height,
      imagePng,
      heatmap,
      atypical: prediction.atypical,
    });
    return { record, contentBox: prediction.contentBox ?? null };
  }
}

function rejectOnAbort(abortSignal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (abortSignal.aborted) reject(abortSignal.reason);
    abortSignal.addEventListener('abort', () => reject(abortSignal.reason), { once: true });
  });
}
