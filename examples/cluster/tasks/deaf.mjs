// Ignores its cancel signal and SIGTERM, and never ends by itself: only a hard stop ends it. Writes
// where it runs (its pid and its agent's) to input.whereFile, so the demo can tell the agents apart.
import { writeFileSync } from 'node:fs';

export default function deaf({ input }) {
  process.on('SIGTERM', () => {});
  writeFileSync(input.whereFile, JSON.stringify({ pid: process.pid, agentPid: process.ppid }));
  return new Promise(() => setInterval(() => {}, 1_000));
}
