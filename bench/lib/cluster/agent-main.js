// One agent of the cluster benchmark, as its own process: `startAgent` with the executors and
// options the benchmark passes as JSON in argv[2]. Says `{ ready: pid }` over IPC once it serves its
// queue; drains and exits on a `close` message (or when its parent goes away).
import { startAgent } from '@taskwarden/cluster-nats';
import { WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import pino from 'pino';

const options = JSON.parse(process.argv[2]);
const executors = {};
for (const kind of options.executors) {
  executors[kind] =
    kind === 'process'
      ? new ProcessExecutor({ hostLease: true, killGraceMs: options.killGraceMs ?? 500 })
      : new WorkerExecutor(options.threads === undefined ? {} : { maxThreads: options.threads });
}
const agent = await startAgent({
  servers: options.servers,
  cluster: options.cluster,
  name: options.name,
  queue: options.queue ?? 'default',
  capacity: options.capacity,
  executors,
  ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
  logger: pino({ level: 'warn' }, pino.destination(2)),
});
let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  await agent.close({ graceMs: 0 });
  process.exit(0);
};
process.on('message', (message) => {
  if (message === 'close') void close();
});
process.on('disconnect', () => void close());
process.send({ ready: process.pid });
