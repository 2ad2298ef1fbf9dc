// Task shapes for the example. Each records its invocation, so the example can show which ran.
import { appendFileSync } from 'node:fs';

const record = (input, what) => appendFileSync(input.log, `${input.name} ${what}\n`);

/** Works until cancelled, and stops when asked. */
export function cooperative({ input, signal }) {
  record(input, 'invoked');
  return new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason));
  });
}

/** Ignores the cancel request and completes. */
export async function finishesAnyway({ input }) {
  record(input, 'invoked');
  await new Promise((resolve) => setTimeout(resolve, input.ms));
  return 'completed anyway';
}

/** Quick work. */
export function quick({ input }) {
  record(input, 'invoked');
  return `${input.name} done`;
}
