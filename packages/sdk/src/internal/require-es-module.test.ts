import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCertainlyEsm } from './require-es-module.js';

describe('isCertainlyEsm', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A temporary tree: each key a relative path, each value the file's text. */
  function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'taskwarden-esm-'));
    dirs.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  it('is true for .mjs and false for .cjs and other extensions', () => {
    const root = tree({ 'package.json': '{ "type": "module" }' });
    expect(isCertainlyEsm(join(root, 'a.mjs'))).toBe(true);
    expect(isCertainlyEsm(join(root, 'a.cjs'))).toBe(false);
    expect(isCertainlyEsm(join(root, 'a.json'))).toBe(false);
    expect(isCertainlyEsm(join(root, 'a.ts'))).toBe(false);
  });

  it('follows the nearest package.json for .js, as Node does', () => {
    const root = tree({
      'package.json': '{ "type": "module" }',
      'inner/package.json': '{ "name": "no-type" }',
      'typed/deeper/package.json': '{ "type": "module" }',
    });
    expect(isCertainlyEsm(join(root, 'a.js'))).toBe(true);
    expect(isCertainlyEsm(join(root, 'sub/dir/a.js'))).toBe(true);
    expect(isCertainlyEsm(join(root, 'inner/a.js'))).toBe(false);
    expect(isCertainlyEsm(join(root, 'typed/deeper/a.js'))).toBe(true);
  });

  it('says false when it cannot be sure: a malformed package.json, a node_modules boundary', () => {
    const root = tree({
      'package.json': '{ "type": "module" }',
      'broken/package.json': '{ "type": ',
      'node_modules/pkg/index.js': '',
    });
    expect(isCertainlyEsm(join(root, 'broken/a.js'))).toBe(false);
    expect(isCertainlyEsm(join(root, 'node_modules/pkg/index.js'))).toBe(false);
  });
});
