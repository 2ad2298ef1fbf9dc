import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from '../src/cli-args.js';
import { fixture, useCluster } from './support/cluster-harness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('the taskwarden-agent command', () => {
  const cluster = useCluster();

  it('parses its flags, with defaults', () => {
    expect(
      parseAgentArgs([
        '--servers',
        'nats://a:4222,nats://b:4222',
        '--name=n1',
        '--queue',
        'gpu',
        '--capacity',
        '3',
        '--executor',
        'process,worker',
        '--lease-ms',
        '2000',
        '--reuse',
      ]),
    ).toMatchObject({
      servers: 'nats://a:4222,nats://b:4222',
      name: 'n1',
      queue: 'gpu',
      capacity: 3,
      executors: ['process', 'worker'],
      leaseMs: 2_000,
      killGraceMs: 500,
      reuse: true,
      graceMs: 5_000,
      logLevel: 'info',
    });
    expect(() => parseAgentArgs([])).toThrow('--servers is required');
    expect(() => parseAgentArgs(['--servers', 'x', '--executor', 'inline'])).toThrow(/--executor/);
    expect(() => parseAgentArgs(['--servers', 'x', '--capacity', 'many'])).toThrow(/--capacity/);
    expect(() => parseAgentArgs(['--servers', 'x', '--lease'])).toThrow(/--lease needs a value/);
    expect(() => parseAgentArgs(['--servers', 'x', '--frobnicate', '1'])).toThrow(
      'unknown flag --frobnicate',
    );
  });

  it('--help prints the usage and exits 0; a bad flag exits 2 with the usage; an unreachable server exits 1', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: taskwarden-agent --servers');
    const bad = spawnSync(process.execPath, [CLI, '--servers', 'nats://127.0.0.1:1', '--capacity', '-1'], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--capacity must be a whole number');
    const down = spawnSync(process.execPath, [CLI, '--servers', 'nats://127.0.0.1:1'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(down.status).toBe(1);
    expect(down.stdout).toContain('cannot reach the NATS servers nats://127.0.0.1:1');
  });

  it('SIGINT drains the agent and exits 0', async () => {
    const name = cluster.newCluster();
    const agent = await cluster.startAgent({ cluster: name, name: 'a1', executor: 'worker' });
    const { submit } = cluster.coordinator({ cluster: name, agentExecutor: 'worker' });
    expect(await submit(fixture('echo.mjs'), 1).done).toMatchObject({ state: 'FINISHED' });
    agent.signal('SIGINT');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(agent.lines.some((line) => String(line.msg).includes('agent a1 closed'))).toBe(true);
  });
});
