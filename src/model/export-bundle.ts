/**
 * `busight export`: writes a model bundle as one ONNX file (see buildExportModel) and a JSON
 * contract beside it. The contract states how to build the model's input from an image and how to
 * read its outputs, so another runtime can reproduce busight's probability.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { BOTTOM_PADDING_RULE, EDGE_PADDING_RULE, type PaddingRule } from '../data/padding.js';
import { ConfigError, ModelError } from '../errors.js';
import { sha256, sha256File, writeFileAtomic } from '../util/atomic.js';
import { BUSIGHT_VERSION } from '../version.js';
import { BACKBONE_SPECS } from './backbone.js';
import { BUNDLE_MANIFEST_FILE, readBundle } from './bundle.js';
import { buildExportModel, EXPORT_INPUT, PROBABILITY_OUTPUT, VIEW_AXIS, VIEW_LOGITS_OUTPUT } from './export-onnx.js';
import { FIXED_VIEWS, VIEW_ROTATION_DEG, ZOOM_CROP, type CropWindow, type FixedViewSpec } from './fixed-views.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './onnx-mobilenet-v2.js';

/** The only backbone whose graph the export can extend. */
const EXPORTABLE_BACKBONE = 'mobilenet_v2_1.0';

/** One fixed view of an image, as the contract lists it. */
export interface ExportView {
  /** Position of the view along the first axis of the input. */
  index: number;
  name: FixedViewSpec['name'];
  /** Part of the decoded image the view shows, as fractions of its width and height. */
  crop: CropWindow;
  /** Rotation about the view's centre in degrees, counter-clockwise when positive (see `preprocessing.resampling`). */
  rotationDeg: number;
  /** Whether the view is mirrored left to right after cropping and resizing. */
  mirror: boolean;
  description: string;
}

/** Contents of the JSON file written beside the exported ONNX file. */
export interface ExportContract {
  format: 'busight-onnx-export';
  /** 2 added the rotated views and `rotationDeg`. */
  /** Version 3 added `preprocessing.padding`. */
  formatVersion: 3;
  /** busight version that wrote the export. */
  busightVersion: string;
  createdAt: string;
  model: {
    name: string;
    /** Model version of the source bundle (see modelVersionOf). */
    version: string;
    classNames: ['benign', 'malignant'];
    positiveClass: 'malignant';
    /** Decision threshold on `probability`, in [0, 1]: malignant when probability >= threshold. */
    threshold: number;
    /** The rule above in words, for readers of the JSON file. */
    decisionRule: string;
    /** Malignant sensitivity on validation data that the threshold was chosen for. */
    targetSensitivity: number;
  };
  onnx: {
    /** File name of the ONNX model, in the same folder as this JSON file. */
    file: string;
    sha256: string;
    bytes: number;
    input: { name: string; dtype: 'float32'; shape: [string, number, number, number]; description: string };
    outputs: { name: string; dtype: 'float32'; shape: [string | number]; description: string }[];
  };
  preprocessing: {
    decode: string;
    /** Rule that cuts off black padding bands after decoding, or null when the bundle was trained without it. */
    padding: {
      description: string;
      /** Rule of the left, right and top edges. */
      edgeRule: PaddingRule;
      /** Rule of the bottom edge. */
      bottomRule: PaddingRule;
    } | null;
    inputSize: number;
    resize: string;
    resampling: string;
    channelOrder: 'RGB';
    scale: number;
    mean: readonly number[];
    std: readonly number[];
    formula: string;
    layout: 'NCHW';
    dtype: 'float32';
  };
  /** Views to stack along the input's first axis, in this order. Their count is the bundle's testTimeViews. */
  views: ExportView[];
  head: {
    featureDim: number;
    calibration: { scale: number; shift: number };
    formula: string;
  };
  /** The bundle the export was built from, with the SHA-256 of each of its files. */
  source: {
    bundleBusightVersion: string;
    manifestSha256: string;
    files: { path: string; sha256: string }[];
  };
}

/** Result of exportBundle. */
export interface ExportResult {
  onnxFile: string;
  contractFile: string;
  /** Size of the written ONNX file in bytes. */
  onnxBytes: number;
  contract: ExportContract;
}

/**
 * Returns the contract file for an ONNX output path: `model.onnx` gives `model.json`. Throws
 * ConfigError unless the path ends in `.onnx`.
 */
export function contractFileFor(onnxFile: string): string {
  if (!/\.onnx$/i.test(onnxFile)) {
    throw new ConfigError(`--out ${onnxFile}: expected a file name ending in .onnx, because the JSON contract is written beside it with .json`);
  }
  return onnxFile.replace(/\.onnx$/i, '.json');
}

/**
 * Exports the bundle in `bundleDir` (hashes verified by readBundle) to `onnxFile` and its
 * contract to contractFileFor(onnxFile). Each file is written atomically, the ONNX file first,
 * and the contract stores the ONNX file's SHA-256, so a reader can detect a mismatched pair.
 * Throws ConfigError for an invalid output path, and ModelError naming the bundle when the bundle
 * is damaged, its backbone is not mobilenet_v2_1.0 or its head has hidden layers.
 */
