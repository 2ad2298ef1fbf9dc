// The race of FLINK-14589 ("Redundant slot requests with the same AllocationID leads to an
// inconsistent slot table"), replayed against taskwarden's slot table.
//
// In Flink, a late request (slot 2, AID1) overwrote the allocation-id index while slot 1 was still
// held by AID1; freeing AID1 then freed slot 2 and left slot 1 allocated forever (a zombie).
// Run: npm start -w @taskwarden/example-slot-races
import { InlineExecutor } from '@taskwarden/executor-local';
import { createRuntime, DuplicateAllocationError, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';

const runtime = createRuntime({
  numberOfSlots: 3,
  executors: { inline: new InlineExecutor() },
  fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
  logger: pino({ level: 'silent' }),
});
const table = runtime.slotTable;
const step = (n, text) => console.log(`step ${String(n).padStart(2)}: ${text}`);
const report = () =>
  table
    .getSlotReport()
    .map((slot) => `#${slot.index} ${slot.state}${slot.allocationId ? ` (${slot.allocationId})` : ''}`)
    .join(', ');

step(3, 'a delayed request for AID2 takes slot 1');
table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'AID2' });
step(6, 'AID2 is freed (its tasks were released)');
table.freeSlot('AID2');
step(7, 'the in-flight request (slot 1, AID1) arrives: allocated, then activated');
table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'AID1', timeoutMs: 10_000 });
table.markSlotActive('AID1');
step(7, 'an exact repeat of that request is a harmless no-op');
table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'AID1' });
console.log(`         table: ${report()}`);

step(8, 'the retried request (slot 2, AID1) arrives late');
try {
  table.allocateSlot({ index: 2, jobId: 'job', allocationId: 'AID1' });
  console.log('         accepted (this would be the Flink bug)');
} catch (error) {
  if (!(error instanceof DuplicateAllocationError)) throw error;
  console.log(`         refused with ${error.name} (${error.code}): ${error.message}`);
}
console.log(`         table: ${report()}`);

step(11, 'tasks are deployed into the slot AID1 really holds');
const task = runtime.submit({ jobId: 'job', allocationId: 'AID1', name: 'work', invokable: () => 'ok' });
console.log(`         task ended ${(await task.done).state}`);

step(12, 'the job manager releases AID1');
console.log(`         freeSlot('AID1') freed slot ${table.freeSlot('AID1')}`);
table.checkInvariants();
console.log(`         table: ${report()}`);
console.log('no zombie slot: every slot is FREE and the invariants hold');
await runtime.close();
