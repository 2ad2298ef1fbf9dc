// The publishable packages as a stranger gets them (issue 15): packed with `npm pack`, linted with
// publint and @arethetypeswrong/cli, installed from the tarballs into an application in a temp
// directory outside the workspace, and used there from plain JavaScript, strict TypeScript and
// CommonJS. Packages are discovered from the workspace (`private` ones excluded), so a new package
// is checked without a change here.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attwProblems,
  EXPECTED_ATTW_PROBLEMS,
  groupAlive,
  npmInstall,
  pack,
  publintMessages,
  runNode,
} from '../../scripts/pack-check.mjs';
import { workspacePackages } from '../../scripts/workspace-packages.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const packages = workspacePackages(root);
const names = packages.map((pkg) => pkg.name);
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const REPOSITORY = 'https://github.com/taskwarden/taskwarden';

/** Paths that must never ship: tests, test fixtures, build configuration. */
const NEVER_SHIPPED = [
  /\.(test|spec)\.[cm]?[jt]sx?$/,
  /(^|\/)(test|tests|__tests__)\//,
  /(^|\/)tsconfig[^/]*\.json$/,
  /\.tsbuildinfo$/,
  /(^|\/)\.turbo\//,
];

let work = '';
let app = '';
const tarballs = new Map<string, { tarball: string; files: string[] }>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'taskwarden-pack-check-'));
  for (const pkg of packages) {
    // One at a time: each `npm pack` runs the package's prepack guard.
    tarballs.set(pkg.name, await pack(pkg.dir, join(work, 'tarballs')));
  }
  app = join(work, 'app');
  cpSync(fileURLToPath(new URL('./scratch-app', import.meta.url)), app, { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'pack-check-app', version: '1.0.0', private: true, type: 'module' }, null, 2),
  );
  // The application brings the oldest pino and tsyringe the SDK accepts (the workspace tests the
  // newest): npm must place one copy of each, and the SDK must work with them.
  await npmInstall(app, [
    ...[...tarballs.values()].map(({ tarball }) => tarball),
    'pino@^9.0.0',
    'tsyringe@4.8.0',
    `@types/node@${rootManifest.devDependencies['@types/node']}`,
  ]);
}, 240_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

/** The installed copy of a package in the scratch application. */
const installed = (name: string): string => join(app, 'node_modules', name);

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

/** Every file an `exports` entry points at. */
function exportTargets(exportsField: unknown): string[] {
  if (typeof exportsField === 'string') return [exportsField];
  if (exportsField === null || typeof exportsField !== 'object') return [];
  return Object.values(exportsField).flatMap(exportTargets);
}

/** The `bundle.mjs <entry> <out>` outputs a package's build script makes (the executors' runners). */
function bundleOutputs(buildScript: string | undefined): string[] {
  return [...(buildScript ?? '').matchAll(/bundle\.mjs\s+\S+\s+(\S+)/g)].map((match) => match[1] ?? '');
}

it('finds the publishable packages of the workspace, private ones excluded', () => {
  expect(names).toEqual(
    expect.arrayContaining(['@taskwarden/sdk', '@taskwarden/executor-local', '@taskwarden/executor-process']),
  );
  expect(names.some((name) => name.startsWith('@taskwarden/example-'))).toBe(false);
});

