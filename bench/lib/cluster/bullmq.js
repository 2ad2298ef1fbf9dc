// The BullMQ side of the cluster benchmark: workers as processes (`bullmq-worker-main.js`) and a
// submitter (Queue + QueueEvents) in the benchmark's process.
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { startChild } from './processes.js';

const WORKER = fileURLToPath(new URL('./bullmq-worker-main.js', import.meta.url));

/**
 * BullMQ's Worker defaults (bullmq 6: `lockDuration` 30 000 ms, renewed every `lockDuration / 2`,
 * `stalledInterval` 30 000 ms, `maxStalledCount` 1), and the tuned setting: the stalled-job checker
 * every second and a lock as long as our lease (3 s), so a dead worker's job is noticed about as fast
 * as a dead agent. Concurrency is set on both (its default, 1, would run one job at a time).
 */
export const BULLMQ_SETTINGS = {
  default: {},
  tuned: { stalledInterval: 1_000, lockDuration: 3_000 },
};

/** Starts a BullMQ worker process on `queue` with a processor (`trivial`, `sleeper`, `spin`). */
export function startWorkerProcess({ redisPort, queue, processor, concurrency, settings }) {
  return startChild(
    WORKER,
    {
      redisPort,
      queue,
      processor,
      workerOptions: { ...(concurrency === undefined ? {} : { concurrency }), ...BULLMQ_SETTINGS[settings] },
    },
    { what: `BullMQ worker (${queue})` },
  );
}

/**
 * A submitter: `submit(name, data)` adds a job and resolves with `{ state, value, at }` when the
 * QueueEvents stream says it completed or failed. One listener per event type and a map by job id
 * (the cheapest way to wait for many jobs; `job.waitUntilFinished` adds a Redis round trip per job).
 */
export async function startSubmitter({ redisPort, queue }) {
  const connection = { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null };
  const q = new Queue(queue, { connection });
  // From the stream's beginning (the queue is new): read from '$', the events of jobs that end
  // before the first blocking read is sent would be missed.
  const events = new QueueEvents(queue, { connection, lastEventId: '0-0' });
  await Promise.all([q.waitUntilReady(), events.waitUntilReady()]);
  const waiting = new Map();
  const early = new Map();
  const stalledAt = new Map();
  const settle = (jobId, outcome) => {
    const resolve = waiting.get(jobId);
    if (resolve) {
      waiting.delete(jobId);
      resolve(outcome);
    } else {
      early.set(jobId, outcome);
    }
  };
  events.on('completed', ({ jobId, returnvalue }) =>
    settle(jobId, { state: 'completed', value: returnvalue, at: performance.now() }),
  );
  events.on('failed', ({ jobId, failedReason }) =>
    settle(jobId, { state: 'failed', value: failedReason, at: performance.now() }),
  );
  events.on('stalled', ({ jobId }) => stalledAt.set(jobId, performance.now()));
  return {
    queue: q,
    /** When the stalled-job checker reported this job stalled (performance.now()), if it did. */
    stalledAt: (jobId) => stalledAt.get(jobId),
    /** Adds a job; `{ id, done }` where `done` resolves with its outcome. */
    async add(name, data) {
      const job = await q.add(name, data);
      const outcome = early.get(job.id);
      if (outcome) {
        early.delete(job.id);
        return { id: job.id, done: Promise.resolve(outcome) };
      }
      return { id: job.id, done: new Promise((resolve) => waiting.set(job.id, resolve)) };
    },
    /** Adds a job and waits for its outcome. */
    async submit(name, data) {
      return (await this.add(name, data)).done;
    },
    async close() {
      await events.close();
      await q.close();
    },
  };
}
