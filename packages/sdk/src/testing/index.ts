/**
 * Test helpers for integrators and executor authors. Nothing here needs vitest; the executor
 * conformance suite (which does) is on its own subpath, `@taskwarden/sdk/testing/conformance`.
 *
 * @example
 * ```ts
 * import { ManualScheduler, RecordingFatalErrorHandler, ThrowingScheduler } from '@taskwarden/sdk/testing';
 *
 * const scheduler = new ThrowingScheduler(new ManualScheduler());
 * const fatal = new RecordingFatalErrorHandler();
 * const runtime = createRuntime({ numberOfSlots: 1, executors, scheduler, fatalErrorHandler: fatal });
 * scheduler.failFrom(1);
 * task.cancel(); // eager escalation: FAILED and abandoned before cancel() returns
 * ```
 * @module
 */
import '../polyfill.js';

export type { CapturedLogLine } from './capture-logger.js';
export { captureLogger } from './capture-logger.js';
export { CountingScheduler } from './counting-scheduler.js';
export type { DirectLaunch, DirectLaunchOptions, DirectOutcome, DirectReport } from './direct-launch.js';
export { launchDirectly } from './direct-launch.js';
export { FakeTask } from './fake-task.js';
export type { HostileValue } from './hostile-values.js';
export { hostileValues } from './hostile-values.js';
export { flushMicrotasks, ManualScheduler } from './manual-scheduler.js';
export type { TempDir } from './processes.js';
export { isGone, isProcessGone, processStartTicks, tempDir, waitGone } from './processes.js';
export { RecordingFatalErrorHandler } from './recording-fatal-error-handler.js';
export type { ScriptedExecutorOptions } from './scripted-executor.js';
export { ScriptedExecution, ScriptedExecutor } from './scripted-executor.js';
export { ThrowingScheduler } from './throwing-scheduler.js';
export { sleep, until } from './wait.js';
