/**
 * Exact and near-duplicate detection over a dataset. Exact duplicates share the SHA-256 of their
 * decoded pixels. Near duplicates have perceptual hashes within `nearThreshold` bits, directly or
 * after mirroring one image left to right. Groups are the connected components of both relations
 * (union-find), so a chain of near pairs forms one group.
 */
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import type { Dataset } from '../dataset.js';
import { DEFAULT_IMAGE_LIMITS, isSkippableImageError, probeImageBytes, decodeImageBytes, readSampleBytes, type ImageInfo, type ImageLimits } from '../image.js';
import { trimPadding } from '../padding.js';
import type { Label } from '../sample.js';
import { detectAnnotations, type AnnotationFinding } from './annotations.js';
import { pixelHash } from './hashes.js';
import { forEachNearPair } from './near-pairs.js';
import { hammingDistance, perceptualHashes } from './perceptual-hash.js';

/**
 * Default maximum Hamming distance (of 64 bits) between perceptual hashes of near duplicates.
 * Chosen by looking at BUSI contact sheets: pairs at distances 0-8 were the same frame (often
 * once with and once without calipers). At 10 most pairs were the same lesion, but one pair was
 * two different lesions, and from 12 on different lesions became common.
 */
export const DEFAULT_NEAR_THRESHOLD = 8;

/** Hashes, header facts and annotation finding of one readable image. */
export interface Fingerprint {
  id: string;
  label: Label;
  info: ImageInfo;
  pixelHash: string;
  perceptualHash: string;
  /** Perceptual hash of the image mirrored left to right (see perceptualHashes). */
  mirroredPerceptualHash: string;
  annotations: AnnotationFinding;
}

export interface FingerprintResult {
  fingerprints: Fingerprint[];
  /** Files that could not be read or decoded, with the decoder's reason. */
  unreadable: { id: string; reason: string }[];
}

export interface FingerprintOptions {
  limits?: ImageLimits;
  logger?: Logger;
}

/** Reads and hashes every sample of a dataset, in dataset order, reporting progress as stage 'audit'. */
export async function fingerprintDataset(dataset: Dataset, options: FingerprintOptions = {}): Promise<FingerprintResult> {
  const limits = options.limits ?? DEFAULT_IMAGE_LIMITS;
  const logger = options.logger ?? silentLogger;
  const fingerprints: Fingerprint[] = [];
  const unreadable: FingerprintResult['unreadable'] = [];
  let done = 0;
  for (const sample of dataset.samples) {
    try {
      const bytes = await readSampleBytes(sample, limits);
      const info = await probeImageBytes(bytes, sample.file, limits);
      const image = await decodeImageBytes(bytes, sample.file, limits, logger);
      // The model scores the image without its padding bands, so a padded copy is a near duplicate.
      const hashes = perceptualHashes(trimPadding(image).image);
      fingerprints.push({
        id: sample.id,
        label: sample.label,
        info,
        pixelHash: pixelHash(image),
        perceptualHash: hashes.hash,
        mirroredPerceptualHash: hashes.mirrored,
        annotations: detectAnnotations(image),
      });
    } catch (error) {
      if (!isSkippableImageError(error)) throw error;
      unreadable.push({ id: sample.id, reason: error.message });
      logger.warn(`skipping unreadable image: ${error.message}`);
    }
    done++;
    if (done % 50 === 0 || done === dataset.samples.length) {
      logger.progress({ stage: 'audit', current: done, total: dataset.samples.length });
    }
  }
  return { fingerprints, unreadable };
}

/** One group of two or more images that are copies or near copies of each other. */
export interface DuplicateGroup {
  /** Group number, 0-based, in order of the group's smallest id. */
  group: number;
  /** 'exact' when all members share decoded pixels, else 'near'. */
  kind: 'exact' | 'near';
  /** Member ids, sorted. */
  ids: string[];
  labels: Label[];
  /** True when members carry different labels. */
  conflict: boolean;
  /** Largest perceptual-hash distance between any two members, each pair compared directly and with one member mirrored, whichever is closer. */
  maxDistance: number;
}

export interface DuplicateResult {
  /** Group number of every readable sample; samples without copies get a group of their own. */
  groupOf: Map<string, number>;
  /** Groups of two or more members, sorted by smallest id. */
  groups: DuplicateGroup[];
  /** The groups whose members carry different labels. */
  conflicts: DuplicateGroup[];
}

