import type { ExecutorCapabilities, RuntimeSnapshot, SlotReportEntry, TaskSnapshot } from '@taskwarden/sdk';
import type { AgentView } from '../agent-directory.js';
import { AGENT_LIMITS, TEXT_LIMITS } from './limits.js';
import { errorSummary, type JsonValue, safeText, toJsonSafe } from './safe-json.js';

/**
 * The JSON form of one live task (`tasks` of `/api/snapshot`). Strings from user code are cut with a
 * marker (names and ids at 200 characters, stacks at 8,000).
 */
export interface TaskView {
  /** The task's execution id. */
  executionId: string;
  /** Its job. */
  jobId: string;
  /** Its slot allocation. */
  allocationId: string;
  /** Its name. */
  name: string;
  /** The key of its executor. */
  executor: string;
  /** Its state (an `ExecutionState`; terminal while its work is still stopping). */
  state: string;
  /** When it was submitted, ms since the epoch (server clock). */
  submittedAt: number;
  /** The last progress value, made JSON-safe by {@link toJsonSafe}; `null` before the first report. */
  progress: JsonValue;
  /** Whether cancellation was requested. */
  cancellationRequested: boolean;
  /** How far its cancellation ladder has got, once one was armed. */
  ladder?: {
    /** The last stage reached: `signal`, `interrupt`, `hard_stop` or `watchdog`. */
    stage: string;
    /** When cancellation was requested, ms since the epoch. */
    requestedAt: number;
    /** Interrupter rounds so far. */
    interrupts: number;
    /** The last interrupter report: time since the request, and the stack where the executor can tell. */
    lastStuck?: { elapsedMs: number; diagnostics?: string };
  };
}

/** The JSON form of one ended task (`recent` of `/api/snapshot`). */
export interface EndedTaskView {
  /** The task's execution id. */
  executionId: string;
  /** Its job. */
  jobId: string;
  /** Its name. */
  name: string;
  /** The key of its executor. */
  executor: string;
  /** Its final state: FINISHED, CANCELED or FAILED. */
  state: string;
  /** When it reached that state, ms since the epoch. */
  endedAt: number;
  /** Whether cancellation had been requested. */
  cancellationRequested: boolean;
  /** Why it FAILED (message cut at 2,000 characters). */
  error?: { name: string; message: string };
}

/** The JSON form of one agent: an {@link AgentView} checked and cut. */
export interface AgentJson {
  /** The agent's name. */
  name: string;
  /** The queue it serves. */
  queue: string;
  /** Tasks it may run at once (`null` when the directory gave no finite number). */
  capacity: number | null;
  /** Tasks it runs now (`null` when unknown). */
  running: number | null;
  /** Time since its lease was renewed, in ms (`null` when unknown). */
  leaseAgeMs: number | null;
  /** Execution ids of its tasks (at most 100). */
  tasks: string[];
  /** How many more tasks it runs than `tasks` lists. */
  tasksOmitted: number;
}

/** Agents as a snapshot shows them: a list, or why there is none. @internal */
export type AgentsResult = { agents: AgentJson[] } | { agentsError: string };

/** `GET /api/snapshot` and the `snapshot` event. */
export interface SnapshotView {
  /** When the runtime snapshot was taken, ms since the epoch (the page derives its clock offset from it). */
  takenAt: number;
  /** The runtime's health: `running`, `fatal` or `closed`. */
  health: string;
  /** `'token'`: the cancel endpoints take a bearer token; `'disabled'`: read-only. */
  mutations: 'token' | 'disabled';
  /** Every static slot and each held dynamic slot, by index. */
  slots: Array<{ index: number; state: string; allocationId?: string; jobId?: string }>;
  /** Live tasks, oldest first, at most `maxTasks`. */
  tasks: TaskView[];
  /** Live tasks beyond `maxTasks`, not listed. */
  tasksOmitted: number;
  /** Jobs with live tasks or a cancellation in progress. */
  jobs: Array<{ jobId: string; state: string; liveTasks: number }>;
  /** The executors by key: name and capabilities. */
  executors: Record<string, { name: string; capabilities: JsonValue }>;
  /** The last `recentTasks` ended tasks, oldest first. */
  recent: EndedTaskView[];
  /** The agents, when the inspector has an `agents` directory that answered. */
  agents?: AgentJson[];
  /** Why the agents directory could not be read. */
  agentsError?: string;
}

const name = (value: unknown) => safeText(value, TEXT_LIMITS.name);
const finite = (value: unknown, fallback = 0) =>
  typeof value === 'number' && Number.isFinite(value) ? value : fallback;
