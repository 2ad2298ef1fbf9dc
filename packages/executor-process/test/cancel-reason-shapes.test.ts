import { ProtocolError, TaskCancelledError } from '@taskwarden/sdk';
import { captureLogger, launchDirectly } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { executorHarness, fixture, untilRecorded } from './helpers.js';

// Regression (issue 14.11): a cancel reason that was a plain Error named 'TaskCancelledError' (as a
// reason rebuilt from a message is) made the child log "handling 'cancel' failed: Cannot set
// property name ... which has only a getter", and the task's signal was never aborted. Any reason,
// of any shape, must reach the task's signal and its cancel() hook.

const throwing = (): never => {
  throw new Error('hostile');
};

/** An Error (instanceof and all) whose `message` and `stack` getters throw. */
function hostileError(): Error {
  const prototype = Object.create(Error.prototype, { message: { get: throwing }, stack: { get: throwing } });
  return Object.create(prototype) as Error;
}

class GetterNamed extends Error {
  override get name(): string {
    return 'GetterNamed';
  }
}

function circular(): object {
  const value: Record<string, unknown> = { label: 'circular' };
  value.self = value;
  return value;
}

const trapsThatThrow = new Proxy(
  {},
  {
    get: throwing,
    getPrototypeOf: throwing,
    ownKeys: throwing,
    has: throwing,
    getOwnPropertyDescriptor: throwing,
  },
);

const REASONS: Array<[string, () => unknown, string | undefined]> = [
  [
    "a plain Error whose name is 'TaskCancelledError' (rebuilt from a message)",
    () => Object.assign(new Error('task e was cancelled'), { name: 'TaskCancelledError' }),
    'TaskCancelledError',
  ],
  ['the SDK’s own TaskCancelledError', () => new TaskCancelledError('e'), 'TaskCancelledError'],
  ['a frozen error', () => Object.freeze(new TaskCancelledError('e')), 'TaskCancelledError'],
  ['an Error whose name is a getter on its prototype', () => new GetterNamed('x'), 'GetterNamed'],
  ['an Error whose message and stack getters throw', hostileError, 'Error'],
  [
    'an SDK error whose cause is a Proxy whose traps throw',
    () => new ProtocolError('x', { cause: trapsThatThrow }),
    'ProtocolError',
  ],
  ['a Proxy whose traps throw', () => trapsThatThrow, 'NonErrorThrownError'],
  [
    'a null-prototype object with a throwing toJSON',
    () => Object.assign(Object.create(null), { toJSON: throwing }),
    'NonErrorThrownError',
  ],
  ['a circular object', circular, 'NonErrorThrownError'],
  ['a Symbol', () => Symbol('reason'), 'NonErrorThrownError'],
  ['a BigInt', () => 10n, 'NonErrorThrownError'],
  ['null', () => null, 'NonErrorThrownError'],
  ['undefined', () => undefined, 'NonErrorThrownError'],
  ['an error larger than the control pipe takes', () => new Error('x'.repeat(200 * 1024)), 'Error'],
];

describe('any cancel reason reaches the task’s signal and cancel() hook', () => {
  it.each(REASONS)('%s', async (_, make, name) => {
    // 64 KiB: the large reason does not fit and is sent cut.
    await using run = executorHarness({ maxMessageBytes: 64 * 1024 });
    const { ledger, executor } = run;
    const { logger, lines } = captureLogger('debug');
    const pidFile = ledger.pidFile();
    const launched = launchDirectly(executor, {
      invokable: { module: fixture('cooperative.mjs') },
      input: { pidFile },
      logger,
    });
    await untilRecorded(ledger, pidFile, 'invoked');
    launched.execution.cancel(make() as Error);
    await untilRecorded(ledger, pidFile, 'cancel-hook');
    await untilRecorded(ledger, pidFile, `aborted:${name}`);
    // The task rejected with its signal's reason: the child is gone, nothing was logged as failing.
    expect((await launched.outcome).ok).toBe(false);
    expect(lines.filter((line) => String(line.msg).includes('failed'))).toEqual([]);
  });
});
