// Two ways for work to ignore a cancel request.
import { readFileSync } from 'node:fs';

/** Spins in JavaScript: deaf, but terminating its thread stops it. */
export function crunchNumbers() {
  let x = 0;
  for (;;) x = (x * 31 + 7) % 1_000_003;
}

/**
 * Blocked inside a synchronous native call — opening a FIFO for reading returns only once a writer
 * opens it: even a terminated thread runs on until it returns. (A `spawnSync` of a long command
 * would not do: the hard stop kills the processes a worker task spawns, and the call returns.)
 */
export function waitOnNativeCall({ input }) {
  readFileSync(input.fifo);
  return 'the native call returned';
}
