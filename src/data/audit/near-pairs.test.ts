import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Rng } from '../../util/rng.js';
import { forEachNearPair } from './near-pairs.js';
import { hammingDistance } from './perceptual-hash.js';

/** Random 64-bit hashes in clusters: each derived hash flips a few bits of its cluster's centre. */
function clusteredHashes(count: number, seed: number): string[] {
  const rng = new Rng(seed);
  const hexDigit = () => Math.floor(rng.next() * 16).toString(16);
  const centres = Array.from({ length: Math.ceil(count / 4) }, () => Array.from({ length: 16 }, hexDigit).join(''));
  return Array.from({ length: count }, (_, index) => {
    const bits = centres[index % centres.length].split('').map((digit) => Number.parseInt(digit, 16));
    const flips = Math.floor(rng.next() * 12);
    for (let flip = 0; flip < flips; flip++) {
      const bit = Math.floor(rng.next() * 64);
      bits[bit >> 2] ^= 1 << (3 - (bit & 3));
    }
    return bits.map((digit) => digit.toString(16)).join('');
  });
}

function bruteForcePairs(hashes: string[], threshold: number): string[] {
  const pairs: string[] = [];
  for (let i = 0; i < hashes.length; i++) {
    for (let j = i + 1; j < hashes.length; j++) if (hammingDistance(hashes[i], hashes[j]) <= threshold) pairs.push(`${i},${j}`);
  }
  return pairs.sort();
}

function indexedPairs(hashes: string[], threshold: number): string[] {
  const pairs: string[] = [];
  forEachNearPair(hashes, threshold, (i, j) => pairs.push(`${i},${j}`));
  return pairs.sort();
}

describe('near pairs', () => {
  const hashes = clusteredHashes(300, 5);

  for (const threshold of [0, 1, 3, 8, 12, 15, 16, 30, 64]) {
    test(`threshold ${threshold} matches brute force`, () => {
      const expected = bruteForcePairs(hashes, threshold);
      const found = indexedPairs(hashes, threshold);
      assert.equal(found.length, new Set(found).size, 'a pair was reported twice');
      assert.deepEqual(found, expected);
    });
  }

  test('identical hashes pair up', () => {
    assert.deepEqual(indexedPairs(['ffffffffffffffff', '0000000000000000', 'ffffffffffffffff'], 0), ['0,2']);
  });

  test('malformed hash rejected', () => {
    assert.throws(() => indexedPairs(['ffffffffffffffff', 'xyz'], 8), /perceptual hash 1: expected 16 hex digits/);
  });
});
