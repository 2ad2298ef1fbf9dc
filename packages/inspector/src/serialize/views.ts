import type { ExecutorCapabilities, RuntimeSnapshot, SlotReportEntry, TaskSnapshot } from '@taskwarden/sdk';
import type { AgentView } from '../agent-directory.js';
import { AGENT_LIMITS, TEXT_LIMITS } from './limits.js';
import { errorSummary, type JsonValue, safeText, toJsonSafe } from './safe-json.js';

/** The JSON form of one live task (`tasks` of `/api/snapshot`). */
export interface TaskView {
  executionId: string;
  jobId: string;
  allocationId: string;
  name: string;
  executor: string;
  state: string;
  submittedAt: number;
  progress: JsonValue;
  cancellationRequested: boolean;
  ladder?: {
    stage: string;
    requestedAt: number;
    interrupts: number;
    lastStuck?: { elapsedMs: number; diagnostics?: string };
  };
}

/** The JSON form of one ended task (`recent` of `/api/snapshot`). */
export interface EndedTaskView {
  executionId: string;
  jobId: string;
  name: string;
  executor: string;
  state: string;
  endedAt: number;
  cancellationRequested: boolean;
  error?: { name: string; message: string };
}

/** The JSON form of one agent. */
export interface AgentJson {
  name: string;
  queue: string;
  capacity: number | null;
  running: number | null;
  leaseAgeMs: number | null;
  tasks: string[];
  tasksOmitted: number;
}

/** Agents as a snapshot shows them: a list, or why there is none. */
export type AgentsResult = { agents: AgentJson[] } | { agentsError: string };

/** `GET /api/snapshot` and the `snapshot` event. */
export interface SnapshotView {
  takenAt: number;
  health: string;
  /** `'token'`: the cancel endpoints take a bearer token; `'disabled'`: read-only. */
  mutations: 'token' | 'disabled';
  slots: Array<{ index: number; state: string; allocationId?: string; jobId?: string }>;
  tasks: TaskView[];
  tasksOmitted: number;
  jobs: Array<{ jobId: string; state: string; liveTasks: number }>;
  executors: Record<string, { name: string; capabilities: JsonValue }>;
  recent: EndedTaskView[];
  agents?: AgentJson[];
  agentsError?: string;
}

const name = (value: unknown) => safeText(value, TEXT_LIMITS.name);
const finite = (value: unknown, fallback = 0) =>
  typeof value === 'number' && Number.isFinite(value) ? value : fallback;
const finiteOrNull = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** One live task's JSON form. */
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

/** The JSON form of a runtime snapshot, with the ended tasks and agents the inspector knows of. */
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

/** An ended task's JSON form, built inside the runtime's listener (cheap: strings are only cut). */
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

/** Agents read from a directory, every field checked and cut. */
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
