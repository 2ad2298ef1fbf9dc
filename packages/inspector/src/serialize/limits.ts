/** How long each kind of string from user code may be when it is shown (longer ones are cut with a marker). @internal */
export const TEXT_LIMITS = {
  /** Task names, job, allocation and execution ids, executor keys, agent names and queues. */
  name: 200,
  /** Error messages. */
  message: 2_000,
  /** Stacks from `diagnose()` (the stuck stack). */
  diagnostics: 8_000,
} as const;

/** The most agents listed, and the most task ids listed per agent. @internal */
export const AGENT_LIMITS = { agents: 1_000, tasksPerAgent: 100 } as const;
