/** Entry points that find a backbone's weights and load it with the runtime its format needs. */
import { ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { BACKBONE_NAMES, BACKBONE_SPECS, isBackboneName, type Backbone, type BackboneName } from './backbone.js';
import { loadOnnxMobileNetV2 } from './onnx-mobilenet-v2.js';
import { loadTfjsMobileNetV1 } from './tfjs-mobilenet-v1.js';
import { locateBackboneDir, resolveWeightsDir, type ResolveWeightsOptions } from './weights.js';

/** Options of loadBackbone: where to look for weights (see resolveWeightsDir) and where to log. */
export type LoadBackboneOptions = ResolveWeightsOptions;

/**
 * Loads the named backbone, finding its weights through `--weights`, BUSIGHT_WEIGHTS_DIR, the
 * cache, then a download (see resolveWeightsDir). Throws ConfigError for an unknown name and
 * ModelError when the weights cannot be found or loaded.
 */
export async function loadBackbone(name: BackboneName, options: LoadBackboneOptions = {}): Promise<Backbone> {
  checkName(name);
  const dir = await resolveWeightsDir(name, options);
  return loadBackboneFromDir(name, dir, { logger: options.logger });
}

/**
 * Loads the named backbone from `dir`, which is either the backbone's own folder (as copied into
 * a model bundle) or a folder with one subfolder per backbone. Never downloads.
 */
export async function loadBackboneFromDir(
  name: BackboneName,
  dir: string,
  options: { logger?: Logger } = {},
): Promise<Backbone> {
  checkName(name);
  const logger = options.logger ?? silentLogger;
  const spec = BACKBONE_SPECS[name];
  const ownDir = await locateBackboneDir(spec, dir);
  return BACKBONE_LOADERS[name](ownDir, logger);
}

/** Loader of each backbone, given the backbone's own folder. */
const BACKBONE_LOADERS: Readonly<Record<BackboneName, (dir: string, logger: Logger) => Promise<Backbone>>> = {
  'mobilenet_v2_1.0': (dir) => loadOnnxMobileNetV2(dir),
  'mobilenet_v1_0.75': (dir, logger) => loadTfjsMobileNetV1(dir, { logger }),
};

/** Throws ConfigError listing the supported names, for callers that pass an unchecked string. */
function checkName(name: string): void {
  if (!isBackboneName(name)) {
    throw new ConfigError(`unknown backbone ${JSON.stringify(name)}: expected one of ${BACKBONE_NAMES.join(', ')}`);
  }
}
