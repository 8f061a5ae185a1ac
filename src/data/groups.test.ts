import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { foldRoundSplit, groupAwareSplit, groupKFold, type GroupMap } from './groups.js';
import type { Sample } from './sample.js';
import { Rng } from '../util/rng.js';

/** 300 samples (200 benign, 100 malignant) in groups of 1 to 4 members with one label each. */
function groupedSamples(): { samples: Sample[]; groups: GroupMap } {
  const rng = new Rng(3);
  const samples: Sample[] = [];
  const groups: GroupMap = new Map();
  let group = 0;
  for (const [label, count] of [[0, 200], [1, 100]] as const) {
    let assigned = 0;
    while (assigned < count) {
      const size = Math.min(count - assigned, 1 + rng.int(4));
      for (let i = 0; i < size; i++) {
        const id = `${label ? 'malignant' : 'benign'}/g${group}-${i}.png`;
        samples.push({ id, file: `/d/${id}`, label });
        groups.set(id, group);
      }
      assigned += size;
      group++;
    }
  }
  return { samples, groups };
}

function spansOf<T extends { id: string }>(items: T[], groups: GroupMap, key: (item: T) => string | number): number {
  const seen = new Map<number, Set<string | number>>();
  for (const item of items) {
    const group = groups.get(item.id)!;
    const values = seen.get(group) ?? new Set();
    values.add(key(item));
    seen.set(group, values);
  }
  return [...seen.values()].filter((values) => values.size > 1).length;
}

describe('groupAwareSplit', () => {
  test('no group spans two splits', () => {
    const { samples, groups } = groupedSamples();
    for (const seed of [1, 2, 3, 42]) {
      const result = groupAwareSplit(samples, groups, { seed });
      assert.equal(result.length, samples.length);
      assert.equal(spansOf(result, groups, (sample) => sample.split), 0);
    }
  });

  test('class counts near targets', () => {
    const { samples, groups } = groupedSamples();
    const result = groupAwareSplit(samples, groups, { seed: 42 });
    const targets: Record<string, number> = { train: 0.7, val: 0.2, test: 0.1 };
    for (const [label, n] of [[0, 200], [1, 100]] as const) {
      for (const split of ['train', 'val', 'test']) {
        const count = result.filter((sample) => sample.label === label && sample.split === split).length;
        assert.ok(Math.abs(count - n * targets[split]) <= 4, `label ${label} ${split}: ${count}`);
      }
    }
  });

  test('same seed same split', () => {
    const { samples, groups } = groupedSamples();
    assert.deepEqual(groupAwareSplit(samples, groups, { seed: 5 }), groupAwareSplit([...samples].reverse(), groups, { seed: 5 }));
    assert.notDeepEqual(groupAwareSplit(samples, groups, { seed: 5 }), groupAwareSplit(samples, groups, { seed: 6 }));
  });
});

describe('groupKFold', () => {
  test('no group spans two folds', () => {
    const { samples, groups } = groupedSamples();
    const folds = groupKFold(samples, groups, { k: 5, seed: 42 });
    assert.equal(spansOf(folds, groups, (sample) => sample.fold), 0);
    for (let fold = 0; fold < 5; fold++) {
      const benign = folds.filter((sample) => sample.fold === fold && sample.label === 0).length;
      const malignant = folds.filter((sample) => sample.fold === fold && sample.label === 1).length;
      assert.ok(Math.abs(benign - 40) <= 4, `fold ${fold} benign ${benign}`);
      assert.ok(Math.abs(malignant - 20) <= 4, `fold ${fold} malignant ${malignant}`);
    }
  });

  test('round split uses each fold once as test', () => {
    const { samples, groups } = groupedSamples();
    const folds = groupKFold(samples, groups, { k: 3, seed: 1 });
    const testCount = new Map<string, number>();
    for (let round = 0; round < 3; round++) {
      const split = foldRoundSplit(folds, round, 3);
      assert.equal(spansOf(split, groups, (sample) => sample.split), 0);
      for (const sample of split) if (sample.split === 'test') testCount.set(sample.id, (testCount.get(sample.id) ?? 0) + 1);
    }
    assert.equal(testCount.size, samples.length);
    assert.ok([...testCount.values()].every((count) => count === 1));
  });

  test('too few groups raise', () => {
    const samples: Sample[] = [
      { id: 'a', file: '/a', label: 0 },
      { id: 'b', file: '/b', label: 1 },
    ];
    assert.throws(() => groupKFold(samples, new Map(), { k: 2, seed: 1 }), /2 folds need at least 2 benign groups, found 1/);
    assert.throws(() => groupKFold(samples, new Map(), { k: 1, seed: 1 }), /expected an integer of at least 2/);
  });
});
