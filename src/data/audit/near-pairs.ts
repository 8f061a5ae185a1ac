/**
 * Finds all pairs of 64-bit perceptual hashes within a Hamming distance, without comparing every
 * pair. Multi-index hashing: the 64 bits are cut into threshold + 1 disjoint chunks, and by the
 * pigeonhole principle two hashes that differ in at most `threshold` bits agree exactly on at
 * least one chunk. Only hashes that share a chunk value are compared.
 */

/**
 * Smallest chunk width in bits that the index uses. With narrower chunks each bucket contains a
 * large share of all hashes, so for thresholds above 15 bits every pair is compared instead.
 */
const MIN_CHUNK_BITS = 4;

/** A hash as two unsigned 32-bit halves, for popcount distances. */
interface SplitHash {
  high: number;
  low: number;
}

/**
 * Calls `onPair(i, j)` once, with i < j, for every pair of `hashes` (16 hex digits each, as
 * perceptualHash returns) whose Hamming distance is at most `threshold` bits (0 to 64).
 * Throws RangeError on a hash that is not 16 hex digits.
 */
export function forEachNearPair(hashes: readonly string[], threshold: number, onPair: (i: number, j: number) => void): void {
  const split = hashes.map((hash, index) => splitHash(hash, index));
  const chunkCount = threshold + 1;
  if (64 / chunkCount < MIN_CHUNK_BITS) {
    for (let i = 0; i < split.length; i++) {
      for (let j = i + 1; j < split.length; j++) {
        if (distance(split[i], split[j]) <= threshold) onPair(i, j);
      }
    }
    return;
  }

  // chunkKeys[c][i] is chunk c of hash i.
  const bounds = Array.from({ length: chunkCount + 1 }, (_, c) => Math.round((c * 64) / chunkCount));
  const chunkKeys = Array.from({ length: chunkCount }, (_, c) => split.map((hash) => chunkOf(hash, bounds[c], bounds[c + 1])));

  for (let c = 0; c < chunkCount; c++) {
    const buckets = new Map<number, number[]>();
    chunkKeys[c].forEach((key, index) => {
      const bucket = buckets.get(key);
      if (bucket) bucket.push(index);
      else buckets.set(key, [index]);
    });
    for (const bucket of buckets.values()) {
      for (let a = 0; a < bucket.length; a++) {
        for (let b = a + 1; b < bucket.length; b++) {
          const i = bucket[a];
          const j = bucket[b];
          // Report each pair only at the first chunk on which it agrees.
          if (agreesBefore(chunkKeys, c, i, j)) continue;
          if (distance(split[i], split[j]) <= threshold) onPair(i, j);
        }
      }
    }
  }
}

function agreesBefore(chunkKeys: number[][], chunk: number, i: number, j: number): boolean {
  for (let earlier = 0; earlier < chunk; earlier++) {
    if (chunkKeys[earlier][i] === chunkKeys[earlier][j]) return true;
  }
  return false;
}

function splitHash(hash: string, index: number): SplitHash {
  if (!/^[0-9a-f]{16}$/i.test(hash)) {
    throw new RangeError(`perceptual hash ${index}: expected 16 hex digits, received ${JSON.stringify(hash)}`);
  }
  return { high: Number.parseInt(hash.slice(0, 8), 16), low: Number.parseInt(hash.slice(8), 16) };
}

/** Returns bits [start, end) of the hash, counted from the most significant bit; end - start <= 32. */
function chunkOf(hash: SplitHash, start: number, end: number): number {
  const value = (BigInt(hash.high) << 32n) | BigInt(hash.low);
  const width = BigInt(end - start);
  return Number((value >> BigInt(64 - end)) & ((1n << width) - 1n));
}

function distance(a: SplitHash, b: SplitHash): number {
  return popcount32((a.high ^ b.high) >>> 0) + popcount32((a.low ^ b.low) >>> 0);
}

function popcount32(value: number): number {
  let x = value - ((value >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
