import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseStat } from '@taskwarden/sdk/internal';
import { isGone, sleep, waitGone } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, PidLedger, untilRecorded } from './helpers.js';

// Regression (issue 14.2): when the host was SIGKILLed while a child was stopped (SIGSTOP), the
// child stayed stopped for ever (its watchdog thread is stopped with it) and its grandchildren kept
// running. Children now start under `setpriv --pdeathsig CONT`: the kernel wakes the child when
// the host dies, and its watchdog kills the whole tree.

function state(pid: number): string | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1')).state;
  } catch {
    return undefined;
  }
}

describe('a child stopped by SIGSTOP when its host is SIGKILLed', () => {
  let ledger: PidLedger;
  let host: ChildProcess | undefined;

  afterEach(() => {
    // On failure this SIGKILLs every recorded survivor (by pid and by group) before reporting it.
    expect(ledger.cleanup()).toEqual([]);
    host = undefined;
  });

  /** Starts host.mjs running `fixtureName` (with a grandchild), stops the child, kills the host. */
  async function stopChildThenKillHost(
    fixtureName: string,
    options: object = {},
  ): Promise<{ child: number; grandchild: number }> {
    ledger = new PidLedger();
    const pidFile = ledger.pidFile();
    host = spawn(process.execPath, [fixture('host.mjs'), pidFile, fixtureName, JSON.stringify(options)], {
      stdio: 'ignore',
      detached: true,
    });
    ledger.add(host.pid);
    const started = host;
    const exited = new Promise((resolve) => started.once('exit', resolve));
    await untilRecorded(ledger, pidFile, 'invoked', 15_000);
    const child = ledger.pidsOf(pidFile, 'child')[0] as number;
    const grandchild = ledger.pidsOf(pidFile, 'grandchild')[0] as number;
    process.kill(child, 'SIGSTOP');
    for (let attempt = 0; state(child) !== 'T' && attempt < 100; attempt++) await sleep(5);
    expect(state(child)).toBe('T');
    started.kill('SIGKILL');
    await exited;
    return { child, grandchild };
  }

  it.each([
    ['a CPU-bound', 'cpu-bound.mjs'],
    ['an idle', 'deaf-with-grandchild.mjs'],
  ])('%s child and its grandchild are gone within 1 s of the host’s death', async (_, fixtureName) => {
    const { child, grandchild } = await stopChildThenKillHost(fixtureName);
    await waitGone([child, grandchild], 1_000);
  });

  it('without the parent-death signal (no setpriv) the child stays stopped and its grandchild runs on', async () => {
    // What the README says of a machine without util-linux `setpriv`: nothing wakes the child.
    const { child, grandchild } = await stopChildThenKillHost('cpu-bound.mjs', { noParentDeathSignal: true });
    await sleep(1_000);
    expect(state(child)).toBe('T');
    expect(isGone(grandchild)).toBe(false);
    // Once something continues it, its watchdog sees the host gone and kills the tree.
    process.kill(child, 'SIGCONT');
    await waitGone([child, grandchild], 1_500);
  });
});
