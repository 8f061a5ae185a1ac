import { InvalidArgumentError, type Command } from 'commander';

import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SERVE_LIMITS } from '../serve/options.js';
import { defaultDataDir, startServer } from '../serve/start.js';
import { parseInteger, parsePositiveInteger } from './options.js';
import { terminalLogger } from './terminal-logger.js';

const BYTES_PER_MB = 1024 * 1024;

/** Adds `busight serve`, the local clinic web app, to the program. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Start the clinic web app: upload ultrasound images in the browser, get probability, heat map and a printable report')
    .requiredOption('--model <dir>', "model bundle folder (a training run's model/)")
    .option('--port <n>', 'TCP port to listen on; 0 picks a free port', parsePort, DEFAULT_PORT)
    .option('--host <address>', 'address to listen on; 127.0.0.1 allows this computer only', DEFAULT_HOST)
    .option('--data-dir <dir>', `folder of the case database (default: ${defaultDataDir()})`)
    .option('--max-upload-mb <n>', 'maximum size of one uploaded image in MiB', parsePositiveInteger, DEFAULT_SERVE_LIMITS.maxUploadBytes / BYTES_PER_MB)
    .option('--max-megapixels <n>', 'maximum image size in millions of pixels', parsePositiveInteger, DEFAULT_SERVE_LIMITS.maxPixels / 1_000_000)
    .option('--max-queued <n>', 'uploads that may wait for the model before new ones get HTTP 429', parseInteger, DEFAULT_SERVE_LIMITS.maxQueued)
    .option('--request-timeout-s <n>', 'seconds from a received upload to its result, queue wait included, before HTTP 503', parsePositiveInteger, DEFAULT_SERVE_LIMITS.requestTimeoutMs / 1000)
    .action(async (options) => {
      const logger = terminalLogger();
      const server = await startServer({
        modelDir: options.model,
        port: options.port,
        host: options.host,
        dataDir: options.dataDir,
        limits: {
          maxUploadBytes: options.maxUploadMb * BYTES_PER_MB,
          maxPixels: options.maxMegapixels * 1_000_000,
          maxQueued: options.maxQueued,
          requestTimeoutMs: options.requestTimeoutS * 1000,
        },
        logger,
      });
      process.stdout.write(`${server.url}\n`);

      const stop = (signal: NodeJS.Signals) => {
        logger.info(`received ${signal}, stopping`);
        server.close().then(
          () => logger.close(),
          (error: unknown) => {
            logger.error(`stopping failed: ${error instanceof Error ? error.message : String(error)}`);
            process.exitCode = 1;
          },
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

function parsePort(value: string): number {
  const port = parseInteger(value);
  if (port > 65535) throw new InvalidArgumentError(`expected a port from 0 to 65535, received ${JSON.stringify(value)}`);
  return port;
}
