import { ProtocolError, SerializationError } from '@taskwarden/sdk';
import { isGone } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { fixture, untilRecorded, useProcessHarness } from './helpers.js';

const echo = fixture('echo.mjs');

// Regression: the frame decoders (host and child) re-copied a partial frame on every 64 KiB chunk,
// so a 64 MiB message took ~35 s of blocked event loop on each side.
describe('large messages on the control pipe', () => {
  const harness = useProcessHarness({ executor: { maxProcesses: 2 }, expectNoProcesses: true });
  const { setup, submit } = harness;

  it('a 64 MiB Buffer goes to the child and back without a quadratic blow-up', async () => {
    setup();
    const input = Buffer.alloc(64 * 1024 * 1024, 0xab);
    input[input.length - 1] = 0xcd;
    const startedAt = Date.now();
    const outcome = await submit(echo, input).done;
    const elapsedMs = Date.now() - startedAt;
    expect(outcome.state).toBe('FINISHED');
    const echoed = (outcome.result as { echoed: Buffer }).echoed;
    expect(Buffer.isBuffer(echoed)).toBe(true);
    expect(echoed.equals(input)).toBe(true);
    // Not a speed assertion: a generous bound that only a quadratic decoder misses (~70 s before).
    expect(elapsedMs).toBeLessThan(10_000);
  });

  it('a frame above maxMessageBytes fails only its task with a ProtocolError and kills that child', async () => {
    setup({}, { numberOfSlots: 2 });
    const bystanderFile = harness.ledger.pidFile();
    const bystander = submit(fixture('cooperative.mjs'), { pidFile: bystanderFile }, 1);
    await untilRecorded(harness.ledger, bystanderFile, 'invoked');
    const pidFile = harness.ledger.pidFile();
    // The child announces a 512 MiB frame: above the 256 MiB default, refused before buffering.
    const outcome = await submit(fixture('garbage-ipc.mjs'), { pidFile, mode: 'oversize' }).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error?.message).toMatch(/exceeds maxMessageBytes/);
    expect(isGone(harness.ledger.pidsOf(pidFile, 'child')[0] as number)).toBe(true);
    expect(bystander.state).toBe('RUNNING');
    expect((await submit(echo, 'still here').done).state).toBe('FINISHED');
    bystander.cancel();
    expect((await bystander.done).state).toBe('CANCELED');
  });

  it('a result above maxMessageBytes fails the task with SerializationError (result)', async () => {
    setup({ maxMessageBytes: 64 * 1024 });
    const outcome = await submit(echo, 100 * 1024, 'sized').done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(SerializationError);
    expect(outcome.error).toMatchObject({ what: 'result' });
    expect(outcome.error?.message).toMatch(/maxMessageBytes/);
    expect((await submit(echo, 32 * 1024, 'sized').done).state).toBe('FINISHED');
  });

  it('an input above maxMessageBytes fails the task in DEPLOYING without spawning', async () => {
    const { executor, runtime } = setup({ maxMessageBytes: 64 * 1024 });
    const transitions: string[] = [];
    runtime.events.on('taskStateChanged', ({ from, to }) => transitions.push(`${from}->${to}`));
    const outcome = await submit(echo, Buffer.alloc(100 * 1024)).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(SerializationError);
    expect(outcome.error).toMatchObject({ what: 'input' });
    expect(outcome.error?.message).toMatch(/maxMessageBytes/);
    expect(transitions).toEqual(['CREATED->DEPLOYING', 'DEPLOYING->FAILED']);
    expect(executor.stats.spawned).toBe(0);
  });
});
