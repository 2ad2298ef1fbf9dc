// Quickstart: plain JavaScript, no decorators, no DI. One job of four tasks on worker threads.
// Run: npm start -w @taskwarden/example-quickstart

import { WorkerExecutor } from '@taskwarden/executor-local';
import { createRuntime } from '@taskwarden/sdk';

const runtime = createRuntime({
  numberOfSlots: 2,
  executors: { worker: new WorkerExecutor({ maxThreads: 2 }) },
});

// Capacity is explicit: allocate a slot to the job, then activate it.
runtime.slotTable.allocateSlot({ index: 0, jobId: 'thumbnails', allocationId: 'thumbnails-slot' });
runtime.slotTable.markSlotActive('thumbnails-slot');

const files = ['cat.png', 'dog.png', 'owl.png', 'fox.png'];
const tasks = files.map((file) =>
  runtime.submit({
    jobId: 'thumbnails',
    allocationId: 'thumbnails-slot',
    name: `thumbnail ${file}`,
    invokable: { module: new URL('./thumbnail.js', import.meta.url).href },
    input: { file, width: 320 },
  }),
);

for (const task of tasks) {
  const outcome = await task.done; // never rejects
  console.log(`${task.name}: ${outcome.state} ${JSON.stringify(outcome.result)}`);
}
await runtime.close(); // every worker thread has exited when this resolves
console.log('done');
