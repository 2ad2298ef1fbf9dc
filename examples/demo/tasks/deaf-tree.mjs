// A child process that swallows SIGTERM and starts a grandchild that does too.
// Writes both pids to input.pidFile so the demo can check the whole tree is gone.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export default function deafTree({ input }) {
  process.on('SIGTERM', () => {});
  const grandchild = spawn(
    process.execPath,
    ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);"],
    {
      stdio: 'ignore',
    },
  );
  writeFileSync(input.pidFile, JSON.stringify({ child: process.pid, grandchild: grandchild.pid }));
  return new Promise(() => {}); // never ends on its own
}