const finiteOrNull = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** One live task's JSON form. @internal */
export function taskView(task: TaskSnapshot): TaskView {
  const view: TaskView = {
    executionId: name(task.executionId),
    jobId: name(task.jobId),
    allocationId: name(task.allocationId),
    name: name(task.name),
    executor: name(task.executor),
    state: name(task.state),
    submittedAt: finite(task.submittedAt),
    progress: toJsonSafe(task.progress),
    cancellationRequested: task.cancellationRequested === true,
  };
  const ladder = task.ladder;
  if (ladder !== undefined) {
    view.ladder = {
      stage: name(ladder.stage),
      requestedAt: finite(ladder.requestedAt),
      interrupts: finite(ladder.interrupts),
    };
    if (ladder.lastStuck !== undefined) {
      view.ladder.lastStuck = { elapsedMs: finite(ladder.lastStuck.elapsedMs) };
      if (ladder.lastStuck.diagnostics !== undefined) {
        view.ladder.lastStuck.diagnostics = safeText(ladder.lastStuck.diagnostics, TEXT_LIMITS.diagnostics);
      }
    }
  }
  return view;
}

function slotView(slot: SlotReportEntry): SnapshotView['slots'][number] {
  const view: SnapshotView['slots'][number] = { index: finite(slot.index), state: name(slot.state) };
  if (slot.allocationId !== undefined) view.allocationId = name(slot.allocationId);
  if (slot.jobId !== undefined) view.jobId = name(slot.jobId);
  return view;
}

function executorsView(executors: RuntimeSnapshot['executors']): SnapshotView['executors'] {
  const view: SnapshotView['executors'] = Object.create(null);
  for (const [key, executor] of Object.entries(executors)) {
    const capabilities: ExecutorCapabilities = executor.capabilities;
    view[name(key)] = { name: name(executor.name), capabilities: toJsonSafe(capabilities) };
  }
  return view;
}

/** The JSON form of a runtime snapshot, with the ended tasks and agents the inspector knows of. @internal */
export function snapshotView(
  snapshot: RuntimeSnapshot,
  options: {
    maxTasks: number;
    mutations: 'token' | 'disabled';
    recent: EndedTaskView[];
    agents?: AgentsResult;
  },
): SnapshotView {
  const listed = snapshot.tasks.slice(0, options.maxTasks);
  const view: SnapshotView = {
    takenAt: finite(snapshot.takenAt),
    health: name(snapshot.health),
    mutations: options.mutations,
    slots: snapshot.slots.map(slotView),
    tasks: listed.map(taskView),
    tasksOmitted: snapshot.tasks.length - listed.length,
    jobs: snapshot.jobs.map((job) => ({
      jobId: name(job.jobId),
      state: name(job.state),
      liveTasks: finite(job.liveTasks),
    })),
    executors: executorsView(snapshot.executors),
    recent: options.recent,
  };
  if (options.agents !== undefined) Object.assign(view, options.agents);
  return view;
}

/** An ended task's JSON form, built inside the runtime's listener (cheap: strings are only cut). @internal */
export function endedTaskView(
  task: {
    executionId: string;
    jobId: string;
    name: string;
    executor: string;
    cancellationRequested: boolean;
  },
  state: string,
  cause: unknown,
): EndedTaskView {
  const view: EndedTaskView = {
    executionId: name(task.executionId),
    jobId: name(task.jobId),
    name: name(task.name),
    executor: name(task.executor),
    state,
    endedAt: Date.now(),
    cancellationRequested: task.cancellationRequested === true,
  };
  if (cause !== undefined && cause !== null) view.error = errorSummary(cause, TEXT_LIMITS.message);
  return view;
}

/** Agents read from a directory, every field checked and cut. @internal */
export function agentsView(agents: unknown): AgentJson[] {
  if (!Array.isArray(agents)) throw new TypeError('agents() did not return an array');
  return agents
    .slice(0, AGENT_LIMITS.agents)
    .map((agent: Partial<AgentView> | null | undefined): AgentJson => {
      const tasks = Array.isArray(agent?.tasks) ? agent.tasks : [];
      return {
        name: name(agent?.name ?? ''),
        queue: name(agent?.queue ?? ''),
        capacity: finiteOrNull(agent?.capacity),
        running: finiteOrNull(agent?.running),
        leaseAgeMs: finiteOrNull(agent?.leaseAgeMs),
        tasks: tasks.slice(0, AGENT_LIMITS.tasksPerAgent).map(name),
        tasksOmitted: Math.max(0, tasks.length - AGENT_LIMITS.tasksPerAgent),
      };
    });
}
