// `npm run version-packages`: turns the pending changesets (.changeset/*.md) into versions and
// CHANGELOG.md entries, then points every peer dependency between our packages at the new version.
//
// Why not plain `changeset version`: changesets 2 bumps a package to a new *major* version when a
// workspace package it has as a peer dependency leaves the peer range. Below 1.0 every minor
// release of the SDK leaves `^0.x.0`, so the executors would jump to 1.0.0. (changesets 3 fixed
// this but needs Node 22; this project runs on Node 20.) All @taskwarden packages are versioned
// together (`fixed` in .changeset/config.json), so the bump itself needs no help from the peer
// ranges: they are set to `*` while changesets runs and to `^<new version>` afterwards.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workspacePackages } from './workspace-packages.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = workspacePackages(root);
const names = new Set(packages.map((pkg) => pkg.name));

const readJson = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const writeJson = (dir, json) =>
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(json, null, 2)}\n`);

/** Peer dependencies on our own packages: [dir, dependency name, range before]. */
const peers = [];
for (const { dir } of packages) {
  const json = readJson(dir);
  for (const [dep, range] of Object.entries(json.peerDependencies ?? {})) {
    if (!names.has(dep)) continue;
    peers.push([dir, dep, range]);
    json.peerDependencies[dep] = '*';
  }
  writeJson(dir, json);
}

let versioned = false;
try {
  execFileSync(join(root, 'node_modules/.bin/changeset'), ['version'], { cwd: root, stdio: 'inherit' });
  versioned = true;
} finally {
  const versions = new Map(packages.map(({ name, dir }) => [name, readJson(dir).version]));
  for (const [dir, dep, before] of peers) {
    const json = readJson(dir);
    json.peerDependencies[dep] = versioned ? `^${versions.get(dep)}` : before;
    writeJson(dir, json);
  }
}

// The lockfile records every workspace package's version and peer ranges.
execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], {
  cwd: root,
  stdio: 'inherit',
});
execFileSync(process.execPath, [join(root, 'scripts/complete-lockfile.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
for (const { name, dir } of packages) console.log(`${name}@${readJson(dir).version}`);
