// One BullMQ worker of the cluster benchmark, as its own process. argv[2] is JSON: the Redis port,
// the queue, the processor (`trivial`, `sleeper`, `spin`) and the Worker options (concurrency, and
// the stalled-job settings when tuned). Says `{ ready: pid }` over IPC; a `{ cancel: jobId }`
// message calls `worker.cancelJob(jobId)` (BullMQ's cancel: an AbortSignal in this process).
import { appendFileSync } from 'node:fs';
import { Worker } from 'bullmq';

const options = JSON.parse(process.argv[2]);

const processors = {
  // The trivial task: its input plus one, asynchronously.
  trivial: async (job) => job.data + 1,
  // Records its start outside this process, then sleeps `ms` (the first time only when `once`).
  sleeper: async (job) => {
    const { id, ms, log, once } = job.data;
    const again = job.attemptsStarted > 1 || job.stalledCounter > 0;
    appendFileSync(log, `${JSON.stringify({ id, pid: process.pid, again })}\n`);
    if (once && again) return id;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return id;
  },
  // CPU-bound for `ms` without looking at its signal (as the `for(;;)` task of ours ignores it);
  // three parameters, so BullMQ gives it an AbortSignal and `cancelJob` can abort it.
  spin: async (job, _token, signal) => {
    const { ms, log } = job.data;
    appendFileSync(log, `${JSON.stringify({ id: job.id, pid: process.pid, at: Date.now() })}\n`);
    const end = performance.now() + ms;
    let sum = 0;
    while (performance.now() < end) sum += Math.random();
    return { sum, aborted: signal.aborted };
  },
};

const worker = new Worker(options.queue, processors[options.processor], {
  connection: { host: '127.0.0.1', port: options.redisPort, maxRetriesPerRequest: null },
  ...options.workerOptions,
});
worker.on('error', (error) => process.stderr.write(`bullmq worker: ${error?.stack ?? error}\n`));
await worker.waitUntilReady();
process.on('message', (message) => {
  if (message === 'close') {
    void worker.close().then(() => process.exit(0));
    return;
  }
  if (message?.cancel !== undefined) {
    const cancelled = worker.cancelJob(message.cancel, 'cancelled by the submitter');
    process.send({ cancelled: message.cancel, found: cancelled });
  }
});
process.on('disconnect', () => void worker.close().then(() => process.exit(0)));
process.send({ ready: process.pid });
