import * as os from 'node:os';
import * as path from 'node:path';

import { ConfigError } from '../errors.js';

import type { FastifyInstance } from 'fastify';

import { loadPredictor, type Predictor } from '../model/predictor.js';
import type { Logger } from '../util/log.js';
import { CaseStore, DATABASE_FILE } from './case-store.js';
import { DEFAULT_HOST, DEFAULT_PORT, type ServeLimits } from './options.js';
import { buildServeApp } from './server.js';

export interface StartServerOptions {
  /** Model bundle folder (a training run's model/). */
  modelDir: string;
  /** Port to listen on; 0 picks a free port. Default 8080. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1, reachable from this computer only. */
  host?: string;
  /** Folder of the case database. Default: defaultDataDir(). */
  dataDir?: string;
  limits?: Partial<ServeLimits>;
  logger: Logger;
}

/** A listening server; `close` stops accepting requests, finishes running ones and frees the model and database. */
export interface RunningServer {
  url: string;
  app: FastifyInstance;
  dataDir: string;
  close(): Promise<void>;
}

/** Returns the default data folder: $XDG_DATA_HOME/busight, else ~/.local/share/busight. */
export function defaultDataDir(): string {
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'busight');
}

/** Loads the model, opens the case database and starts listening. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { logger } = options;
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const dataDir = path.resolve(options.dataDir ?? defaultDataDir());

  const predictor: Predictor = await loadPredictor(options.modelDir, { logger });
  let store: CaseStore;
  try {
    store = CaseStore.open(dataDir, logger);
  } catch (error) {
    await predictor.dispose();
    throw error;
  }

  let app: FastifyInstance;
  try {
    app = await buildServeApp({ predictor, store, limits: options.limits, logger });
    await app.listen({ host, port });
  } catch (error) {
    store.close();
    await predictor.dispose();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`port ${port} on ${host} is already in use; pass --port with a free port, or --port 0 to pick one`);
    if (code === 'EADDRNOTAVAIL') throw new ConfigError(`address ${host} is not an address of this computer; pass --host 127.0.0.1`);
    throw error;
  }

  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${boundPort}/`;
  const manifest = predictor.manifest;
  logger.info(
    `busight serve listening on ${url} with model ${manifest.modelName} ${manifest.modelVersion} (threshold ${manifest.threshold.toFixed(3)}); cases in ${path.join(dataDir, DATABASE_FILE)}`,
  );
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    logger.warn(`listening on ${host}: other computers on the network can reach the server, which has no login. Use --host 127.0.0.1 unless the network is trusted.`);
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await app.close();
      store.close();
      await predictor.dispose();
      logger.info('busight serve stopped');
    })();
    return closing;
  };
  return { url, app, dataDir, close };
}
