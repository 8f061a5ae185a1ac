import { readFileSync } from 'node:fs';

import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';

import type { Predictor } from '../model/predictor.js';
import type { Logger } from '../util/log.js';
import { IMAGE_FIELD, registerApiRoutes } from './api-routes.js';
import type { CaseStore } from './case-store.js';
import { HttpError, type ApiErrorCode } from './http-error.js';
import { DEFAULT_SERVE_LIMITS, type ServeLimits } from './options.js';
import { INDEX_HTML, REPORT_HTML } from './pages.js';
import { PredictionService } from './prediction-service.js';
import { STYLE_CSS } from './styles.js';

export interface ServeAppOptions {
  predictor: Predictor;
  store: CaseStore;
  limits?: Partial<ServeLimits>;
  logger: Logger;
}

/**
 * Browser modules served under /assets, compiled by tsc next to this file. Only these files are
 * served, so no request path ever reaches the file system.
 */
const SCRIPT_ASSETS = ['i18n.js', 'client/common.js', 'client/app.js', 'client/report.js'] as const;

/** Only same-origin scripts, styles and images; no inline code, no framing, no outside requests. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Rejection log lines per minute; more are counted and reported with the next logged one. */
const REJECTION_LOG_LINES_PER_MINUTE = 30;

/** Builds the Fastify app with the page, the assets and the JSON API; the caller listens and closes. */
export async function buildServeApp(options: ServeAppOptions): Promise<FastifyInstance> {
  const limits: ServeLimits = { ...DEFAULT_SERVE_LIMITS, ...options.limits };
  const { predictor, store, logger } = options;
  const service = new PredictionService(predictor, store, limits, logger);

  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    requestTimeout: limits.receiveTimeoutMs,
    // The hooks below reject requests during shutdown with the API's own JSON error instead.
    return503OnClosing: false,
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    logger.info('busight serve stopping: finishing running requests');
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new HttpError(503, 'unavailable', 'Service unavailable: the server is shutting down. Retry after it has restarted.', 5);
  });
  await app.register(multipart, {
    // One extra file is allowed through, so that a second image gets the clear 400 of readImageField.
    limits: { fileSize: limits.maxUploadBytes, files: 2, fields: 16, parts: 20, fieldSize: 64 * 1024 },
    throwFileSizeLimit: true,
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    return payload;
  });

  const rejectionLog = new RepeatLimiter(REJECTION_LOG_LINES_PER_MINUTE);
  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    const httpError = toHttpError(error);
    const route = `${request.method} ${request.routeOptions.url ?? 'unknown route'}`;
    if (httpError.code === 'internal') {
      logger.error(`${route} failed: ${error.stack ?? error.message}`);
    } else {
      // Rejections come from client input, so a flood of them is logged at a limited rate.
      const suppressed = rejectionLog.take(Date.now());
      if (suppressed !== undefined) {
        const note = suppressed > 0 ? ` (${suppressed} earlier rejections not logged)` : '';
        logger.warn(`${route} rejected with ${httpError.statusCode} ${httpError.code}: ${httpError.message}${note}`);
      }
    }
    if (httpError.retryAfterS !== undefined) reply.header('Retry-After', String(httpError.retryAfterS));
    reply.code(httpError.statusCode).type('application/json; charset=utf-8').send(httpError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new HttpError(404, 'not_found', `Not found: ${request.method} ${request.url.split('?')[0].slice(0, 200)}.`);
    reply.code(404).send(error.toBody());
  });

  // Pages and assets
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(INDEX_HTML));
  app.get('/report/:id', async (_request, reply) => reply.type('text/html; charset=utf-8').send(REPORT_HTML));
  app.get('/assets/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLE_CSS));
  for (const asset of SCRIPT_ASSETS) {
    const source = readFileSync(new URL(`./${asset}`, import.meta.url), 'utf8');
    app.get(`/assets/${asset}`, async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(source));
  }

  registerApiRoutes(app, { predictor, store, service, limits });
  return app;
}

/** Maps any error to the JSON error the client receives; unknown errors become 500 without details. */
function toHttpError(error: FastifyError | HttpError): HttpError {
  if (error instanceof HttpError) return error;

  const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
  const byStatus: Record<number, ApiErrorCode> = {
    400: 'bad_request',
    404: 'not_found',
    406: 'unsupported_media_type',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
    503: 'unavailable',
  };
  let code = byStatus[status];
  if (code === undefined && status >= 400 && status < 500) code = 'bad_request';
  if (code === undefined) {
    return new HttpError(500, 'internal', 'Internal server error: the failure has been logged on the server.');
  }
  const message =
    status === 415 || status === 406
      ? `Unsupported content type: send multipart/form-data with the image in the field "${IMAGE_FIELD}".`
      : `${error.message}`;
  // @fastify/multipart rejects a non-multipart body with 406, and the API returns 415 for it.
  return new HttpError(status === 406 ? 415 : status, code, message);
}

/** Allows `maxPerMinute` events per fixed one-minute window and counts the rest. */
class RepeatLimiter {
  private windowStartMs = 0;
  private taken = 0;
  private dropped = 0;

  constructor(private readonly maxPerMinute: number) {}

  /** Returns the number of events dropped since the last allowed one, or undefined when this event is dropped. */
  take(nowMs: number): number | undefined {
    if (nowMs - this.windowStartMs >= 60_000) {
      this.windowStartMs = nowMs;
      this.taken = 0;
    }
    if (this.taken >= this.maxPerMinute) {
      this.dropped += 1;
      return undefined;
    }
    this.taken += 1;
    const dropped = this.dropped;
    this.dropped = 0;
    return dropped;
  }
}
