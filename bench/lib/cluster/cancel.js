// Cancel-to-stopped of a running CPU-bound remote task (`for(;;)`, never yields, ignores its
// signal) with `gracePeriodMs: 0`: from `task.cancel()` on the coordinator until its `done`
// resolves (the work has stopped on the agent). On the agents' worker and process executors.
//
// BullMQ has no cancel a submitter can send: `worker.cancelJob(id)` aborts an AbortSignal in the
// process that runs the job. Best case for it here: the benchmark relays the cancel straight to both
// worker processes over IPC. A CPU-bound job blocks that process's event loop, so the cancel is
// handled only once the job returned, and the job ends `completed`, having run to its end.
import { join } from 'node:path';
import { startSubmitter, startWorkerProcess } from './bullmq.js';
import { logFile, quantile, readLines, sleep, waitLines } from './measure.js';
import { startAgentProcess, startCoordinator, taskModule } from './ours.js';

const SAMPLES_PER_ROUND = 20;
/** How long the BullMQ job spins, and after how long (from its start) it is cancelled. */
const BULLMQ_JOB_MS = 1_000;
const BULLMQ_CANCEL_AFTER_MS = 100;

/** Measures; returns `{ ours: { worker, process }, bullmq }`. */
export async function cancelToStopped({ nats, redis, rounds, log, dir }) {
  const cluster = 'cancel';
  const started = [];
  try {
    const agents = await Promise.all(
      ['cancel-1', 'cancel-2'].map((name) =>
        startAgentProcess({
          servers: nats.url,
          cluster,
          name,
          queue: 'cancel',
          capacity: 2,
          executors: ['worker', 'process'],
        }),
      ),
    );
    started.push(...agents);
    const coordinators = {};
    for (const executor of ['worker', 'process']) {
      coordinators[executor] = await startCoordinator({
        servers: nats.url,
        cluster,
        queue: 'cancel',
        agentExecutor: executor,
        cancellation: { gracePeriodMs: 0 },
      });
      started.push(coordinators[executor]);
      await coordinators[executor].waitAgents(2);
    }
    const samples = { worker: [], process: [] };
    let n = 0;
    const one = async (executor) => {
      const file = logFile(join(dir, `spin-${n++}.log`));
      const task = coordinators[executor].submit(taskModule('spin'), { log: file });
      await waitLines(file, 1);
      await sleep(5); // spinning
      const t0 = performance.now();
      task.cancel();
      const outcome = await task.done;
      const ms = performance.now() - t0;
      if (outcome.state !== 'CANCELED') {
        throw new Error(`cancel (${executor}): the task ended ${outcome.state}: ${outcome.error?.stack}`);
      }
      return ms;
    };
    log(`cancel: ${SAMPLES_PER_ROUND} CPU-bound tasks per executor per round`);
    for (let round = -1; round < rounds; round++) {
      const order = round % 2 === 0 ? ['worker', 'process'] : ['process', 'worker'];
      for (const executor of order) {
        for (let i = 0; i < SAMPLES_PER_ROUND; i++) {
          const ms = await one(executor);
          if (round >= 0) samples[executor].push(ms);
        }
      }
    }
    const ours = Object.fromEntries(
      Object.entries(samples).map(([executor, list]) => [
        executor,
        {
          samples: list.length,
          p50: quantile(list, 0.5),
          p99: quantile(list, 0.99),
          max: Math.max(...list),
        },
      ]),
    );

    // BullMQ: two workers (default settings, default concurrency 1), a job spinning 1 s.
    const workers = await Promise.all(
      [1, 2].map(() =>
        startWorkerProcess({
          redisPort: redis.port,
          queue: 'cancel',
          processor: 'spin',
          settings: 'default',
        }),
      ),
    );
    started.push(...workers);
    const submitter = await startSubmitter({ redisPort: redis.port, queue: 'cancel' });
    started.push(submitter);
    const bull = [];
    const trials = Math.max(3, Math.min(rounds, 5));
    log(
      `cancel: ${trials} BullMQ jobs spinning ${BULLMQ_JOB_MS} ms, cancelled ${BULLMQ_CANCEL_AFTER_MS} ms in`,
    );
    for (let i = 0; i < trials; i++) {
      const file = logFile(join(dir, `bull-spin-${i}.log`));
      const job = await submitter.add('spin', { ms: BULLMQ_JOB_MS, log: file });
      const [start] = await waitLines(file, 1);
      await sleep(Math.max(0, start.at + BULLMQ_CANCEL_AFTER_MS - Date.now()));
      const handled = new Promise((resolve) => {
        for (const worker of workers) {
          worker.child.on('message', function onReply(message) {
            if (message?.cancelled !== job.id || !message.found) return;
            worker.child.off('message', onReply);
            resolve(performance.now());
          });
        }
      });
      const t0 = performance.now();
      for (const worker of workers) worker.send({ cancel: job.id });
      const outcome = await job.done;
      const handledAt = await Promise.race([handled, sleep(2_000).then(() => Number.NaN)]);
      bull.push({
        cancelToEndedMs: outcome.at - t0,
        cancelHandledAfterMs: handledAt - t0,
        state: outcome.state,
        signalAbortedWhenItReturned: outcome.value?.aborted,
        ranMs: BULLMQ_JOB_MS,
      });
      void readLines; // (the start line is all this needs)
    }
    const ended = bull.map((b) => b.cancelToEndedMs);
    return {
      ours,
      bullmq: {
        jobMs: BULLMQ_JOB_MS,
        cancelledAfterMs: BULLMQ_CANCEL_AFTER_MS,
        p50: quantile(ended, 0.5),
        p99: quantile(ended, 0.99),
        states: bull.map((b) => b.state),
        trials: bull,
      },
    };
  } finally {
    await Promise.allSettled(started.reverse().map((thing) => thing.close()));
  }
}
