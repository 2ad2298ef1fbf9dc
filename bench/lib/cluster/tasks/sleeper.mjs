// Records its start outside the agent's process (one JSON line, appended), then sleeps `ms`;
// stops when cancelled. The same shape as the BullMQ `sleeper` processor.
import { appendFileSync } from 'node:fs';

export default function sleeper({ input, signal, task }) {
  appendFileSync(
    input.log,
    `${JSON.stringify({ id: input.id, pid: process.pid, token: task.fencingToken })}\n`,
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(input.id), input.ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
