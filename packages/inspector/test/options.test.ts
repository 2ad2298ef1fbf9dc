import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InlineExecutor } from '@taskwarden/executor-local';
import { createRuntime, EmitOnlyFatalErrorHandler, type TaskRuntime } from '@taskwarden/sdk';
import { captureLogger } from '@taskwarden/sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInspector } from '../src/index.js';
import { http, listenerCounts } from './support/harness.js';

let runtime: TaskRuntime;
beforeAll(() => {
  runtime = createRuntime({
    numberOfSlots: 1,
    executors: { inline: new InlineExecutor() },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: captureLogger('warn').logger,
  });
});
afterAll(() => runtime.close());

describe('startInspector options', () => {
  it.each([
    [{ tokn: 'x' }, TypeError, /unknown inspector option 'tokn'/],
    [{ port: '80' }, TypeError, /options\.port must be a number/],
    [{ port: 70_000 }, RangeError, /options\.port must be an integer from 0 to 65535/],
    [{ port: 1.5 }, RangeError, /options\.port/],
    [{ host: 42 }, TypeError, /options\.host must be a string/],
    [{ host: 'evil.com/x' }, RangeError, /options\.host/],
    [{ token: '' }, RangeError, /options\.token/],
    [{ token: 'has space' }, RangeError, /options\.token/],
    [{ token: 'é' }, RangeError, /options\.token/],
    [{ token: 'x'.repeat(1_025) }, RangeError, /options\.token/],
    [{ token: 12345 }, TypeError, /options\.token must be a string/],
    [{ agents: {} }, TypeError, /options\.agents must be an object with an agents\(\) method/],
    [{ allowedHosts: 'localhost' }, TypeError, /options\.allowedHosts/],
    [{ allowedHosts: ['localhost:8080'] }, RangeError, /options\.allowedHosts/],
    [{ maxStreams: 0 }, RangeError, /options\.maxStreams/],
    [{ maxQueuedBytes: 10 }, RangeError, /options\.maxQueuedBytes/],
    [{ heartbeatMs: Number.POSITIVE_INFINITY }, RangeError, /options\.heartbeatMs/],
    [{ snapshotIntervalMs: -1 }, RangeError, /options\.snapshotIntervalMs/],
    [{ flushIntervalMs: 0 }, RangeError, /options\.flushIntervalMs/],
    [{ maxBatchEvents: 0 }, RangeError, /options\.maxBatchEvents/],
    [{ recentTasks: -1 }, RangeError, /options\.recentTasks/],
    [{ maxTasks: 0 }, RangeError, /options\.maxTasks/],
    [{ agentsTimeoutMs: 0 }, RangeError, /options\.agentsTimeoutMs/],
    [{ logger: console.log }, TypeError, /options\.logger/],
  ])('refuses %j up front, naming the option', async (options, type, message) => {
    const before = listenerCounts(runtime);
    // biome-ignore lint/suspicious/noExplicitAny: the point is passing what the types forbid
    const start = startInspector(runtime, options as any);
    await expect(start).rejects.toThrow(type);
    await expect(start).rejects.toThrow(message);
    expect(listenerCounts(runtime)).toEqual(before);
  });

  it('refuses something that is not a runtime', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the point is passing what the types forbid
    await expect(startInspector({} as any)).rejects.toThrow(/runtime must be a taskwarden runtime/);
    // biome-ignore lint/suspicious/noExplicitAny: the point is passing what the types forbid
    await expect(startInspector(runtime, 'port=0' as any)).rejects.toThrow(TypeError);
  });

  it('listens on 127.0.0.1 and a free port by default, and close() is idempotent', async () => {
    const { logger, lines } = captureLogger('warn');
    const inspector = await startInspector(runtime, { logger });
    expect(inspector.host).toBe('127.0.0.1');
    expect(inspector.url).toBe(`http://127.0.0.1:${inspector.port}/`);
    expect(inspector.port).toBeGreaterThan(0);
    expect((await http(`${inspector.url}api/snapshot`)).status).toBe(200);
    expect(lines).toEqual([]); // loopback, no token: nothing to warn about
    const first = inspector.close();
    expect(inspector.close()).toBe(first);
    await first;
    await expect(http(`${inspector.url}api/snapshot`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('rejects with the system error when the port is taken, leaving no listener behind', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const before = listenerCounts(runtime);
    try {
      await expect(startInspector(runtime, { port, logger: captureLogger().logger })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
      expect(listenerCounts(runtime)).toEqual(before);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('warns when listening beyond loopback, and when the token is short', async () => {
    const { logger, lines } = captureLogger('warn');
    const inspector = await startInspector(runtime, { host: '0.0.0.0', token: 'short', logger });
    try {
      expect(lines.map((line) => line.msg)).toEqual([
        expect.stringMatching(/non-loopback address; anyone who can reach it can read/),
        expect.stringMatching(/token is shorter than 16 characters/),
      ]);
      // Beyond loopback any Host name is served (the integrator's network decides who reaches it).
      const answer = await http(`http://127.0.0.1:${inspector.port}/api/snapshot`, {
        headers: { Host: 'inspector.internal:9999' },
      });
      expect(answer.status).toBe(200);
    } finally {
      await inspector.close();
    }
  });
});
