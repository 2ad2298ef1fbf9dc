/**
 * An agent as a real child process: the `taskwarden-agent` command (`dist/cli.js`), its pino lines
 * read from stdout, ended by pid.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isGone, sleep } from './pids.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** Flags of one agent. */
export interface AgentProcessOptions {
  servers: string;
  cluster: string;
  name: string;
  queue?: string;
  capacity?: number;
  executor?: 'process' | 'worker' | 'process,worker';
  leaseMs?: number;
  killGraceMs?: number;
  graceMs?: number;
  logLevel?: string;
  /** Wait for the agent to serve (default true). */
  waitReady?: boolean;
}

/** A pino line the agent wrote. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** One agent process. */
export class AgentProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly lines: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';

  private constructor(child: ChildProcess, name: string) {
    this.child = child;
    this.name = name;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      let newline = partial.indexOf('\n');
      while (newline !== -1) {
        const line = partial.slice(0, newline);
        partial = partial.slice(newline + 1);
        newline = partial.indexOf('\n');
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line });
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8_000);
    });
  }

  /** Starts `taskwarden-agent` with these flags and (by default) waits until it serves its queue. */
  static async start(options: AgentProcessOptions): Promise<AgentProcess> {
    const args = [
      CLI,
      '--servers',
      options.servers,
      '--cluster',
      options.cluster,
      '--name',
      options.name,
      '--queue',
      options.queue ?? 'default',
      '--capacity',
      String(options.capacity ?? 2),
      '--executor',
      options.executor ?? 'process',
      '--lease-ms',
      String(options.leaseMs ?? 3_000),
      '--kill-grace-ms',
      String(options.killGraceMs ?? 200),
      '--grace-ms',
      String(options.graceMs ?? 1_000),
      '--log-level',
      options.logLevel ?? 'info',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const agent = new AgentProcess(child, options.name);
    if (options.waitReady ?? true) {
      try {
        await agent.waitForLog(
          (line) => String(line.msg).includes('serves queue'),
          15_000,
          'the agent to serve its queue',
        );
      } catch (error) {
        // Nobody else has this agent yet: end it here, or it outlives the test.
        await agent.kill();
        throw error;
      }
    }
    return agent;
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a log line; rejects with the agent's output after `ms` or if it exits first. */
  async waitForLog(predicate: (line: LogLine) => boolean, ms: number, what: string): Promise<LogLine> {
    const deadline = Date.now() + ms;
    for (;;) {
      const line = this.lines.find(predicate);
      if (line) return line;
      if (!this.alive)
        throw new Error(
          `agent ${this.name} exited before ${what}; stderr: ${this.stderr}; stdout: ${JSON.stringify(this.lines.slice(-5))}`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what} (agent ${this.name}); stderr: ${this.stderr}`);
      await sleep(10);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (!isGone(this.pid)) process.kill(this.pid, signal);
  }

  /** Drains it (SIGTERM, after a SIGCONT in case it is stopped); SIGKILL if it has not exited after `ms`. */
  async stop(ms = 8_000): Promise<void> {
    if (!this.alive) return;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const stuck = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(resolve, ms, true);
      }),
    ]);
    clearTimeout(timer);
    if (stuck) await this.kill();
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited;
  }
}
