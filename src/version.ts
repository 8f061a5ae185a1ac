import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** The busight package version, written into every bundle and report. */
export const BUSIGHT_VERSION: string = packageJson.version;