describe.each(packages)('$name', ({ name, json }) => {
  it('package.json: licence, repository, homepage, bugs, public access and a prepack build guard', () => {
    expect(json.license).toBe('Apache-2.0');
    expect(json.repository).toMatchObject({ type: 'git', url: `git+${REPOSITORY}.git` });
    expect(json.homepage).toBe(`${REPOSITORY}#readme`);
    expect(json.bugs).toEqual({ url: `${REPOSITORY}/issues` });
    expect(json.publishConfig).toEqual({ access: 'public' });
    expect(json.scripts?.prepack).toBe('node ../../scripts/prepack.mjs');
    expect(json.type).toBe('module');
  });

  it('depends on other workspace packages only as peers, with a range that names their current minor', () => {
    const versions = new Map(
      workspacePackages(root, { includePrivate: true }).map((p) => [p.name, p.json.version]),
    );
    for (const dep of Object.keys(json.dependencies ?? {})) expect(versions.has(dep), dep).toBe(false);
    for (const [dep, range] of Object.entries<string>(json.peerDependencies ?? {})) {
      const version = versions.get(dep);
      if (version === undefined) continue;
      const [major, minor] = version.split('.');
      // `^0.2.x` for a 0.2 SDK: in 0.x a caret range stays within one minor, as compatibility does.
      expect(range, dep).toMatch(new RegExp(`^\\^${major}\\.${minor}\\.\\d+$`));
    }
  });

  it('the tarball holds the build, the runners, README, LICENSE and CHANGELOG, and no tests', () => {
    const files = tarballs.get(name)?.files ?? [];
    const required = [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      ...exportTargets(json.exports).map((target) => target.replace(/^\.\//, '')),
      ...bundleOutputs(json.scripts?.build).flatMap((out) => [out, `${out}.map`]),
    ];
    expect(files).toEqual(expect.arrayContaining(required));
    expect(files.filter((file) => NEVER_SHIPPED.some((pattern) => pattern.test(file)))).toEqual([]);
    // Fixtures ship only where `files` names them (the SDK's conformance fixtures, for executor authors).
    const shippedFixtures = files.filter((file) => /(^|\/)fixtures\//.test(file));
    const declared = (json.files as string[]).filter((entry) => entry.includes('fixtures'));
    for (const file of shippedFixtures) {
      expect(
        declared.some((entry) => file.startsWith(`${entry}/`)),
        file,
      ).toBe(true);
    }
    expect(readFileSync(join(installed(name), 'LICENSE'), 'utf8')).toBe(
      readFileSync(join(root, 'LICENSE'), 'utf8'),
    );
  });

  it('every source map resolves to a file the package ships, or carries its sources', () => {
    const dir = installed(name);
    const unresolved: string[] = [];
    for (const file of walk(dir)) {
      if (!file.endsWith('.map')) continue;
      const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
      if (Array.isArray(map.sourcesContent) && map.sourcesContent.length === map.sources.length) continue;
      for (const source of map.sources) {
        const target = resolve(dirname(file), source);
        if (!target.startsWith(dir) || !existsSync(target))
          unresolved.push(`${relative(dir, file)} -> ${source}`);
      }
    }
    expect(unresolved).toEqual([]);
  });

  it('publint finds nothing (warnings count as errors)', async () => {
    expect(await publintMessages(tarballs.get(name)?.tarball ?? '')).toEqual([]);
  });

  it('arethetypeswrong finds only the expected ES-module-only problems', async () => {
    const problems = await attwProblems(
      root,
      tarballs.get(name)?.tarball ?? '',
      join(work, `${name.replace('/', '+')}.attw.json`),
    );
    const unexpected = problems.filter(
      (problem) =>
        !EXPECTED_ATTW_PROBLEMS.some(
          (expected) => expected.kind === problem.kind && expected.resolutionKind === problem.resolutionKind,
        ),
    );
    expect(unexpected).toEqual([]);
  }, 60_000);
});

describe('an application outside the workspace, installed from the tarballs', () => {
  it('is outside the workspace and has one copy of every package, of pino and of tsyringe (its own)', () => {
    expect(relative(root, app).startsWith('..')).toBe(true);
    for (const name of names) {
      expect(existsSync(join(installed(name), 'package.json')), name).toBe(true);
      expect(existsSync(join(installed(name), 'node_modules')), `${name} has nested dependencies`).toBe(
        false,
      );
    }
    const pino = JSON.parse(readFileSync(join(app, 'node_modules/pino/package.json'), 'utf8'));
    expect(pino.version).toMatch(/^9\./);
    // A second tsyringe would break the `container` option ("TypeInfo not known for TaskRuntimeImpl").
    const tsyringe = JSON.parse(readFileSync(join(app, 'node_modules/tsyringe/package.json'), 'utf8'));
    expect(tsyringe.version).toBe('4.8.0');
    expect(existsSync(join(app, 'node_modules/vitest')), 'vitest is an optional peer').toBe(false);
  });

  it('plain JavaScript: a task finishes and one is cancelled on the inline, worker and process executors', async () => {
    const run = await runNode(['esm-program.mjs'], { cwd: app, timeoutMs: 45_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}');
    const expected = {
      finished: { state: 'FINISHED', value: 42 },
      cancelled: { state: 'CANCELED', cancellationRequested: true, abandoned: false },
    };
    expect(summary.executors).toEqual({ inline: expected, worker: expected, process: expected });
    expect(summary.childPids).toHaveLength(1);
    expect(summary.childrenGone).toBe(true);
    expect(summary.threadsAfterClose).toBe(0);
    expect(summary.transitionsLogged).toBeGreaterThan(0);
    expect(summary.health).toBe('closed');
    expect(summary.manualSchedulerFired).toBe(true);
    expect(summary.conformanceWithoutVitest).toBe('ERR_MODULE_NOT_FOUND: vitest');
    expect(groupAlive(run.pid)).toBe(false);
  }, 60_000);

  it('CommonJS: require() of every subpath of every package works (Node >= 20.19)', async () => {
    const run = await runNode(['cjs-program.cjs', ...names], { cwd: app, timeoutMs: 45_000 });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}');
    const subpaths = packages.flatMap(({ name, json }) =>
      Object.keys(json.exports)
        .filter((subpath) => subpath !== './package.json')
        .map((subpath) => (subpath === '.' ? name : `${name}/${subpath.slice(2)}`)),
    );
    expect(Object.keys(summary.required).sort()).toEqual(subpaths.sort());
    for (const [specifier, result] of Object.entries(summary.required)) {
      if (specifier === '@taskwarden/sdk/testing/conformance') expect(result).toBe('needs vitest');
      else expect(result, specifier).toBeGreaterThan(0);
    }
    expect(summary.finished).toEqual({ state: 'FINISHED', result: 'done' });
    expect(summary.cancelled).toEqual({ state: 'CANCELED', cancellationRequested: true });
    expect(groupAlive(run.pid)).toBe(false);
  }, 60_000);

  it('strict TypeScript (nodenext, exactOptionalPropertyTypes, no decorator flags, skipLibCheck off) compiles', async () => {
    const run = await runNode([join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: app,
      timeoutMs: 45_000,
    });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.code).toBe(0);
  }, 60_000);
});
