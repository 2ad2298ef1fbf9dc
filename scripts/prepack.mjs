// prepack guard of every publishable package (`"prepack": "node ../../scripts/prepack.mjs"`): npm
// runs it in the package directory before `npm pack` and `npm publish`, so a tarball never ships
// without its build, with a build older than its sources, or with outputs of deleted sources.
//
// A fresh build is left alone (nothing is written: the pack check packs while other tests load
// the executors' runners from dist/). Otherwise the package and the workspace packages it builds
// from are built through turbo, which orders the builds, and the result is checked again.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectDist } from './dist-freshness.mjs';
import { workspacePackages } from './workspace-packages.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkgDir = process.cwd();
const pkgJson = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const workspace = new Map(workspacePackages(root, { includePrivate: true }).map((p) => [p.name, p.dir]));
const upstream = Object.keys({
  ...pkgJson.dependencies,
  ...pkgJson.peerDependencies,
  ...pkgJson.devDependencies,
})
  .filter((name) => workspace.has(name))
  .map((name) => join(workspace.get(name), 'src'));

const say = (line) => process.stderr.write(`prepack ${pkgJson.name}: ${line}\n`);

function removeStale(report) {
  for (const file of report.stale) rmSync(join(pkgDir, file), { force: true });
  if (report.stale.length > 0)
    say(`removed ${report.stale.length} outputs of deleted sources: ${report.stale.join(', ')}`);
}

let report = inspectDist(pkgDir, pkgJson, upstream);
removeStale(report);
if (report.empty || report.missing.length > 0 || report.outdated.length > 0) {
  const why = report.empty
    ? 'no build output'
    : report.missing.length > 0
      ? `missing ${report.missing.join(', ')}`
      : `${report.outdated.length} sources changed since the last build`;
  say(`${why}; building`);
  const turbo = join(root, 'node_modules', '.bin', 'turbo');
  if (!existsSync(turbo)) {
    say('cannot build: the workspace has no node_modules (run `npm ci` at the repository root first)');
    process.exit(1);
  }
  execFileSync(turbo, ['run', 'build', `--filter=${pkgJson.name}`, '--output-logs=errors-only'], {
    cwd: root,
    // stdout is npm's (`npm pack --json` prints its report there): the build talks on stderr.
    stdio: ['ignore', 2, 2],
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  report = inspectDist(pkgDir, pkgJson, upstream);
  removeStale(report);
  // Freshness is turbo's now: a cache hit on unchanged content may leave older files in place.
  if (report.empty || report.missing.length > 0) {
    say(`the build did not produce a complete dist/ (missing: ${report.missing.join(', ') || 'none'})`);
    process.exit(1);
  }
}
