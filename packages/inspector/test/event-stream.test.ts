import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ApiErrorCode } from '../src/index.js';
import { Harness, http, listenerCounts, sleep, until } from './support/harness.js';
import { SseClient } from './support/sse-client.js';

/** Live handles of this process by kind (sockets, servers, timers), to prove nothing leaked. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

describe('GET /api/events', () => {
  it('starts every stream with a snapshot, then sends each runtime event as a small JSON object', async () => {
    await using harness = await Harness.start({ inspector: { flushIntervalMs: 10 } });
    harness.slot('job-1');
    const client = await SseClient.open(harness.url('api/events'));
    expect(client.status).toBe(200);
    const first = await client.next(() => true, 'the first message');
    expect(first.event).toBe('snapshot');
    expect(first.data).toMatchObject({ health: 'running', tasks: [], slots: expect.any(Array) });

    const job = harness.driven('job-1', { name: 'step', executionId: 'e1' });
    await job.running();
    job.progress({ done: 1, total: 4 });
    await client.next((m) => m.event === 'taskProgress', 'the progress event');
    job.task.cancel();
    await job.task.done;
    await client.next(
      (m) => m.event === 'taskStateChanged' && m.data.to === 'CANCELED',
      'the CANCELED event',
    );
    await harness.runtime.cancelJob('job-1');
    await client.next((m) => m.event === 'jobStateChanged' && m.data.to === 'CANCELED', 'the job event');

    const states = client.named('taskStateChanged').map((m) => `${m.data.from}→${m.data.to}`);
    expect(states).toEqual([
      'CREATED→DEPLOYING',
      'DEPLOYING→INITIALIZING',
      'INITIALIZING→RUNNING',
      'RUNNING→CANCELING',
      'CANCELING→CANCELED',
    ]);
    // Ids, states, progress and stage: never the task object itself.
    expect(Object.keys(client.named('taskStateChanged')[0]?.data).sort()).toEqual(
      [
        'allocationId',
        'at',
        'cancellationRequested',
        'executionId',
        'executor',
        'from',
        'jobId',
        'name',
        'to',
      ].sort(),
    );
    expect(client.named('taskProgress')[0]?.data).toEqual({
      executionId: 'e1',
      progress: { done: 1, total: 4 },
      at: expect.any(Number),
    });
    expect(client.named('taskCancellationStage')[0]?.data).toMatchObject({
      executionId: 'e1',
      stage: 'signal',
    });
    expect(client.named('jobStateChanged').map((m) => m.data.to)).toEqual(['CANCELING', 'CANCELED']);
    client.close();
  });

  it('coalesces a burst of progress reports of one task into its last value', async () => {
    await using harness = await Harness.start({ inspector: { flushIntervalMs: 100 } });
    const job = harness.driven('job-1', { executionId: 'busy' });
    await job.running();
    const client = await SseClient.open(harness.url('api/events'));
    await client.next((m) => m.event === 'snapshot', 'the snapshot');
    let emitted = 0;
    const count = () => {
      emitted += 1;
    };
    harness.runtime.events.on('taskProgress', count);
    for (let i = 1; i <= 1_000; i++) job.progress(i / 1_000);
    harness.runtime.events.off('taskProgress', count);
    await client.next((m) => m.event === 'taskProgress' && m.data.progress === 1, 'the last progress value');
    expect(emitted).toBe(1_000);
    expect(client.named('taskProgress')).toHaveLength(1);
    job.finish();
    client.close();
  });

  it('sends one fresh snapshot instead of more than maxBatchEvents events', async () => {
    await using harness = await Harness.start({ inspector: { flushIntervalMs: 100, maxBatchEvents: 10 } });
    const jobs = Array.from({ length: 30 }, (_, i) => harness.driven('job-1', { executionId: `t${i}` }));
    await Promise.all(jobs.map((job) => job.running()));
    const client = await SseClient.open(harness.url('api/events'));
    await client.next((m) => m.event === 'snapshot', 'the first snapshot');
    for (const job of jobs) job.progress(0.5);
    const resync = await client.next(
      (m) =>
        m.event === 'snapshot' && m.data.tasks.every((task: { progress: unknown }) => task.progress === 0.5),
      'a snapshot with every progress',
    );
    expect(resync.data.tasks).toHaveLength(30);
    expect(client.named('taskProgress')).toHaveLength(0);
    for (const job of jobs) job.finish();
    client.close();
  });

  it('sends heartbeat comments so proxies keep the stream open', async () => {
    await using harness = await Harness.start({ inspector: { heartbeatMs: 20 } });
    const client = await SseClient.open(harness.url('api/events'));
    await until(() => client.comments >= 3, 'three heartbeats');
    client.close();
  });

  it('answers 503 JSON to the stream beyond maxStreams, and takes one again once a stream closes', async () => {
    await using harness = await Harness.start({ inspector: { maxStreams: 2 } });
    const open = [
      await SseClient.open(harness.url('api/events')),
      await SseClient.open(harness.url('api/events')),
    ];
    const refused = await http(harness.url('api/events'));
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe(ApiErrorCode.TOO_MANY_STREAMS);
    expect(refused.headers['retry-after']).toBe('5');
    expect(harness.inspector.stats()).toMatchObject({ openStreams: 2, rejectedStreams: 1 });
    open[0]?.close();
    await until(() => harness.inspector.stats().openStreams === 1, 'the stream to be released');
    const again = await SseClient.open(harness.url('api/events'));
    expect(again.status).toBe(200);
    again.close();
    open[1]?.close();
  });

  it.each([
    ['every one admitted (maxStreams 256)', 256, 200],
    ['64 admitted by default, the rest refused with 503', undefined, 64],
  ])('200 clients opened and dropped leave the server healthy: %s', async (_name, maxStreams, admitted) => {
    await using harness = await Harness.start({
      inspector: maxStreams === undefined ? { heartbeatMs: 50 } : { maxStreams, heartbeatMs: 50 },
    });
    const job = harness.driven('job-1', { executionId: 'ticking' });
    await job.running();
    const listeners = listenerCounts(harness.runtime);
    const baseline = handles();

    const clients = await Promise.all(
      Array.from({ length: 200 }, () => SseClient.open(harness.url('api/events'))),
    );
    expect(clients.filter((client) => client.status === 200)).toHaveLength(admitted);
    expect(clients.filter((client) => client.status === 503)).toHaveLength(200 - admitted);
    const streams = clients.filter((client) => client.status === 200);
    await until(() => streams.every((client) => client.named('snapshot').length === 1), 'every snapshot');
    job.progress(0.5);
    await until(() => streams.every((client) => client.named('taskProgress').length === 1), 'every progress');
    expect(harness.inspector.stats().openStreams).toBe(admitted);

    for (const client of clients) client.close();
    await until(() => harness.inspector.stats().openStreams === 0, 'every stream to be released');
    expect(harness.inspector.stats()).toMatchObject({ droppedStreams: 0, queuedBytes: 0 });

    const snapshot = await http(harness.url('api/snapshot'));
    expect(snapshot.status).toBe(200);
    expect(snapshot.json.tasks[0]).toMatchObject({ executionId: 'ticking', progress: 0.5 });
    expect(listenerCounts(harness.runtime)).toEqual(listeners);
    // Sockets and timers (the heartbeat, the flush, the periodic snapshot) are all gone again.
    await until(
      () => Object.entries(handles()).every(([kind, count]) => count <= (baseline[kind] ?? 0)),
      'handles back to the baseline',
    );
    // And it still serves a new stream normally.
    const late = await SseClient.open(harness.url('api/events'));
    await late.next((m) => m.event === 'snapshot', 'a snapshot for a late client');
    late.close();
    job.finish();
  });

  it('drops a client that never reads, keeping the memory it costs bounded', async () => {
    const maxQueuedBytes = 256 * 1_024;
    await using harness = await Harness.start({
      inspector: { maxQueuedBytes, snapshotIntervalMs: 50, flushIntervalMs: 10 },
    });
    // ~300 kB per snapshot, 20 snapshots a second.
    const jobs = Array.from({ length: 300 }, (_, i) =>
      harness.driven('job-1', { name: `${i}`.padEnd(200, '#') }),
    );
    await Promise.all(jobs.map((job) => job.running()));
    for (const job of jobs) job.progress('p'.repeat(480));
    const snapshotBytes = (await http(harness.url('api/snapshot'))).body.length;
    expect(snapshotBytes).toBeGreaterThan(200_000);

    const reader = await SseClient.open(harness.url('api/events'));
    const stalled = connect(harness.inspector.port, '127.0.0.1');
    let stalledClosed = false;
    stalled.on('close', () => {
      stalledClosed = true;
    });
    stalled.on('error', () => {});
    stalled.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${harness.inspector.port}\r\n\r\n`);
    stalled.pause(); // never reads a byte

    let maxQueued = 0;
    const sampler = setInterval(() => {
      maxQueued = Math.max(maxQueued, harness.inspector.stats().queuedBytes);
    }, 2);
    try {
      await until(
        () => harness.inspector.stats().droppedStreams === 1,
        'the stalled client to be dropped',
        20_000,
      );
    } finally {
      clearInterval(sampler);
    }
    // What waited for the stalled client never exceeded the bound plus the message that found it full.
    expect(maxQueued).toBeLessThanOrEqual(maxQueuedBytes + 2 * snapshotBytes);
    // The reading client is still served.
    const seen = reader.named('snapshot').length;
    await until(() => reader.named('snapshot').length > seen + 2, 'more snapshots for the reader');
    expect(reader.closed).toBe(false);
    expect(harness.inspector.stats()).toMatchObject({ openStreams: 1, droppedStreams: 1 });
    // The stalled client's connection was closed by the server: reading it now ends.
    stalled.resume();
    await until(() => stalledClosed, 'the stalled connection to end', 20_000);
    reader.close();
    for (const job of jobs) job.finish();
  });

  it('a progress value whose reading throws is shown as unreadable; the stream goes on', async () => {
    await using harness = await Harness.start({ inspector: { flushIntervalMs: 10 } });
    const job = harness.driven('job-1', { executionId: 'hostile' });
    await job.running();
    const client = await SseClient.open(harness.url('api/events'));
    await client.next((m) => m.event === 'snapshot', 'the snapshot');
    job.progress(
      new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('trap');
          },
        },
      ),
    );
    await client.next(
      (m) => m.event === 'taskProgress' && m.data.progress === '[unreadable]',
      'the stand-in',
    );
    job.progress(0.9);
    await client.next((m) => m.event === 'taskProgress' && m.data.progress === 0.9, 'the next value');
    job.finish();
    client.close();
  });

  it('close() ends every stream and removes every listener; the runtime goes on working', async () => {
    await using harness = await Harness.start({ inspector: { heartbeatMs: 20 } });
    const clients = await Promise.all([1, 2, 3].map(() => SseClient.open(harness.url('api/events'))));
    await until(() => clients.every((client) => client.messages.length > 0), 'every snapshot');
    const inspectorListeners = Object.values(listenerCounts(harness.runtime)).reduce((a, b) => a + b, 0);
    expect(inspectorListeners).toBeGreaterThan(0);

    await harness.inspector.close();
    await until(() => clients.every((client) => client.closed), 'every stream to end');
    expect(Object.values(listenerCounts(harness.runtime)).every((count) => count === 0)).toBe(true);
    expect(harness.inspector.stats().openStreams).toBe(0);

    const job = harness.driven('job-1');
    await job.running();
    job.finish('still works');
    expect(await job.task.done).toMatchObject({ state: 'FINISHED', result: 'still works' });
    expect(harness.runtime.health).toBe('running');
    await sleep(50); // no heartbeat timer left to write to a closed stream
  });
});
