import { inject, injectable } from 'tsyringe';
import { CancellationArmingError, CancellationTimeoutError, toError } from '../errors.js';
import type {
  CancellationHandle,
  CancellationStrategy,
  CancellationTarget,
} from '../interfaces/cancellation-strategy.js';
import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';
import { SchedulerToken } from '../interfaces/scheduler.js';

/** How long the interrupter waits for `execution.diagnose()` before warning without a stack. */
export const DIAGNOSE_TIMEOUT_MS = 2_000;

/**
 * The default cancellation ladder (Flink's canceler, interrupter, watchdog, plus a hard stop):
 *
 * | stage | when | what |
 * | --- | --- | --- |
 * | canceler | at once | `execution.cancel(reason)`: abort the signal, call the invokable's `cancel()` |
 * | interrupter | every `interruptIntervalMs` | `execution.interrupt()`, a warning with `diagnose()` output, `taskStuck` |
 * | hard stop | after `gracePeriodMs` (0: right after the canceler) | `execution.kill()` when the executor has `hardStop` |
 * | watchdog | after `timeoutMs` | `target.abandon(CancellationTimeoutError)`: fatal handler, FAILED, abandoned |
 *
 * The watchdog is armed first: once it exists the task is guaranteed to end, so a failure arming a
 * later stage is still fatal (it is reported by throwing from `arm`, which the runtime escalates),
 * but a failure while the ladder runs (re-arming the interrupter) is only logged. A hard stop whose
 * `kill()` throws synchronously could not start at all and is escalated at once
 * (`CancellationArmingError`); one whose promise rejects is logged and left to the watchdog.
 */
@injectable()
export class DefaultCancellationStrategy implements CancellationStrategy {
  readonly #scheduler: Scheduler;

  constructor(@inject(SchedulerToken) scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  arm(target: CancellationTarget): CancellationHandle {
    const scheduler = this.#scheduler;
    const { timings, execution, logger } = target;
    const startedAt = scheduler.now();
    const timers: ScheduledTimer[] = [];
    let disarmed = false;
    let reporting = false;
    let hardStop: (() => void) | undefined;

    // A diagnosis in flight when the work stops: its timeout timer must not outlive the ladder.
    let abandonDiagnosis: (() => void) | undefined;
    const disarm = (): void => {
      if (disarmed) return;
      disarmed = true;
      for (const timer of timers) timer.cancel();
      timers.length = 0;
      abandonDiagnosis?.();
    };
    const live = (): boolean => !disarmed && !target.isWorkStopped();

    try {
      timers.push(
        scheduler.schedule(timings.timeoutMs, () => {
          if (!live()) return;
          disarm();
          target.abandon(
            new CancellationTimeoutError({
              executionId: target.task.executionId,
              taskName: target.task.name,
              timeoutMs: timings.timeoutMs,
            }),
          );
        }),
      );

      if (target.capabilities.hardStop && execution.kill) {
        const kill = execution.kill.bind(execution);
        hardStop = (): void => {
          if (!live()) return;
          logger.warn(
            { gracePeriodMs: timings.gracePeriodMs },
            `task did not stop within ${timings.gracePeriodMs} ms: stopping it hard`,
          );
          let stopping: Promise<void>;
          try {
            stopping = kill();
          } catch (error) {
            // The machinery that should stop the work could not even start (a process that cannot
            // be signalled, a timer that cannot be armed): escalate now rather than at the watchdog.
            disarm();
            target.abandon(
              new CancellationArmingError(
                { executionId: target.task.executionId, taskName: target.task.name },
                error,
              ),
            );
            return;
          }
          // A hard stop that started but failed is logged; the watchdog still bounds the task.
          stopping.catch((error: unknown) => logger.error({ err: toError(error) }, 'hard stop failed'));
        };
        // gracePeriodMs 0: no grace at all, the hard stop follows the graceful signal at once.
        if (timings.gracePeriodMs > 0) timers.push(scheduler.schedule(timings.gracePeriodMs, hardStop));
      }

      const interrupt = (): void => {
        if (!live()) return;
        try {
          execution.interrupt?.();
        } catch (error) {
          logger.warn({ err: toError(error) }, 'interrupting the task failed');
        }
        // One report at a time: a slow diagnose() must not let warnings arrive out of order.
        if (!reporting) {
          reporting = true;
          void this.#reportStuck(target, scheduler.now() - startedAt, live, (abandon) => {
            abandonDiagnosis = abandon;
          }).finally(() => {
            reporting = false;
            abandonDiagnosis = undefined;
          });
        }
        try {
          timers.push(scheduler.schedule(timings.interruptIntervalMs, interrupt));
        } catch (error) {
          // The watchdog and hard stop are armed, so the task still ends; only the warnings stop.
          logger.error({ err: toError(error) }, 'could not re-arm the interrupter');
        }
      };
      timers.push(scheduler.schedule(timings.interruptIntervalMs, interrupt));
    } catch (error) {
      disarm();
      throw error;
    }

    // The canceler runs last so that a throwing executor still leaves the timers armed.
    try {
      execution.cancel(target.reason);
    } catch (error) {
      logger.error({ err: toError(error) }, 'cancelling the task failed; the ladder goes on');
    }
    if (timings.gracePeriodMs === 0) hardStop?.();
    return { disarm };
  }

  async #reportStuck(
    target: CancellationTarget,
    elapsedMs: number,
    live: () => boolean,
    onAbandonable: (abandon: () => void) => void,
  ): Promise<void> {
    let diagnostics: string | undefined;
    if (target.capabilities.diagnostics && target.execution.diagnose) {
      diagnostics = await this.#diagnose(target, onAbandonable);
    }
    if (live()) target.reportStuck(Math.round(elapsedMs), diagnostics);
  }

  #diagnose(
    target: CancellationTarget,
    onAbandonable: (abandon: () => void) => void,
  ): Promise<string | undefined> {
    return new Promise((resolve) => {
      let timer: ScheduledTimer | undefined;
      try {
        timer = this.#scheduler.schedule(DIAGNOSE_TIMEOUT_MS, () => resolve(undefined));
      } catch {
        // Without a timer a hanging diagnose() would hide the warning; report without a stack.
        resolve(undefined);
        return;
      }
      onAbandonable(() => {
        timer?.cancel();
        resolve(undefined);
      });
      Promise.resolve()
        .then(() => target.execution.diagnose?.())
        .then(
          (text) => resolve(text),
          (error: unknown) => resolve(`diagnostics unavailable: ${toError(error).message}`),
        )
        .finally(() => timer?.cancel());
    });
  }
}
