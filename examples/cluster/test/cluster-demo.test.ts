import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

const main = fileURLToPath(new URL('../src/main.js', import.meta.url));

describe('npm run demo:cluster', () => {
  it('runs a job on two agents, survives one being killed, stops a deaf task hard, and leaves nothing running', () => {
    const out = runExample(main, 90_000);
    expect(out).toMatch(/nats-server .*v2\.\d+\.\d+ on nats:\/\/127\.0\.0\.1:\d+/);
    expect(out).toContain('both agents serve the queue');
    expect(out).toMatch(/agent-\d SIGKILLed \(pid \d+\) while running tasks/);
    expect(out).toMatch(/resize-\d\s+FAILED\s+agent-\d\s+AGENT_LOST/);
    expect(out).toMatch(/deaf\s+CANCELED/);
    expect(out).toMatch(/resize-4\s+FINISHED/);
    expect(out).toMatch(
      /its tasks ended FAILED \(AGENT_LOST\) after ≤ \d+ ms; bound leaseMs \+ tick = 2250 ms: held/,
    );
    expect(out).toMatch(/deaf task cancelled → CANCELED after \d+ ms/);
    expect(out).toMatch(/drained and exited with code 0; nats-server stopped; nothing left running/);
  });
});
