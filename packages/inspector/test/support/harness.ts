/**
 * Shared set-up for the inspector tests: a real runtime (inline and worker executors from
 * @taskwarden/executor-local) with ACTIVE slots, an inspector on a free loopback port, tasks the
 * test drives by hand, and HTTP helpers. Everything is disposed with `await using`.
 */
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import type {
  CancellationOptions,
  Executor,
  InvocationContext,
  ModuleReference,
  RuntimeEvents,
  Task,
  TaskDescriptor,
  TaskRuntime,
} from '@taskwarden/sdk';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import { type CapturedLogLine, captureLogger, until } from '@taskwarden/sdk/testing';
import { type Inspector, type InspectorOptions, startInspector } from '../../src/index.js';

export { sleep, until } from '@taskwarden/sdk/testing';

/** The runtime's events, to check that the inspector removes every listener it added. */
export const RUNTIME_EVENTS: readonly (keyof RuntimeEvents)[] = [
  'taskStateChanged',
  'slotStateChanged',
  'taskStuck',
  'taskCancellationStage',
  'taskProgress',
  'jobStateChanged',
  'fatalError',
];

/** Listener counts of every runtime event. */
export function listenerCounts(runtime: TaskRuntime): Record<string, number> {
  return Object.fromEntries(RUNTIME_EVENTS.map((event) => [event, runtime.events.listenerCount(event)]));
}

/** `{ module }` of a file in `test/fixtures/`. */
export function fixture(name: string): ModuleReference {
  return { module: fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)) };
}

/** The context as every executor builds it: with `reportProgress`, which its type lacks for now. */
type ProgressContext = InvocationContext & { reportProgress(value: unknown): void };

/** An inline task the test drives: it reports progress and ends when told, or stops on its signal. */
export interface DrivenTask {
  readonly task: Task;
  /** Resolves once the work runs (its context is known). */
  running(): Promise<void>;
  progress(value: unknown): void;
  finish(value?: unknown): void;
  fail(error: unknown): void;
}

export interface HarnessOptions {
  /** Static slots; each gets `job-<i>`-less ids from {@link Harness.slot}. @default 4 */
  numberOfSlots?: number;
  /** Options for the inspector (a free loopback port unless given). @default {} */
  inspector?: InspectorOptions;
  /** Also a WorkerExecutor under the key `worker`. @default false */
  worker?: boolean;
  /** Ladder timings of the runtime. @default 30 s interrupter, 30 s grace, 60 s watchdog */
  cancellation?: CancellationOptions;
}

/** A runtime and its inspector, closed by `await using`. */
export class Harness implements AsyncDisposable {
  readonly runtime: TaskRuntime;
  readonly inspector: Inspector;
  readonly logLines: CapturedLogLine[];
  #slots = 0;
  readonly #worker: WorkerExecutor | undefined;

  private constructor(
    runtime: TaskRuntime,
    inspector: Inspector,
    logLines: CapturedLogLine[],
    worker: WorkerExecutor | undefined,
  ) {
    this.runtime = runtime;
    this.inspector = inspector;
    this.logLines = logLines;
    this.#worker = worker;
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const executors: Record<string, Executor> = { inline: new InlineExecutor() };
    const worker = options.worker ? new WorkerExecutor({ maxThreads: 2 }) : undefined;
    if (worker) executors.worker = worker;
    const runtime = createRuntime({
      numberOfSlots: options.numberOfSlots ?? 4,
      executors,
      defaultExecutor: 'inline',
      cancellation: options.cancellation ?? {
        interruptIntervalMs: 30_000,
        gracePeriodMs: 30_000,
        timeoutMs: 60_000,
      },
      fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
      logger: captureLogger('warn').logger,
    });
    const { logger, lines } = captureLogger('info');
    try {
      const inspector = await startInspector(runtime, { logger, ...options.inspector });
      return new Harness(runtime, inspector, lines, worker);
    } catch (error) {
      await runtime.close();
      throw error;
    }
  }

  /** The inspector's URL with `path` (no leading slash). */
  url(path = ''): string {
    return `${this.inspector.url}${path}`;
  }

  /** Allocates and activates the next static slot for `jobId`; returns its allocation id. */
  slot(jobId: string): string {
    const index = this.#slots++;
    const allocationId = `alloc-${index}`;
    this.runtime.slotTable.allocateSlot({ index, jobId, allocationId });
    this.runtime.slotTable.markSlotActive(allocationId);
    return allocationId;
  }

  /** Submits a task into a slot of `jobId` (allocating one the first time a job is seen). */
  submit(jobId: string, descriptor: Partial<TaskDescriptor> & Pick<TaskDescriptor, 'invokable'>): Task {
    const allocationId = this.runtime.slotTable.getAllocationIds(jobId)[0] ?? this.slot(jobId);
    return this.runtime.submit({ jobId, allocationId, ...descriptor });
  }

  /** An inline task the test drives by hand. */
  driven(jobId: string, descriptor: Partial<TaskDescriptor> = {}): DrivenTask {
    let context: InvocationContext | undefined;
    let settle: { resolve(value: unknown): void; reject(error: unknown): void } | undefined;
    const task = this.submit(jobId, {
      ...descriptor,
      invokable: (ctx: InvocationContext) =>
        new Promise((resolve, reject) => {
          context = ctx;
          settle = { resolve, reject };
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    });
    return {
      task,
      running: () => until(() => context !== undefined, `task ${task.name} to run`),
      // The SDK's InvocationContext type does not declare reportProgress yet (every executor has it).
      progress: (value) => (context as ProgressContext | undefined)?.reportProgress(value),
      finish: (value) => settle?.resolve(value),
      fail: (error) => settle?.reject(error),
    };
  }

  /** Closes the inspector and the runtime, and checks both are closed: the port refuses, no thread is left. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.inspector.close();
    await this.runtime.close({ graceMs: 0 });
    const refused = await http(this.inspector.url).then(
      () => false,
      (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED',
    );
    if (!refused) throw new Error(`the inspector at ${this.inspector.url} still accepts connections`);
    if ((this.#worker?.threadCount ?? 0) !== 0) throw new Error('worker threads are left running');
  }
}

/** A response read in full. */
export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body parsed as JSON (`undefined` when it is not JSON). */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response fields one by one
  json: any;
}

/**
 * One HTTP request with exactly the headers given (fetch would refuse to set `Host`, `Origin` or
 * `Sec-Fetch-Site`, which these tests need to forge).
 */
export function http(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
    });
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, json });
      });
    });
    request.end(options.body);
  });
}
