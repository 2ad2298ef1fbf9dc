import { spawn } from 'node:child_process';
import { waitGone } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, PidLedger } from './helpers.js';

// Regression: on EMFILE/ENFILE Node's spawn() returns a ChildProcess without `stdio` and reports the
// error by an 'error' event on the next tick. The handle used to read `child.stdio` first (a
// TypeError) and attach its 'error' listener after, so the event went unhandled and the host died.
describe('an asynchronous EMFILE from spawning', () => {
  let ledger: PidLedger;

  afterEach(() => {
    expect(ledger.cleanup()).toEqual([]);
  });

  it('fails only the task, in DEPLOYING, with ProcessSpawnError (LAUNCH_FAILED, EMFILE); the host survives', async () => {
    ledger = new PidLedger();
    const pidFile = ledger.pidFile();
    // A real descriptor limit: the host fills its table, so Node itself fails the spawn.
    const host = spawn(
      'sh',
      ['-c', `ulimit -n 64; exec "${process.execPath}" "$0" "$1"`, fixture('emfile-host.mjs'), pidFile],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    ledger.add(host.pid);
    let stdout = '';
    let stderr = '';
    host.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    host.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((resolve) => host.once('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      first: { state: string; error?: { name: string; code: string; errno?: string } };
      second: { state: string };
      health: string;
    };
    expect(report.first).toMatchObject({
      state: 'FAILED',
      error: { name: 'ProcessSpawnError', code: 'LAUNCH_FAILED', errno: 'EMFILE' },
    });
    expect(report.second.state).toBe('FINISHED');
    expect(report.health).toBe('running');
    await waitGone(ledger.all(), 3_000);
  });
});
