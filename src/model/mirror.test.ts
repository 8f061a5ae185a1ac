import assert from 'node:assert/strict';
import { test } from 'node:test';

import { mirrorMap } from './mirror.js';

test('mirrorMap reverses each row', () => {
  const map = Float32Array.of(1, 2, 3, 4, 5, 6);
  assert.deepEqual(Array.from(mirrorMap(map, 2, 3)), [3, 2, 1, 6, 5, 4]);
  assert.deepEqual(Array.from(map), [1, 2, 3, 4, 5, 6], 'the input is left unchanged');
});

test('mirrorMap rejects wrong length', () => {
  assert.throws(() => mirrorMap(new Float32Array(5), 2, 3), /mirrorMap: expected 2x3 = 6 values, received 5/);
});
