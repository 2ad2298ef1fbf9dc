// The table caches whether its logger is at debug (the check ran on every transition) and follows
// pino's level-change events; the listener goes on close, so a closed table does not stay reachable
// from the integrator's logger.
import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import { captureLogger, ManualScheduler } from '../testing/index.js';
import { DefaultTaskSlotTable } from './default-task-slot-table.js';

function setup(level: string) {
  const { logger, lines } = captureLogger(level);
  const table = new DefaultTaskSlotTable(
    { numberOfSlots: 2 },
    new ManualScheduler(),
    new EventEmitter(),
    logger,
  );
  const transitions = () => lines.filter((line) => line.msg === 'slot state changed').length;
  return { logger, table, transitions };
}

describe('slot table debug logging follows the logger level', () => {
  it('starts logging transitions when the level drops to debug, and stops when it rises again', () => {
    const { logger, table, transitions } = setup('info');
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    expect(transitions()).toBe(0);
    logger.level = 'debug';
    table.markSlotActive('a1');
    expect(transitions()).toBe(1);
    logger.level = 'warn';
    table.freeSlot('a1');
    expect(transitions()).toBe(1);
    table.checkInvariants();
  });

  it('removes its level-change listener on close', async () => {
    const { logger, table } = setup('info');
    const before = logger.listenerCount('level-change');
    const other = new DefaultTaskSlotTable(
      { numberOfSlots: 1 },
      new ManualScheduler(),
      new EventEmitter(),
      logger,
    );
    expect(logger.listenerCount('level-change')).toBe(before + 1);
    await other.close();
    expect(logger.listenerCount('level-change')).toBe(before);
    await table.close();
    expect(logger.listenerCount('level-change')).toBe(before - 1);
  });
});
