// CPU-bound forever: never yields, never looks at its signal. Records that it spins first.
import { appendFileSync } from 'node:fs';

export default function spin({ input }) {
  appendFileSync(input.log, `${JSON.stringify({ pid: process.pid, at: Date.now() })}\n`);
  let sum = 0;
  for (;;) {
    sum += Math.random();
    if (sum < 0) return sum; // never: keeps the loop from being optimised away
  }
}
