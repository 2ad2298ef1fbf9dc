// The packages as a stranger gets them: packed with `npm pack`, linted with publint and
// @arethetypeswrong/cli, installed from the tarballs into an application outside the workspace.
// tests/packaging/pack-check.test.ts drives these steps (`npm run pack-check`; part of `npm test`).
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Problems @arethetypeswrong/cli reports for every package here and that are expected: the
 * packages are ES modules only (no CommonJS build), for Node ≥ 20.19, where `require()` of an ES
 * module works. Anything else it reports fails the check.
 */
export const EXPECTED_ATTW_PROBLEMS = [
  {
    kind: 'NoResolution',
    resolutionKind: 'node10',
    why: '`moduleResolution: node10` ignores `exports`, and there is no `main`/`types` fallback: node10 is not supported (TypeScript 7 dropped it)',
  },
  {
    kind: 'CJSResolvesToESM',
    resolutionKind: 'node16-cjs',
    why: "attw's TypeScript models Node before require(esm); on Node ≥ 20.19 `require()` loads these ES modules (the CommonJS check proves it)",
  },
];

/**
 * The environment for the npm and node processes of the check: without the `npm_*` variables of
 * the `npm test` that runs us (an inherited `npm_config_*` would configure the scratch install
 * from the workspace) and without NODE_OPTIONS.
 */
export function cleanEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'NODE_OPTIONS' || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return { ...env, NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false' };
}

/**
 * `npm pack`s one package into `dest` (its prepack guard runs) and returns the tarball's path and
 * file list.
 * @param {string} pkgDir
 * @param {string} dest
 * @returns {Promise<{ tarball: string, files: string[] }>}
 */
export async function pack(pkgDir, dest) {
  mkdirSync(dest, { recursive: true });
  const { stdout } = await execFileAsync('npm', ['pack', '--json', '--pack-destination', dest], {
    cwd: pkgDir,
    env: cleanEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
  const [report] = JSON.parse(stdout.slice(stdout.indexOf('[')));
  return { tarball: join(dest, report.filename), files: report.files.map((file) => file.path).sort() };
}

/**
 * publint on a tarball, warnings counted as errors. Returns its messages, formatted.
 * @param {string} tarball
 * @returns {Promise<string[]>}
 */
export async function publintMessages(tarball) {
  const { publint } = await import('publint');
  const { formatMessage } = await import('publint/utils');
  const bytes = readFileSync(tarball);
  const { messages, pkg } = await publint({
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    level: 'suggestion',
    strict: true,
  });
  return messages.map(
    (message) => `${message.type} ${message.code}: ${formatMessage(message, pkg, { color: false })}`,
  );
}

/**
 * @arethetypeswrong/cli on a tarball. Returns every problem it finds, as `{ kind, entrypoint,
 * resolutionKind }` objects. The report goes to a file: through a pipe, attw's exit cuts a large
 * JSON report short.
 * @param {string} root the repository root (attw is one of its devDependencies)
 * @param {string} tarball
 * @param {string} reportFile
 * @returns {Promise<{ kind: string, entrypoint: string, resolutionKind: string }[]>}
 */
export async function attwProblems(root, tarball, reportFile) {
  const fd = openSync(reportFile, 'w');
  try {
    await new Promise((resolve, reject) => {
      const child = spawn(join(root, 'node_modules/.bin/attw'), [tarball, '--format', 'json'], {
        stdio: ['ignore', fd, 'inherit'],
        env: cleanEnv(),
      });
      child.on('error', reject);
      // attw exits 1 when it finds problems: which ones is read from the report.
      child.on('exit', (code) =>
        code === 0 || code === 1 ? resolve() : reject(new Error(`attw exited ${code}`)),
      );
    });
  } finally {
    closeSync(fd);
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  return (report.analysis?.problems ?? []).map(({ kind, entrypoint, resolutionKind }) => ({
    kind,
    entrypoint,
    resolutionKind,
  }));
}

/**
 * Runs `node <args>` in its own process group; on timeout the whole group is SIGKILLed. Resolves
 * once the process has exited, with its output.
 * @param {string[]} args
 * @param {{ cwd: string, timeoutMs: number }} options
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, pid: number }>}
 */
export function runNode(args, { cwd, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: cleanEnv(), detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, pid: child.pid });
    });
  });
}

/**
 * Whether any process of the process group `pgid` is alive.
 * @param {number} pgid
 */
export function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if (error.code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Installs the tarballs (and `extra` registry packages) into `appDir`, an application outside the
 * workspace. The registry serves the packages' own dependencies (from npm's cache when it can).
 * @param {string} appDir
 * @param {string[]} specs tarball paths and package specs
 */
export async function npmInstall(appDir, specs) {
  await execFileAsync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...specs], {
    cwd: appDir,
    env: cleanEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
}
