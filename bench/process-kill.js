/**
 * Kill latency of a SIGTERM-deaf child that has a grandchild: ProcessExecutor (`execution.kill()`,
 * SIGTERM to the process group, SIGKILL to it after `killGraceMs`) against execa 9 (`kill()` with
 * `forceKillAfterDelay`, SIGTERM then SIGKILL to the child) at the same delay. The clock stops only
 * when the whole tree is gone: the child and the grandchild (by pid; a zombie counts as gone).
 *
 * Two grandchildren:
 * - "polite": ignores SIGTERM but exits when its parent dies (its stdin pipe closes). This is the
 *   best case for a single-pid kill, and gives execa a finite time to compare with.
 * - "deaf": ignores SIGTERM and its parent's death. execa kills only the child, so this grandchild
 *   is orphaned; the second metric counts processes still alive 1 s after the child is gone.
 *
 *   npm run build && node bench/process-kill.js [rounds]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessExecutor } from '@taskwarden/executor-process';
import { launchDirectly } from '@taskwarden/sdk/testing';
import { execa } from 'execa';
import { alternate, isMain, printResult } from './lib/stats.js';

const DELAY_MS = 200;
const ORPHAN_CHECK_MS = 1_000;

const GRANDCHILD = `
process.on('SIGTERM', () => {});
if (process.argv[2] === 'polite') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
setInterval(() => {}, 60_000);
process.stdout.write('ready\\n');
`;

// Shared by the execa script and the task module: ignore SIGTERM, start the grandchild, record pids.
const START_TREE = `
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
export function startTree(pidFile, variant, grandchildPath) {
  process.on('SIGTERM', () => {});
  const grandchild = spawn(process.execPath, [grandchildPath, variant], { stdio: ['pipe', 'pipe', 'ignore'] });
  return new Promise((resolve) => {
    grandchild.stdout.once('data', () => {
      appendFileSync(pidFile, JSON.stringify({ child: process.pid, grandchild: grandchild.pid }) + '\\n');
      resolve();
    });
  });
}
`;

function fixtures() {
  const dir = mkdtempSync(join(tmpdir(), 'taskwarden-bench-kill-'));
  const files = {
    dir,
    grandchild: join(dir, 'grandchild.mjs'),
    tree: join(dir, 'tree.mjs'),
    script: join(dir, 'deaf-script.mjs'),
    task: join(dir, 'deaf-task.mjs'),
  };
  writeFileSync(files.grandchild, GRANDCHILD);
  writeFileSync(files.tree, START_TREE);
  writeFileSync(
    files.script,
    `import { startTree } from './tree.mjs';\n` +
      `await startTree(process.argv[2], process.argv[3], ${JSON.stringify(files.grandchild)});\n` +
      'setInterval(() => {}, 60_000);\n',
  );
  writeFileSync(
    files.task,
    `import { startTree } from './tree.mjs';\n` +
      'export default async function deaf({ input }) {\n' +
      `  await startTree(input.pidFile, input.variant, ${JSON.stringify(files.grandchild)});\n` +
      '  return new Promise(() => setInterval(() => {}, 60_000));\n' +
      '}\n',
  );
  return files;
}

function isGone(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function treeOf(pidFile) {
  for (;;) {
    const text = readFileSync(pidFile, 'utf8');
    if (text.length > 0) return JSON.parse(text.trim());
    await sleep(2);
  }
}

/** Polls every millisecond until every pid is gone; returns the time since `t0`. */
async function goneAfter(pids, t0) {
  while (pids.some((pid) => !isGone(pid))) await sleep(1);
  return performance.now() - t0;
}

function killSurvivors(pids) {
  for (const pid of pids) {
    if (isGone(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}

let counter = 0;
function pidFileIn(dir) {
  const file = join(dir, `pids-${counter++}.json`);
  writeFileSync(file, '');
  return file;
}

/** Starts the tree under ProcessExecutor; `stop()` kills it and measures. */
async function startOurs(executor, files, variant) {
  const pidFile = pidFileIn(files.dir);
  const run = launchDirectly(executor, {
    task: { executionId: `kill-${counter}`, jobId: 'bench', name: 'deaf' },
    invokable: { module: files.task },
    input: { pidFile, variant },
  });
  const tree = await treeOf(pidFile);
  return { tree, kill: () => run.execution.kill(), done: () => run.outcome };
}

async function startExeca(files, variant) {
  const pidFile = pidFileIn(files.dir);
  const subprocess = execa(process.execPath, [files.script, pidFile, variant], {
    forceKillAfterDelay: DELAY_MS,
    stdio: 'ignore',
    reject: false,
  });
  const tree = await treeOf(pidFile);
  return { tree, kill: () => subprocess.kill(), done: () => subprocess };
}

async function latency(start) {
  const { tree, kill, done } = await start('polite');
  const pids = [tree.child, tree.grandchild];
  const t0 = performance.now();
  void kill();
  const elapsed = await goneAfter(pids, t0);
  await done();
  return elapsed;
}

async function orphans(start) {
  const { tree, kill, done } = await start('deaf');
  void kill();
  await goneAfter([tree.child], performance.now());
  await done();
  await sleep(ORPHAN_CHECK_MS);
  const alive = [tree.child, tree.grandchild].filter((pid) => !isGone(pid));
  killSurvivors(alive);
  return alive.length;
}

/**
 * @param {{ rounds?: number }} [options]
 */
export async function run({ rounds = 5 } = {}) {
  const files = fixtures();
  const executor = new ProcessExecutor({ killGraceMs: DELAY_MS });
  try {
    const ours = (variant) => startOurs(executor, files, variant);
    const peer = (variant) => startExeca(files, variant);
    const killStats = await alternate(
      { ours: () => latency(ours), execa: () => latency(peer) },
      { rounds, warmup: 1 },
    );
    const orphanStats = await alternate(
      { ours: () => orphans(ours), execa: () => orphans(peer) },
      { rounds: Math.min(rounds, 3), warmup: 0 },
    );
    const ratio = killStats.ours.median / killStats.execa.median;
    return {
      name: 'process-kill',
      description: `SIGTERM-deaf child + grandchild, SIGKILL after ${DELAY_MS} ms; time until the whole tree is gone`,
      results: [
        {
          metric: `kill until child + grandchild gone (grandchild exits with its parent), delay ${DELAY_MS} ms`,
          unit: 'ms',
          ours: killStats.ours,
          peers: { 'execa forceKillAfterDelay': killStats.execa },
          ratio,
          target: '<= 1.0x',
          met: ratio <= 1.0,
        },
        {
          metric: `processes alive ${ORPHAN_CHECK_MS} ms after the child is gone (deaf grandchild)`,
          unit: 'processes',
          ours: orphanStats.ours,
          peers: { 'execa forceKillAfterDelay': orphanStats.execa },
          target: '0',
          met: orphanStats.ours.max === 0,
        },
      ],
    };
  } finally {
    await executor.close();
    rmSync(files.dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const rounds = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  printResult(await run(rounds === undefined ? {} : { rounds }));
}
