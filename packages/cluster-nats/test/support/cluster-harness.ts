/**
 * The per-file harness of the cluster tests: one real `nats-server` per test file (each test uses
 * a cluster name of its own on it, so scenarios do not see each other), agents as real
 * `taskwarden-agent` processes, coordinators in the test process. After each test it closes the
 * coordinators, drains or kills the agents, and expects every process the test caused (agents, and
 * task processes that recorded their pids) to be gone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsClusterExecutorOptions } from '@taskwarden/cluster-nats';
import { NatsClusterExecutor } from '@taskwarden/cluster-nats';
import type { CancellationOptions, Task, TaskDescriptor, TaskRuntime } from '@taskwarden/sdk';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { AgentProcessOptions } from './agent-process.js';
import { AgentProcess } from './agent-process.js';
import type { NatsServerOptions, TestNatsServer } from './nats-server.js';
import { startNatsServer } from './nats-server.js';
import { killSurvivors, waitGone } from './pids.js';

/** Absolute path of a fixture module. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** Ladder timings for remote tasks with a 3 s lease: timeoutMs covers grace + lease + tick. */
export const REMOTE_LADDER: Required<CancellationOptions> = {
  interruptIntervalMs: 300,
  gracePeriodMs: 600,
  timeoutMs: 10_000,
};

/** A coordinator: a runtime whose default executor is a `NatsClusterExecutor`. */
export interface TestCoordinator {
  readonly runtime: TaskRuntime;
  readonly executor: NatsClusterExecutor;
  submit(module: string, input?: unknown, extra?: Partial<TaskDescriptor>): Task;
  close(): Promise<void>;
}

/** Registers the harness's hooks in the calling `describe` (or file); returns its helpers. */
export function useCluster(serverOptions: NatsServerOptions = {}) {
  let server: TestNatsServer | undefined;
  let dir = '';
  let counter = 0;
  let agents: AgentProcess[] = [];
  let coordinators: TestCoordinator[] = [];
  let pidFiles: string[] = [];
  const extraPids = new Set<number>();

  beforeAll(async () => {
    server = await startNatsServer(serverOptions);
    dir = mkdtempSync(join(tmpdir(), 'taskwarden-cluster-test-'));
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  afterEach(async () => {
    const closing = coordinators;
    coordinators = [];
    await Promise.all(closing.map((coordinator) => coordinator.close().catch(() => undefined)));
    const stopping = agents;
    agents = [];
    await Promise.all(stopping.map((agent) => agent.stop()));
    const pids = new Set<number>([...stopping.map((agent) => agent.pid), ...extraPids]);
    for (const file of pidFiles) for (const pid of readPids(file)) pids.add(pid);
    pidFiles = [];
    extraPids.clear();
    // Task processes end with their agent's drain; give them a moment, then anything left is a leak.
    await waitGone([...pids], 5_000).catch(() => undefined);
    expect(killSurvivors(pids)).toEqual([]);
  }, 30_000);

  const helpers = {
    get server(): TestNatsServer {
      if (!server) throw new Error('the server starts in beforeAll');
      return server;
    },

    /** A cluster name of its own for one scenario. */
    newCluster(): string {
      return `t${process.pid}x${counter++}`;
    },

    /** An empty file a fixture appends lines to (pids, starts). */
    file(name = 'log'): string {
      const file = join(dir, `${name}-${counter++}.txt`);
      writeFileSync(file, '');
      return file;
    },

    /** A file fixtures record their pids in; every pid in it must be gone after the test. */
    pidFile(): string {
      const file = helpers.file('pids');
      pidFiles.push(file);
      return file;
    },

    /** Also check this pid is gone after the test. */
    trackPid(pid: number): void {
      extraPids.add(pid);
    },

    async startAgent(
      options: Partial<AgentProcessOptions> & { cluster: string; name: string },
    ): Promise<AgentProcess> {
      const agent = await AgentProcess.start({ servers: helpers.server.url, ...options });
      agents.push(agent);
      return agent;
    },

    /** Registers an agent started some other way, so it is ended after the test. */
    adoptAgent(agent: AgentProcess): void {
      agents.push(agent);
    },

    coordinator(
      options: Partial<NatsClusterExecutorOptions> & { cluster: string },
      runtimeOptions: { cancellation?: CancellationOptions; slots?: number } = {},
    ): TestCoordinator {
      const executor = new NatsClusterExecutor({
        servers: helpers.server.url,
        leaseMs: 3_000,
        logger: pino({ level: 'silent' }),
        ...options,
      });
      const runtime = createRuntime({
        numberOfSlots: runtimeOptions.slots ?? 1,
        executors: { remote: executor },
        defaultExecutor: 'remote',
        cancellation: runtimeOptions.cancellation ?? REMOTE_LADDER,
        fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
        logger: pino({ level: 'silent' }),
      });
      runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
      runtime.slotTable.markSlotActive('slot');
      let closed: Promise<void> | undefined;
      const coordinator: TestCoordinator = {
        runtime,
        executor,
        submit: (module, input, extra = {}) =>
          runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: { module }, input, ...extra }),
        close: () => {
          closed ??= runtime.close({ graceMs: 0 });
          return closed;
        },
      };
      coordinators.push(coordinator);
      return coordinator;
    },
  };
  return helpers;
}

/** Pids a fixture recorded in `file` (one JSON object per line with a `pid`), each once. */
export function readPids(file: string): number[] {
  const pids = readLines(file)
    .map((line) => (line as { pid?: unknown }).pid)
    .filter((pid): pid is number => typeof pid === 'number');
  return [...new Set(pids)];
}

/** The JSON lines of a fixture's log file. */
export function readLines(file: string): Array<Record<string, unknown>> {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