/** Groups fingerprints into exact and near duplicates (see the file comment). `nearThreshold` is in bits, 0 to 64. */
export function groupFingerprints(fingerprints: Fingerprint[], nearThreshold = DEFAULT_NEAR_THRESHOLD): DuplicateResult {
  const n = fingerprints.length;
  const parent = Array.from({ length: n }, (_, index) => index);
  const find = (index: number): number => {
    while (parent[index] !== index) {
      parent[index] = parent[parent[index]];
      index = parent[index];
    }
    return index;
  };
  const union = (a: number, b: number): void => {
    const rootA = find(a);
    const rootB = find(b);
    if (rootA !== rootB) parent[Math.max(rootA, rootB)] = Math.min(rootA, rootB);
  };

  // Exact duplicates by pixel hash, then near duplicates within nearThreshold bits.
  const firstByHash = new Map<string, number>();
  fingerprints.forEach((fingerprint, index) => {
    const first = firstByHash.get(fingerprint.pixelHash);
    if (first === undefined) firstByHash.set(fingerprint.pixelHash, index);
    else union(first, index);
  });
  // Index the hashes and the mirrored hashes together. A pair (i, j) below n is a direct near
  // pair, and (i, n + j) is image i near the mirror of image j. Pairs of two mirrors are skipped:
  // they repeat the direct comparison with other rounding, which on BUSI joined 5 pairs at
  // distance 10 to 12. An image and its own mirror are skipped too.
  forEachNearPair(
    [...fingerprints.map((fingerprint) => fingerprint.perceptualHash), ...fingerprints.map((fingerprint) => fingerprint.mirroredPerceptualHash)],
    nearThreshold,
    (a, b) => {
      if (b < n) union(a, b);
      else if (a < n && a !== b - n) union(a, b - n);
    },
  );

  // Number the components in order of their smallest id.
  const order = fingerprints.map((fingerprint, index) => index).sort((a, b) => (fingerprints[a].id < fingerprints[b].id ? -1 : 1));
  const numberOfRoot = new Map<number, number>();
  const groupOf = new Map<string, number>();
  const membersOf = new Map<number, number[]>();
  for (const index of order) {
    const root = find(index);
    if (!numberOfRoot.has(root)) numberOfRoot.set(root, numberOfRoot.size);
    const group = numberOfRoot.get(root)!;
    groupOf.set(fingerprints[index].id, group);
    const members = membersOf.get(group) ?? [];
    members.push(index);
    membersOf.set(group, members);
  }

  const groups: DuplicateGroup[] = [];
  for (const [group, members] of membersOf) {
    if (members.length < 2) continue;
    let maxDistance = 0;
    for (let a = 0; a < members.length; a++) {
      for (let b = a + 1; b < members.length; b++) {
        maxDistance = Math.max(maxDistance, pairDistance(fingerprints[members[a]], fingerprints[members[b]]));
      }
    }
    const labels = members.map((index) => fingerprints[index].label);
    const exact = members.every((index) => fingerprints[index].pixelHash === fingerprints[members[0]].pixelHash);
    groups.push({
      group,
      kind: exact ? 'exact' : 'near',
      ids: members.map((index) => fingerprints[index].id),
      labels,
      conflict: new Set(labels).size > 1,
      maxDistance,
    });
  }
  groups.sort((a, b) => a.group - b.group);
  return { groupOf, groups, conflicts: groups.filter((group) => group.conflict) };
}

/** Returns the perceptual-hash distance of two images, directly or with the first one mirrored, whichever is smaller. */
function pairDistance(a: Fingerprint, b: Fingerprint): number {
  return Math.min(hammingDistance(a.perceptualHash, b.perceptualHash), hammingDistance(a.mirroredPerceptualHash, b.perceptualHash));
}

export interface DuplicateGroupsOptions extends FingerprintOptions {
  /** Maximum perceptual-hash distance in bits for near duplicates; defaults to DEFAULT_NEAR_THRESHOLD. */
  nearThreshold?: number;
}

/**
 * Finds duplicate groups of a dataset, for splitting by group. Unreadable images are left out of
 * `groupOf` (and logged as warnings); pass `groupOf` to groupAwareSplit or groupKFold.
 */
export async function duplicateGroups(dataset: Dataset, options: DuplicateGroupsOptions = {}): Promise<DuplicateResult & { unreadable: FingerprintResult['unreadable'] }> {
  const { fingerprints, unreadable } = await fingerprintDataset(dataset, options);
  return { ...groupFingerprints(fingerprints, options.nearThreshold), unreadable };
}
