import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { memoryLogger } from '../../util/log.js';
import { discoverClassFolders } from '../discover.js';
import { makeTempDir, texturePng, writeTree } from '../fixtures.js';
import { decodeImageBytes } from '../image.js';
import { duplicateGroups } from './duplicates.js';
import { hammingDistance, perceptualHash, perceptualHashes } from './perceptual-hash.js';

async function variants(): Promise<Record<string, Buffer>> {
  const base = await texturePng(1);
  const shifted = await sharp(base).extract({ left: 3, top: 2, width: 253, height: 254 }).extend({ right: 3, bottom: 2, extendWith: 'copy' }).png().toBuffer();
  return {
    base,
    reencoded: await sharp(base).png({ compressionLevel: 0 }).withMetadata().toBuffer(),
    jpeg: await sharp(base).jpeg({ quality: 85 }).toBuffer(),
    shifted,
    brighter: await sharp(base).linear(1.1, 10).png().toBuffer(),
    other: await texturePng(2),
  };
}

describe('perceptual hash', () => {
  test('variants near, other image far', async () => {
    const files = await variants();
    const hashes: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(files)) hashes[name] = perceptualHash(await decodeImageBytes(bytes, name));
    for (const name of ['reencoded', 'jpeg', 'shifted', 'brighter']) {
      assert.ok(hammingDistance(hashes.base, hashes[name]) <= 8, `${name}: distance ${hammingDistance(hashes.base, hashes[name])}`);
    }
    assert.ok(hammingDistance(hashes.base, hashes.other) > 16, `other: distance ${hammingDistance(hashes.base, hashes.other)}`);
  });

  test('mirrored hash matches mirrored image', async () => {
    // 256 pixels wide, a multiple of 32, so the two thumbnails are exact mirrors of each other.
    const base = await texturePng(7);
    const mirrored = await sharp(base).flop().png().toBuffer();
    const hashes = perceptualHashes(await decodeImageBytes(base, 'base.png'));
    const mirroredHash = perceptualHash(await decodeImageBytes(mirrored, 'mirrored.png'));
    assert.equal(hashes.mirrored, mirroredHash);
    assert.ok(hammingDistance(hashes.hash, mirroredHash) > 8, `direct distance ${hammingDistance(hashes.hash, mirroredHash)}`);
  });

  test('hamming distance counts bits', () => {
    assert.equal(hammingDistance('0000000000000000', '0000000000000000'), 0);
    assert.equal(hammingDistance('0000000000000000', 'ffffffffffffffff'), 64);
    assert.equal(hammingDistance('000000000000000f', '0000000000000001'), 3);
  });
});

describe('duplicateGroups', () => {
  test('groups variants and flags conflict', async () => {
    const files = await variants();
    const root = await makeTempDir();
    await writeTree(root, {
      'benign/base.png': files.base,
      'benign/reencoded.png': files.reencoded,
      'benign/shifted.png': files.shifted,
      'benign/other.png': files.other,
      'benign/third.png': await texturePng(3),
      'malignant/brighter.png': files.brighter,
      'malignant/jpeg.jpg': files.jpeg,
      'malignant/fourth.png': await texturePng(4),
    });
    const dataset = await discoverClassFolders(root, memoryLogger());
    const result = await duplicateGroups(dataset);
    assert.equal(result.groups.length, 1);
    const [group] = result.groups;
    assert.deepEqual(group.ids, ['benign/base.png', 'benign/reencoded.png', 'benign/shifted.png', 'malignant/brighter.png', 'malignant/jpeg.jpg']);
    assert.equal(group.kind, 'near');
    assert.equal(group.conflict, true);
    assert.equal(result.conflicts.length, 1);
    assert.equal(result.groupOf.get('benign/base.png'), result.groupOf.get('malignant/jpeg.jpg'));
    assert.notEqual(result.groupOf.get('benign/base.png'), result.groupOf.get('benign/other.png'));
    assert.equal(result.groupOf.size, 8);
  });

  test('mirrored copy joins the group', async () => {
    const root = await makeTempDir();
    const bytes = await texturePng(7);
    await writeTree(root, {
      'benign/a.png': bytes,
      'malignant/a-mirrored.png': await sharp(bytes).flop().png().toBuffer(),
      'malignant/c.png': await texturePng(8),
    });
    const result = await duplicateGroups(await discoverClassFolders(root, memoryLogger()));
    assert.equal(result.groups.length, 1);
    assert.deepEqual(result.groups[0].ids, ['benign/a.png', 'malignant/a-mirrored.png']);
    assert.equal(result.groups[0].kind, 'near');
    assert.equal(result.groups[0].conflict, true);
    assert.equal(result.groups[0].maxDistance, 0);
  });

  test('copy inside black padding joins the group', async () => {
    const root = await makeTempDir();
    const bytes = await texturePng(7);
    const { width = 0 } = await sharp(bytes).metadata();
    await writeTree(root, {
      'benign/a.png': bytes,
      'malignant/a-padded.png': await sharp(bytes).extend({ left: width, top: 0, bottom: 0, right: 0, background: '#000000' }).png().toBuffer(),
      'malignant/c.png': await texturePng(8),
    });
    const result = await duplicateGroups(await discoverClassFolders(root, memoryLogger()));
    assert.equal(result.groups.length, 1);
    assert.deepEqual(result.groups[0].ids, ['benign/a.png', 'malignant/a-padded.png']);
    assert.equal(result.groups[0].maxDistance, 0);
  });

  test('exact copies form exact group', async () => {
    const root = await makeTempDir();
    const bytes = await texturePng(5);
    await writeTree(root, {
      'benign/a.png': bytes,
      'benign/b.png': await sharp(bytes).png({ compressionLevel: 1 }).toBuffer(),
      'malignant/c.png': await texturePng(6),
    });
    const result = await duplicateGroups(await discoverClassFolders(root, memoryLogger()));
    assert.equal(result.groups.length, 1);
    assert.equal(result.groups[0].kind, 'exact');
    assert.equal(result.groups[0].conflict, false);
  });

  test('unreadable file is listed', async () => {
    const root = await makeTempDir();
    await writeTree(root, { 'benign/a.png': await texturePng(7), 'benign/bad.png': 'not a png', 'malignant/c.png': await texturePng(8) });
    const logger = memoryLogger();
    const result = await duplicateGroups(await discoverClassFolders(root, logger), { logger });
    assert.equal(result.unreadable.length, 1);
    assert.equal(result.unreadable[0].id, 'benign/bad.png');
    assert.match(result.unreadable[0].reason, new RegExp(`${path.join(root, 'benign', 'bad.png').replaceAll('/', '\\/')}: not a readable image`));
    assert.equal(result.groupOf.has('benign/bad.png'), false);
  });
});
