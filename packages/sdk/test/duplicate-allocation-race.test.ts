/**
 * Regression test for FLINK-14589, "Redundant slot requests with the same AllocationID leads to
 * inconsistent slot table" (seed 003): the 13-step race between the resource manager (RM), the job
 * master (JM) and the task manager's slot table (TM), played out at the table.
 *
 * In Flink, step 8 overwrote `allocationIDTaskSlotMap[AID1]` with slot 2 while slot 1 still named
 * AID1; freeing AID1 then freed slot 2 only and slot 1 became a zombie that could never be freed.
 * Here step 8 is refused with `DuplicateAllocationError` and changes nothing, which replaces steps
 * 8-10 of the seed with "RM gets an allocation error" (the fix the reporter proposed).
 */
import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DuplicateAllocationError, ErrorCode, SlotOccupiedError } from '../src/errors.js';
import type { RuntimeEvents, SlotStateChangedEvent } from '../src/interfaces/events.js';
import type { AllocateSlotRequest } from '../src/interfaces/task-slot-table.js';
import { DefaultTaskSlotTable } from '../src/slots/default-task-slot-table.js';
import { FakeTask, ManualScheduler } from '../src/testing/index.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const JOB = 'job-1';
const AID1 = 'AID1';
const AID2 = 'AID2';
const SLOT1 = 1;
const SLOT2 = 2;
const ALLOCATION_TIMEOUT_MS = 10_000;

function newTable(): {
  table: DefaultTaskSlotTable;
  scheduler: ManualScheduler;
  eventsFor: (index: number) => string[];
} {
  const scheduler = new ManualScheduler();
  const events = new EventEmitter<RuntimeEvents>();
  const seen: SlotStateChangedEvent[] = [];
  events.on('slotStateChanged', (event) => seen.push(event));
  const table = new DefaultTaskSlotTable({ numberOfSlots: 3 }, scheduler, events, pino({ level: 'silent' }));
  const eventsFor = (index: number): string[] =>
    seen.filter((event) => event.index === index).map((e) => `${e.allocationId}:${e.from}>${e.to}`);
  return { table, scheduler, eventsFor };
}

