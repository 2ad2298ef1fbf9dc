// Whether a package's dist/ is what `npm run build` would make from its sources now. The prepack
// guard (scripts/prepack.mjs) reads it before every `npm pack` and `npm publish`.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Build outputs and the source suffix each comes from (tsc emits the first four, bundles the rest). */
const OUTPUT_SUFFIXES = ['.d.ts.map', '.d.ts', '.js.map', '.js', '.cjs.map', '.cjs'];

function* walk(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

const isSource = (path) => path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('.d.ts');

/** Every file an `exports` entry points at (conditions and subpaths flattened). */
function exportTargets(exportsField) {
  if (typeof exportsField === 'string') return [exportsField];
  if (exportsField === null || typeof exportsField !== 'object') return [];
  return Object.values(exportsField).flatMap(exportTargets);
}

/**
 * Compares a package's dist/ with its sources.
 *
 * - `empty`: there is no build output at all.
 * - `missing`: files that `exports` points at and that do not exist.
 * - `stale`: outputs whose source no longer exists (left by an earlier build; they would ship).
 * - `outdated`: sources (the package's own, or those of the workspace packages it builds from)
 *   changed after the oldest output was written.
 *
 * @param {string} pkgDir the package directory
 * @param {Record<string, any>} pkgJson its package.json
 * @param {string[]} [upstreamSourceDirs] src/ of the workspace packages it depends on
 */
export function inspectDist(pkgDir, pkgJson, upstreamSourceDirs = []) {
  const srcDir = join(pkgDir, 'src');
  const distDir = join(pkgDir, 'dist');
  const stale = [];
  let oldestOutput = Number.POSITIVE_INFINITY;
  let outputs = 0;
  for (const file of walk(distDir)) {
    const rel = relative(distDir, file);
    const suffix = OUTPUT_SUFFIXES.find((s) => rel.endsWith(s));
    if (suffix === undefined) continue;
    outputs++;
    if (!existsSync(join(srcDir, `${rel.slice(0, -suffix.length)}.ts`))) {
      stale.push(relative(pkgDir, file).split(sep).join('/'));
      continue;
    }
    oldestOutput = Math.min(oldestOutput, statSync(file).mtimeMs);
  }
  const missing = [...new Set(exportTargets(pkgJson.exports))].filter(
    (target) => !existsSync(join(pkgDir, target)),
  );
  const outdated = [];
  for (const dir of [srcDir, ...upstreamSourceDirs]) {
    for (const file of walk(dir)) {
      if (isSource(file) && statSync(file).mtimeMs > oldestOutput) outdated.push(file);
    }
  }
  return { empty: outputs === stale.length, missing, stale, outdated };
}
