import type { Msg } from '@nats-io/transport-node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../protocol/codec.js';
import type { ReportEvent, ReportMessage } from '../protocol/messages.js';
import { EventBit } from '../protocol/messages.js';
import { ReportOutbox } from './report-outbox.js';

const { started, running, progress, finished, failed } = EventBit;
const ACK = { data: encode({ t: 'ack' }) } as Msg;

/** A coordinator played by the test: each report waits until the test answers it. */
function fakeCoordinator() {
  const reports: Array<{ report: ReportMessage; answer: (acked: boolean) => void }> = [];
  const acked: ReportEvent[][] = [];
  const outbox = new ReportOutbox({
    requester: {
      request: (_subject: string, data: Uint8Array) =>
        new Promise<Msg>((resolve, reject) => {
          reports.push({
            report: decode(data) as ReportMessage,
            answer: (ok) => (ok ? resolve(ACK) : reject(new Error('lost'))),
          });
        }),
    },
    subject: 'coord.report',
    agent: 'a1',
    maxPayload: 1024 * 1024,
    logger: pino({ level: 'silent' }),
    stamp: () => ({ epoch: 'e1', free: 1 }),
    onAcked: (events) => acked.push([...events]),
  });
  return { outbox, reports, acked };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const value = Uint8Array.of(0, 5, 0, 0, 0, 0, 0, 0, 0, 0);

describe('report outbox: what one task did joins its last event that has not gone out', () => {
  it("a quick task's started, running and result go out as one event", async () => {
    const { outbox, reports } = fakeCoordinator();
    outbox.push('t1', 7, started, undefined, undefined, false, 0);
    outbox.push('t2', 3, started, undefined, undefined, false, 0);
    outbox.push('t1', 7, running, undefined, undefined, false, 0);
    outbox.push('t1', 7, finished, value, undefined, false, value.byteLength);
    await turn();
    expect(reports).toHaveLength(1);
    expect(reports[0]?.report.events).toEqual([
      ['t1', 7, started | running | finished, value, undefined, false],
      ['t2', 3, started, undefined, undefined, false],
    ]);
  });

  it('an event in a report not answered yet is never changed: what comes next goes in a new event', async () => {
    const { outbox, reports, acked } = fakeCoordinator();
    outbox.push('t1', 7, started, undefined, undefined, false, 0);
    await turn();
    expect(reports).toHaveLength(1);
    // Sent, not acknowledged: the result must not be added to what the coordinator may already have.
    outbox.push('t1', 7, finished, value, undefined, false, value.byteLength);
    reports[0]?.answer(true);
    await turn();
    expect(acked[0]).toEqual([['t1', 7, started, undefined, undefined, false]]);
    expect(reports).toHaveLength(2);
    expect(reports[1]?.report.events).toEqual([['t1', 7, finished, value, undefined, false]]);
    reports[1]?.answer(true);
    await turn();
    expect(outbox.size).toBe(0);
  });

  it('a report that was not acknowledged is sent again with what joined it since', async () => {
    const { outbox, reports } = fakeCoordinator();
    outbox.push('t1', 7, started, undefined, undefined, false, 0);
    await turn();
    reports[0]?.answer(false); // lost: the same events go again, and may take more bits meanwhile
    await turn();
    outbox.push('t1', 7, running, undefined, undefined, false, 0);
    await new Promise((resolve) => setTimeout(resolve, 60)); // the retry delay
    expect(reports).toHaveLength(2);
    expect(reports[1]?.report.events).toEqual([['t1', 7, started | running, undefined, undefined, false]]);
  });

  it('progress values and the result stay apart and in order; a new token is a new event', async () => {
    const { outbox, reports } = fakeCoordinator();
    const p1 = Uint8Array.of(0, 3);
    const p2 = Uint8Array.of(0, 4);
    const error = { __taskwardenError: 1 as const, name: 'Error', message: 'boom', props: {} };
    outbox.push('t1', 7, started, undefined, undefined, false, 0);
    outbox.push('t1', 7, running, undefined, undefined, false, 0);
    outbox.push('t1', 7, progress, p1, undefined, false, 2);
    outbox.push('t1', 7, progress, p2, undefined, false, 2);
    outbox.push('t1', 7, finished, value, undefined, false, value.byteLength);
    outbox.push('t1', 8, started, undefined, undefined, false, 0);
    outbox.push('t1', 8, failed, undefined, error, true, 64);
    await turn();
    expect(reports[0]?.report.events).toEqual([
      ['t1', 7, started | running | progress, p1, undefined, false],
      ['t1', 7, progress, p2, undefined, false],
      ['t1', 7, finished, value, undefined, false],
      ['t1', 8, started | failed, undefined, error, true],
    ]);
  });
});