describe('FLINK-14589: redundant slot requests with the same allocation id', () => {
  it('refuses the late (slot 2, AID1) request, so freeing AID1 frees slot 1 and no zombie is left', async () => {
    const { table, scheduler, eventsFor } = newTable();

    // 1. JM asks for AID1; RM queues it (nothing reaches the table).
    // 2. RM picks slot 1 and sends requestSlot(slot 1, AID1); the request is in flight.
    const firstRequest: AllocateSlotRequest = {
      index: SLOT1,
      jobId: JOB,
      allocationId: AID1,
      timeoutMs: ALLOCATION_TIMEOUT_MS,
    };

    // 3. Meanwhile a delayed request gives slot 1 to AID2 on the TM, which runs a task in it; the
    //    TM's slot report tells RM that slot 1 is held by AID2.
    expect(table.allocateSlot({ index: SLOT1, jobId: JOB, allocationId: AID2 })).toBe(SLOT1);
    expect(table.markSlotActive(AID2)).toBe(true);
    const aid2Task = new FakeTask('aid2-task', JOB, AID2, table);
    table.addTask(aid2Task);
    expect(table.getSlotReport()[SLOT1]).toEqual({
      index: SLOT1,
      state: 'ACTIVE',
      allocationId: AID2,
      jobId: JOB,
    });

    // 4. RM sees slot 1 taken by AID2 and fails its pending request for AID1.
    // 5. RM retries AID1 on another free slot: requestSlot(slot 2, AID1) is in flight too.
    const retriedRequest: AllocateSlotRequest = {
      index: SLOT2,
      jobId: JOB,
      allocationId: AID1,
      timeoutMs: ALLOCATION_TIMEOUT_MS,
    };

    // 6. AID2's slot is freed by releasing its tasks on cancellation (the path observed in the bug).
    expect(table.freeSlot(AID2, new Error('AID2 released by JM'))).toBe(-1);
    expect(aid2Task.failures).toHaveLength(1);
    aid2Task.finish();
    await flush();
    expect(table.getSlotReport()[SLOT1]).toEqual({ index: SLOT1, state: 'FREE' });

    // 7. The first in-flight request (slot 1, AID1) arrives: slot 1 is free, so it succeeds; the TM
    //    offers it to JM, JM accepts, and the TM marks it ACTIVE.
    expect(table.allocateSlot(firstRequest)).toBe(SLOT1);
    expect(table.markSlotActive(AID1)).toBe(true);

    // 8. The retried request (slot 2, AID1) arrives. Flink overwrote AID1 → slot 2 here; we refuse it
    //    and change nothing: no second slot, no second timeout, AID1 still maps to slot 1.
    const reportBefore = table.getSlotReport();
    let refusal: unknown;
    try {
      table.allocateSlot(retriedRequest);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(DuplicateAllocationError);
    expect(refusal).toMatchObject({
      code: ErrorCode.DUPLICATE_ALLOCATION,
      allocationId: AID1,
      existingIndex: SLOT1,
      requestedIndex: SLOT2,
    });
    expect(table.getSlotReport()).toEqual(reportBefore);
    expect(table.getSlotReport()[SLOT2]).toEqual({ index: SLOT2, state: 'FREE' });
    expect(table.isAllocated(SLOT1, JOB, AID1)).toBe(true);
    expect(table.isAllocated(SLOT2, JOB, AID1)).toBe(false);
    expect(table.getAllocationIds(JOB)).toEqual([AID1]);
    expect(scheduler.pendingCount).toBe(0);
    table.checkInvariants();

    // 9-10. Nothing was offered for slot 2, so JM rejects nothing and the TM frees nothing. A stray
    //    redelivery of the retried request is refused the same way.
    expect(() => table.allocateSlot(retriedRequest)).toThrow(DuplicateAllocationError);

    // 11. JM deploys a task with AID1; in Flink this failed with "No task slot allocated for job ID".
    expect(table.isActive(AID1, JOB)).toBe(true);
    const aid1Task = new FakeTask('aid1-task', JOB, AID1, table);
    table.addTask(aid1Task);
    expect(table.getTasks(AID1)).toEqual([aid1Task]);

    // 12. JM releases AID1 (another heartbeat timeout): freeing by allocation id reaches slot 1.
    expect(table.freeSlot(AID1)).toBe(-1);
    expect(table.getSlotReport()[SLOT1]).toMatchObject({ state: 'RELEASING', allocationId: AID1 });
    expect(aid1Task.failures).toHaveLength(1);
    aid1Task.finish();
    await flush();

    // No zombie: every slot is FREE, and the three indexes agree.
    expect(table.getSlotReport()).toEqual([
      { index: 0, state: 'FREE' },
      { index: 1, state: 'FREE' },
      { index: 2, state: 'FREE' },
    ]);
    expect(table.getAllocationIds(JOB)).toEqual([]);
    table.checkInvariants();
    expect(eventsFor(SLOT2)).toEqual([]);
    expect(eventsFor(SLOT1)).toEqual([
      'AID2:FREE>ALLOCATED',
      'AID2:ALLOCATED>ACTIVE',
      'AID2:ACTIVE>RELEASING',
      'AID2:RELEASING>FREE',
      'AID1:FREE>ALLOCATED',
      'AID1:ALLOCATED>ACTIVE',
      'AID1:ACTIVE>RELEASING',
      'AID1:RELEASING>FREE',
    ]);

    // 13. Further scheduling succeeds: both slots can be allocated again (Flink failed here with
    //     NoResourceAvailableException).
    expect(table.allocateSlot({ index: SLOT1, jobId: JOB, allocationId: 'AID3' })).toBe(SLOT1);
    expect(table.allocateSlot({ index: SLOT2, jobId: JOB, allocationId: 'AID4' })).toBe(SLOT2);
    table.checkInvariants();
  });

  it('keeps the table consistent when the two requests for AID1 arrive in the other order', () => {
    const { table } = newTable();
    // The retried request wins the race; the first one is then the duplicate.
    expect(table.allocateSlot({ index: SLOT2, jobId: JOB, allocationId: AID1 })).toBe(SLOT2);
    expect(() => table.allocateSlot({ index: SLOT1, jobId: JOB, allocationId: AID1 })).toThrow(
      DuplicateAllocationError,
    );
    expect(table.getSlotReport()[SLOT1]).toEqual({ index: SLOT1, state: 'FREE' });
    expect(table.freeSlot(AID1)).toBe(SLOT2);
    expect(table.getSlotReport().every((entry) => entry.state === 'FREE')).toBe(true);
    table.checkInvariants();
  });

  it('refuses the late request while AID2 still holds slot 1, and its timeout cannot free AID2', () => {
    const { table, scheduler } = newTable();
    table.allocateSlot({ index: SLOT1, jobId: JOB, allocationId: AID2 });
    table.markSlotActive(AID2);
    // Step 7 arriving before step 6: slot 1 is occupied, and the refused request arms no timeout.
    expect(() =>
      table.allocateSlot({ index: SLOT1, jobId: JOB, allocationId: AID1, timeoutMs: ALLOCATION_TIMEOUT_MS }),
    ).toThrow(SlotOccupiedError);
    scheduler.advance(ALLOCATION_TIMEOUT_MS);
    expect(table.isActive(AID2, JOB)).toBe(true);
    expect(table.allocateSlot({ index: SLOT2, jobId: JOB, allocationId: AID1 })).toBe(SLOT2);
    expect(table.freeSlot(AID1)).toBe(SLOT2);
    expect(table.freeSlot(AID2)).toBe(SLOT1);
    expect(table.getSlotReport().every((entry) => entry.state === 'FREE')).toBe(true);
    table.checkInvariants();
  });
});