export async function exportBundle(bundleDir: string, onnxFile: string): Promise<ExportResult> {
  const contractFile = contractFileFor(onnxFile);
  for (const file of [onnxFile, contractFile]) await checkWritableFile(file, onnxFile);
  // Writing into the bundle could replace bundle.json or head.json and break the bundle.
  const bundleRoot = path.resolve(bundleDir);
  for (const file of [onnxFile, contractFile]) {
    const relative = path.relative(bundleRoot, path.resolve(file));
    if (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))) {
      throw new ConfigError(`--out ${onnxFile}: ${file} would be written inside the model bundle ${bundleDir}; choose a path outside it`);
    }
  }

  const bundle = await readBundle(bundleDir);
  const { manifest } = bundle;
  if (manifest.backbone.name !== EXPORTABLE_BACKBONE) {
    throw new ModelError(
      `${bundleDir}: the backbone is ${manifest.backbone.name}, but export supports ${EXPORTABLE_BACKBONE} only. ` +
        `Retrain with --backbone ${EXPORTABLE_BACKBONE} to export.`,
    );
  }
  // readBundle has checked the input size and the view count against the backbone.
  const spec = BACKBONE_SPECS[EXPORTABLE_BACKBONE];
  const { testTimeViews } = manifest.preprocessing;

  const backboneFile = path.join(bundle.backboneDir, spec.entryFile);
  let backboneBytes: Uint8Array;
  try {
    backboneBytes = await fs.readFile(backboneFile);
  } catch (error) {
    throw new ModelError(`failed to read ${backboneFile}: ${(error as Error).message}`);
  }

  const model = buildExportModel(backboneBytes, bundle.head, {
    source: bundleDir,
    metadata: {
      busight_version: BUSIGHT_VERSION,
      model_name: manifest.modelName,
      model_version: manifest.modelVersion,
      class_names: JSON.stringify(manifest.classNames),
      threshold: String(manifest.threshold),
      test_time_views: String(testTimeViews),
    },
  });
  await writeFileAtomic(onnxFile, model);

  const contract: ExportContract = {
    format: 'busight-onnx-export',
    formatVersion: 3,
    busightVersion: BUSIGHT_VERSION,
    createdAt: new Date().toISOString(),
    model: {
      name: manifest.modelName,
      version: manifest.modelVersion,
      classNames: manifest.classNames,
      positiveClass: 'malignant',
      threshold: manifest.threshold,
      decisionRule: 'malignant when probability >= threshold, benign otherwise',
      targetSensitivity: manifest.targetSensitivity,
    },
    onnx: onnxSection(path.basename(onnxFile), model, spec.inputSize),
    preprocessing: preprocessingSection(spec.inputSize, manifest.preprocessing.trimPadding === true),
    views: fixedViewList(spec.inputSize).slice(0, testTimeViews),
    head: {
      featureDim: bundle.head.featureDim,
      calibration: { ...bundle.head.calibration },
      formula: 'view_logit = sum_j kernel_j * (feature_j - mean_j) / std_j + bias; probability = sigmoid(scale * mean(view_logits) + shift)',
    },
    source: {
      bundleBusightVersion: manifest.busightVersion,
      manifestSha256: await sha256File(path.join(bundleDir, BUNDLE_MANIFEST_FILE)),
      files: [...manifest.backbone.files, { path: manifest.head.file, sha256: manifest.head.sha256 }],
    },
  };
  await writeFileAtomic(contractFile, `${JSON.stringify(contract, null, 2)}\n`);
  return { onnxFile, contractFile, onnxBytes: model.length, contract };
}

