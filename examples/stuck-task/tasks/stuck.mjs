// Two ways for work to ignore a cancel request.
import { spawnSync } from 'node:child_process';

/** Spins in JavaScript: deaf, but terminating its thread stops it. */
export function crunchNumbers() {
  let x = 0;
  for (;;) x = (x * 31 + 7) % 1_000_003;
}

/** Blocked inside a synchronous native call: even a terminated thread runs on until it returns. */
export function waitOnNativeCall({ input }) {
  spawnSync('sleep', [String(input.seconds)]);
  return 'the native call returned';
}
