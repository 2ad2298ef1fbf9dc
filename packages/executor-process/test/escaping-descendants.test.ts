import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import { isGone, launchDirectly, until, waitGone } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { PidLedger } from './helpers.js';
import {
  cgroupsLeftBy,
  ESCAPE_WAYS,
  ESCAPES,
  fixture,
  treeKillModesHere,
  untilRecorded,
  useProcessHarness,
} from './helpers.js';

// Regression (issue 14.1): the executor killed the child's process group only, so whatever left
// it kept running after a cancel, after close(), and after the host was SIGKILLed: coreutils
// `timeout` (setpgid), a `bash -m` job, a setsid daemon, `spawn(..., { detached: true })`. Each
// tree-kill mode the machine supports is checked for exactly what its README row promises.

const escapes = fixture('escapes.mjs');

/** The pid of each way's leaf process. */
function leaves(ledger: PidLedger, pidFile: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const way of ESCAPE_WAYS) {
    const [pid] = ledger.pidsOf(pidFile, way);
    if (pid === undefined) throw new Error(`no ${way} recorded: ${JSON.stringify(ledger.entries(pidFile))}`);
    pids.set(way, pid);
  }
  return pids;
}

/**
 * Expects every leaf but the mode's documented escapes to be gone (within `ms`), and those to be
 * alive; then kills the escapes (the test's own cleanup) and checks they are gone too.
 */
async function expectOnlyDocumentedEscapes(
  mode: TreeKillMode,
  pids: Map<string, number>,
  ms: number,
): Promise<void> {
  const escaped = ESCAPES[mode];
  const mustDie = [...pids].filter(([way]) => !escaped.includes(way)).map(([, pid]) => pid);
  await waitGone(mustDie, ms);
  const alive = [...pids].filter(([, pid]) => !isGone(pid)).map(([way]) => way);
  expect(alive.sort()).toEqual([...escaped].sort());
  const survivors = escaped.map((way) => pids.get(way) as number);
  for (const pid of survivors) process.kill(pid, 'SIGKILL');
  await waitGone(survivors);
}

describe.each(treeKillModesHere())('tree kill by %s: descendants that leave the group or session', (mode) => {
  let host: ChildProcess | undefined;
  // Registered before the harness, so it runs after the harness has closed everything and killed
  // whatever a failed test left (after-each hooks run last-registered first).
  afterEach(() => {
    if (host?.pid !== undefined && !isGone(host.pid)) host.kill('SIGKILL');
    host = undefined;
    // The cgroups of the executors this test process made are all removed.
    expect(cgroupsLeftBy(process.pid)).toEqual([]);
  });
  const harness = useProcessHarness({
    executor: { treeKill: mode, killGraceMs: 200 },
    expectNoProcesses: true,
  });
  const { setup, submit } = harness;

  it('reports its mode', () => {
    const { executor } = setup();
    expect(executor.treeKill).toBe(mode);
  });

  it('after a cancel (hard stop), only what the mode documents survives', async () => {
    setup();
    const pidFile = harness.ledger.pidFile();
    const task = submit(escapes, { pidFile });
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    const pids = leaves(harness.ledger, pidFile);
    task.cancel();
    expect((await task.done).state).toBe('CANCELED');
    // `done` waits for the tree: what had to die is gone already.
    await expectOnlyDocumentedEscapes(mode, pids, 0);
  });

  it('after the task returns, only what the mode documents survives', async () => {
    setup();
    const pidFile = harness.ledger.pidFile();
    const outcome = await submit(escapes, { pidFile, returns: true }).done;
    expect(outcome).toMatchObject({ state: 'FINISHED', result: 'returned' });
    await expectOnlyDocumentedEscapes(mode, leaves(harness.ledger, pidFile), 0);
  });

  it('after close(), only what the mode documents survives', async () => {
    const { executor } = setup();
    const pidFile = harness.ledger.pidFile();
    const run = launchDirectly(executor, { invokable: { module: escapes }, input: { pidFile } });
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    const pids = leaves(harness.ledger, pidFile);
    await executor.close();
    expect((await run.outcome).ok).toBe(false);
    await expectOnlyDocumentedEscapes(mode, pids, 0);
  });

  it('after the host is SIGKILLed, only what the mode documents survives, and its cgroups go', async () => {
    harness.setup();
    const pidFile = harness.ledger.pidFile();
    host = spawn(
      process.execPath,
      [fixture('host.mjs'), pidFile, 'escapes.mjs', JSON.stringify({ treeKill: mode, grandchild: false })],
      { stdio: 'ignore', detached: true },
    );
    harness.ledger.add(host.pid);
    const exited = new Promise((resolve) => host?.once('exit', resolve));
    await untilRecorded(harness.ledger, pidFile, 'invoked', 15_000);
    const [child] = harness.ledger.pidsOf(pidFile, 'child');
    const pids = leaves(harness.ledger, pidFile);
    host.kill('SIGKILL');
    await exited;
    await waitGone([child as number], 1_500);
    await expectOnlyDocumentedEscapes(mode, pids, 1_500);
    // The dying child started a remover outside its cgroup, which deletes it once it is empty.
    const hostPid = host.pid as number;
    await until(() => cgroupsLeftBy(hostPid).length === 0, 'the dead host’s cgroups to be removed', 5_000);
  });
});