/** Throws ConfigError when `file` (the ONNX file or its contract, for `--out onnxFile`) is an existing folder, which an atomic rename cannot replace. */
async function checkWritableFile(file: string, onnxFile: string): Promise<void> {
  try {
    if ((await fs.stat(file)).isDirectory()) {
      const role = file === onnxFile ? 'the ONNX file' : 'the JSON contract written beside it';
      throw new ConfigError(`--out ${onnxFile}: ${file}, the path of ${role}, is a folder; choose another --out`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function onnxSection(file: string, model: Uint8Array, size: number): ExportContract['onnx'] {
  return {
    file,
    sha256: sha256(model),
    bytes: model.length,
    input: {
      name: EXPORT_INPUT,
      dtype: 'float32',
      shape: [VIEW_AXIS, 3, size, size],
      description: `The ${VIEW_AXIS} >= 1 preprocessed views of one image, stacked in the order of \`views\`.`,
    },
    outputs: [
      { name: VIEW_LOGITS_OUTPUT, dtype: 'float32', shape: [VIEW_AXIS], description: 'Raw (uncalibrated) head logit of each view.' },
      {
        name: PROBABILITY_OUTPUT,
        dtype: 'float32',
        shape: [1],
        description: 'Calibrated malignancy probability in [0, 1] of the mean view logit. It matches busight predict when the input contains the views listed in `views`, built as busight builds them.',
      },
    ],
  };
}

function preprocessingSection(size: number, trim: boolean): ExportContract['preprocessing'] {
  return {
    decode:
      'Decode to 8-bit RGB: grey images replicated to three channels, alpha dropped, EXIF orientation applied. ' +
      '16-bit PNG and TIFF samples keep their high byte (v >> 8, as libvips casts them). DICOM samples are mapped to 0-255 ' +
      "by the file's window centre and width, or without a window by the first frame's minimum and maximum.",
    padding: trim ? paddingSection() : null,
    inputSize: size,
    resize: `Each view is resized to ${size} x ${size} without keeping the aspect ratio, then rounded to uint8.`,
    resampling:
      "busight resizes the 'image' view with libvips (sharp resize, kernel 'linear', fit 'fill'), and 'image_mirrored' is that " +
      `view flipped left to right: its pixel (x, y) is pixel (${size - 1} - x, y) of view 0. The 'zoom', 'zoom_mirrored', 'rotated' ` +
      `and 'rotated_mirrored' views are sampled bilinearly without prefiltering. For output pixel (x, y), let dx = x + 0.5 - ${size / 2}, ` +
      `dy = y + 0.5 - ${size / 2} and a = rotationDeg * pi / 180. Then u = cos(a) dx - sin(a) dy + ${size / 2} and ` +
      `v = sin(a) dx + cos(a) dy + ${size / 2}, with u replaced by ${size} - u when mirrored. With the scale factors ` +
      `kx = (width * W) / ${size} and ky = (height * H) / ${size} computed first, where W, H are the image size after the padding step, the pixel ` +
      'reads source position sx = left * W + u * kx - 0.5 and sy = top * H + v * ky - 0.5 in float64 in this order, because many ' +
      'positions fall exactly halfway between two values and another order rounds some of them the other way. ' +
      'Neighbours outside the image count as black, and each value is rounded half up to uint8. ' +
      'Another resampler gives slightly different pixels, so its probabilities differ slightly from busight predict.',
    channelOrder: 'RGB',
    scale: 1 / 255,
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
    formula: 'input[v, c, y, x] = (pixel[y, x, c] / 255 - mean[c]) / std[c]',
    layout: 'NCHW',
    dtype: 'float32',
  };
}

function paddingSection(): NonNullable<ExportContract['preprocessing']['padding']> {
  const edge = EDGE_PADDING_RULE;
  const bottom = BOTTOM_PADDING_RULE;
  return {
    description:
      "After decoding, cut off black padding bands. Let m be a pixel's largest channel value. A line (column or row) is padding " +
      'under a rule when the count of its pixels with m > rule.level is at most rule.tolerance times the number of pixels counted. ' +
      'From an edge, step inward one line at a time: a padding line extends the band up to and including it; a run of non-padding ' +
      'lines no longer than floor(rule.maxGap * lines) is stepped over when a padding line follows it; a longer run, or one that ' +
      'reaches the far edge, ends the band. Columns first, with edgeRule from the left and from the right, counting all rows. ' +
      'Then rows, counting only the pixels of the kept columns: edgeRule from the top, bottomRule from the bottom. An edge cuts its ' +
      'band only when the band length is at least its rule\'s minBand times the number of lines on that axis. If the cut bands would leave no ' +
      `line on an axis, nothing is cut on that axis. With these rules: edges level ${edge.level}, tolerance ${edge.tolerance}, ` +
      `maxGap ${edge.maxGap}, minBand ${edge.minBand}; bottom level ${bottom.level}, tolerance ${bottom.tolerance}, ` +
      `maxGap ${bottom.maxGap}, minBand ${bottom.minBand}. W and H below are the size after this step.`,
    edgeRule: { ...edge },
    bottomRule: { ...bottom },
  };
}

/** Lists the fixed views that fixedViews builds, in its order. */
function fixedViewList(size: number): ExportView[] {
  return FIXED_VIEWS.map((spec, index) => ({
    index,
    name: spec.name,
    crop: { ...spec.crop },
    rotationDeg: spec.rotationDeg,
    mirror: spec.mirror,
    description: viewDescription(spec.name, size),
  }));
}

/** Returns the contract's description of a fixed view, for readers of the JSON file. */
function viewDescription(name: FixedViewSpec['name'], size: number): string {
  const percent = `${Math.round(ZOOM_CROP.width * 100)}%`;
  switch (name) {
    case 'image':
      return `The whole image resized to ${size} x ${size}.`;
    case 'image_mirrored':
      return 'View 0 mirrored left to right.';
    case 'zoom':
      return `The central ${percent} of the image's width and height, resized to ${size} x ${size}.`;
    case 'zoom_mirrored':
      return 'View 2 mirrored left to right.';
    case 'rotated':
      return `The whole image at ${size} x ${size}, rotated ${VIEW_ROTATION_DEG} degrees counter-clockwise about its centre; corners outside the image are black.`;
    case 'rotated_mirrored':
      return `The image mirrored left to right, then rotated ${VIEW_ROTATION_DEG} degrees counter-clockwise; corners outside the image are black.`;
  }
}
