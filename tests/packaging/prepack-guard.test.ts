// The prepack guard (issue 15: "nothing stops publishing an unbuilt package"): what it finds in a
// package's dist/, and `npm pack` refusing a package whose build is missing.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspectDist } from '../../scripts/dist-freshness.mjs';
import { cleanEnv } from '../../scripts/pack-check.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);

let dir = '';
const manifest = {
  name: '@taskwarden/prepack-guard-fixture',
  version: '1.0.0',
  type: 'module',
  exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
  files: ['dist'],
  scripts: { prepack: `node ${join(root, 'scripts/prepack.mjs')}` },
};

function write(path: string, text: string, mtimeSeconds?: number): void {
  const file = join(dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  if (mtimeSeconds !== undefined) utimesSync(file, mtimeSeconds, mtimeSeconds);
}

/** A package whose sources were written at t=1000 s and its build at t=2000 s. */
function builtPackage(): void {
  write('package.json', JSON.stringify(manifest));
  for (const name of ['index', 'util']) {
    write(`src/${name}.ts`, 'export const x = 1;\n', 1000);
    for (const suffix of ['.js', '.js.map', '.d.ts', '.d.ts.map']) write(`dist/${name}${suffix}`, '', 2000);
  }
  write('src/util.test.ts', '', 3000); // tests are not sources of the build
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskwarden-prepack-guard-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('inspectDist', () => {
  it('finds nothing to do in a complete build newer than its sources', () => {
    builtPackage();
    expect(inspectDist(dir, manifest)).toEqual({ empty: false, missing: [], stale: [], outdated: [] });
  });

  it('reports a package without a build as empty, with its exports missing', () => {
    write('src/index.ts', '');
    expect(inspectDist(dir, manifest)).toMatchObject({
      empty: true,
      missing: ['./dist/index.d.ts', './dist/index.js'],
    });
  });

  it('reports the outputs of a deleted source as stale (they would ship)', () => {
    builtPackage();
    write('dist/fast-path.js', '', 2000);
    write('dist/fast-path.d.ts', '', 2000);
    write('dist/worker/runner.cjs', '', 2000);
    expect(inspectDist(dir, manifest).stale.sort()).toEqual([
      'dist/fast-path.d.ts',
      'dist/fast-path.js',
      'dist/worker/runner.cjs',
    ]);
  });

  it('reports a source, its own or an upstream package’s, changed after the oldest output', () => {
    builtPackage();
    write('src/util.ts', 'export const x = 2;\n', 3000);
    write('upstream/src/errors.ts', '', 2500);
    write('upstream/src/errors.test.ts', '', 2500);
    const { outdated } = inspectDist(dir, manifest, [join(dir, 'upstream/src')]);
    expect(outdated.sort()).toEqual([join(dir, 'src/util.ts'), join(dir, 'upstream/src/errors.ts')]);
  });
});

describe('npm pack with the prepack guard', () => {
  it('refuses a package whose build is missing and that it cannot build, instead of shipping no dist', async () => {
    write('package.json', JSON.stringify(manifest));
    write('src/index.ts', 'export const x = 1;\n');
    const failure = await execFileAsync('npm', ['pack', '--dry-run', '--json'], {
      cwd: dir,
      env: cleanEnv(),
    }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure, 'npm pack succeeded').toBeDefined();
    expect(failure?.code).toBeGreaterThan(0);
    expect(failure?.stderr).toContain('no build output; building');
  }, 60_000);

  it('removes the outputs of deleted sources before packing and leaves a fresh build alone', async () => {
    builtPackage();
    write('dist/fast-path.js', '', 2000);
    const { stdout } = await execFileAsync('npm', ['pack', '--dry-run', '--json'], {
      cwd: dir,
      env: cleanEnv(),
    });
    const [report] = JSON.parse(stdout.slice(stdout.indexOf('[')));
    const files = (report.files as { path: string }[]).map((file) => file.path).sort();
    expect(files).toEqual([
      'dist/index.d.ts',
      'dist/index.d.ts.map',
      'dist/index.js',
      'dist/index.js.map',
      'dist/util.d.ts',
      'dist/util.d.ts.map',
      'dist/util.js',
      'dist/util.js.map',
      'package.json',
    ]);
    expect(existsSync(join(dir, 'dist/fast-path.js'))).toBe(false);
  }, 60_000);
});
