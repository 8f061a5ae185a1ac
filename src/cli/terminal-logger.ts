import cliProgress from 'cli-progress';

import type { Logger, ProgressEvent } from '../util/log.js';

/**
 * Returns the command-line logger. Messages go to stderr so that stdout carries only results
 * (predict's CSV or JSON). On a terminal, progress events become one bar per stage with counts
 * and time left. Elsewhere (CI, pipes) each stage prints a line at the start, every 25% and the end.
 */
export function terminalLogger(options: { quiet?: boolean } = {}): Logger & { close(): void } {
  const interactive = process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let barStage = '';
  let lastQuarter = -1;

  const closeBar = () => {
    bar?.stop();
    bar = undefined;
    barStage = '';
  };
  const write = (line: string) => {
    if (bar) closeBar();
    process.stderr.write(`${line}\n`);
  };

  return {
    info: (message) => {
      if (!options.quiet) write(message);
    },
    warn: (message) => write(`warning: ${message}`),
    error: (message) => write(`error: ${message}`),
    progress: (event: ProgressEvent) => {
      if (options.quiet) return;
      if (interactive) {
        if (barStage !== event.stage) {
          closeBar();
          bar = new cliProgress.SingleBar(
            { format: `${event.stage.padEnd(18)} [{bar}] {value}/{total}  {percentage}%  eta {eta_formatted}`, etaBuffer: 50, stream: process.stderr },
            cliProgress.Presets.shades_classic,
          );
          bar.start(event.total, event.current);
          barStage = event.stage;
        }
        bar!.setTotal(event.total);
        bar!.update(event.current);
        if (event.current >= event.total) closeBar();
        return;
      }
      const quarter = event.total > 0 ? Math.floor((4 * event.current) / event.total) : 4;
      if (barStage !== event.stage) {
        barStage = event.stage;
        lastQuarter = -1;
      }
      if (quarter !== lastQuarter) {
        lastQuarter = quarter;
        process.stderr.write(`${event.stage}: ${event.current}/${event.total}\n`);
      }
    },
    close: closeBar,
  };
}
