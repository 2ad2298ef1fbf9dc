/**
 * What tracking the processes a worker task spawns costs per spawn: a task on WorkerExecutor
 * (1 thread) starts `/bin/true` and waits for it, SPAWNS times, with `execFileSync` and with
 * `spawn` + its `'exit'`, in each tree-kill mode this machine offers ('cgroup': every spawn
 * starts through a `/bin/sh` that joins the thread's cgroup and `exec`s the command; 'cookie' and
 * 'process-group': the environment cookie and a group of its own only), against the same loop on
 * the main thread with nothing tracked. Figures are milliseconds per spawn, min / median / max over
 * the rounds; contenders alternate (the order reverses every round) after one warm-up round, which
 * also starts each thread's sentinel (a thread's first spawn only).
 *
 * `--baseline=<module specifier>` adds that module's WorkerExecutor (another build) as a contender,
 * for before/after comparisons.
 *
 *   npm run build && node bench/worker-spawn-cost.js [rounds] [--baseline=<module specifier>]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerExecutor } from '@taskwarden/executor-local';
import { detectTreeKill, TREE_KILL_MODES } from '@taskwarden/sdk/internal';
import { launchDirectly } from '@taskwarden/sdk/testing';
import { alternate, isMain, printResult } from './lib/stats.js';

const SPAWNS = 100;

const TASK = `
import { execFileSync, spawn } from 'node:child_process';
export default async function spawnLoop({ input }) {
  const started = performance.now();
  for (let i = 0; i < input.spawns; i++) {
    if (input.sync) execFileSync('/bin/true');
    else await new Promise((resolve, reject) => spawn('/bin/true').once('exit', resolve).once('error', reject));
  }
  return (performance.now() - started) / input.spawns;
}
`;

/** The same loop on the main thread, nothing tracked. */
async function bareLoop(sync, spawns) {
  const started = performance.now();
  for (let i = 0; i < spawns; i++) {
    if (sync) execFileSync('/bin/true');
    else
      await new Promise((resolve, reject) => spawn('/bin/true').once('exit', resolve).once('error', reject));
  }
  return (performance.now() - started) / spawns;
}

function contender(Executor, options, module) {
  const executor = new Executor({ maxThreads: 1, idleTimeoutMs: Number.POSITIVE_INFINITY, ...options });
  const loop = async (sync) => {
    const run = launchDirectly(executor, { invokable: { module }, input: { sync, spawns: SPAWNS } });
    const outcome = await run.outcome;
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  };
  return { loop, close: () => executor.close() };
}

/** Measures; returns the report. */
export async function run({ rounds = 5, baseline } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'taskwarden-bench-spawn-'));
  const module = join(dir, 'spawn-loop.mjs');
  writeFileSync(module, TASK);
  const modes = TREE_KILL_MODES.slice(TREE_KILL_MODES.indexOf(detectTreeKill().mode));
  const contenders = new Map(
    modes.map((mode) => [mode, contender(WorkerExecutor, { treeKill: mode }, module)]),
  );
  if (baseline) {
    const { WorkerExecutor: Baseline } = await import(baseline);
    contenders.set('baseline', contender(Baseline, {}, module));
  }
  const results = [];
  try {
    for (const sync of [true, false]) {
      const measured = Object.fromEntries(
        [...contenders].map(([name, { loop }]) => [name, () => loop(sync)]),
      );
      measured.bare = () => bareLoop(sync, SPAWNS);
      const stats = await alternate(measured, { rounds });
      const how = sync ? 'execFileSync' : 'spawn + exit';
      for (const name of contenders.keys()) {
        results.push({
          metric: `per spawn of /bin/true (${how}), worker task, ${name}`,
          unit: 'ms',
          ours: stats[name],
          peers: { 'main thread, untracked': stats.bare },
          ratio: Math.round((stats[name].median / stats.bare.median) * 100) / 100,
        });
      }
    }
  } finally {
    await Promise.all([...contenders.values()].map(({ close }) => close()));
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    name: 'worker-spawn-cost',
    description: `milliseconds per spawn of /bin/true from a worker task (${SPAWNS} per round), by tree-kill mode`,
    results,
  };
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2);
  const rounds = args.find((arg) => !arg.startsWith('--'));
  const baseline = args.find((arg) => arg.startsWith('--baseline='))?.slice('--baseline='.length);
  printResult(await run({ ...(rounds ? { rounds: Number(rounds) } : {}), baseline }));
}
