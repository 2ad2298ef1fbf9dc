import { inject, injectable } from 'tsyringe';
import { CancellationArmingError, CancellationTimeoutError, toError } from '../errors.js';
import type {
  CancellationHandle,
  CancellationStrategy,
  CancellationTarget,
} from '../interfaces/cancellation-strategy.js';
import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';
import { SchedulerToken } from '../interfaces/scheduler.js';
import { logSafely } from '../logging/log-safely.js';

/** How long the interrupter waits for `execution.diagnose()` before warning without a stack. */
export const DIAGNOSE_TIMEOUT_MS = 2_000;

/**
 * A stage timer that fires more than this late (the host's event loop was blocked) waits one more
 * turn of the loop before it acts, so that outcomes already waiting in I/O are read first.
 */
const LATE_TIMER_MS = 20;

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
 *
 * A blocked host (a long synchronous stretch in the host's event loop) delays the ladder but never
 * skips or reorders a stage: a stage whose timer fires late first lets the loop read pending I/O
 * (an outcome may be waiting), the hard stop always comes before the watchdog, and the watchdog
 * gives up only when the work still runs `capabilities.hardStopMs` after its hard stop began.
 */
@injectable()
export class DefaultCancellationStrategy implements CancellationStrategy {
  readonly #scheduler: Scheduler;

  constructor(@inject(SchedulerToken) scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  arm(target: CancellationTarget): CancellationHandle {
    const scheduler = this.#scheduler;
    const { timings, execution, logger, capabilities } = target;
    const startedAt = scheduler.now();
    const timers: ScheduledTimer[] = [];
    let disarmed = false;
    let reporting = false;
    let hardStop: (() => void) | undefined;
    /** When the hard stop began (scheduler time); the watchdog gives it its own bound from there. */
    let hardStopStartedAt: number | undefined;
    const hardStopMs = capabilities.hardStop ? (capabilities.hardStopMs ?? 0) : 0;

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

    /**
     * Arms a stage. A timer that fires late means the host's event loop was blocked; the work may
     * have stopped meanwhile and its outcome may be waiting to be read (a worker's message, a child's
     * exit). Such a stage waits one more turn of the loop, after pending I/O, before it acts: a
     * blocked host delays the ladder, it never makes it act on stale facts.
     */
    const stage = (delayMs: number, action: (lateMs: number) => void): void => {
      const due = scheduler.now() + delayMs;
      timers.push(
        scheduler.schedule(delayMs, () => {
          if (!live()) return;
          const lateMs = scheduler.now() - due;
          if (lateMs <= LATE_TIMER_MS) {
            action(0);
            return;
          }
          try {
            timers.push(scheduler.schedule(0, () => live() && action(lateMs)));
          } catch {
            action(lateMs); // no timer for the extra turn: act now rather than never
          }
        }),
      );
    };

    const watchdog = (lateMs: number): void => {
      if (!live()) return;
      // The watchdog gives up only on work that is still running after its hard stop had its own
      // bound: with a blocked host the timers fire together, and the hard stop must come first.
      if (hardStop) {
        if (hardStopStartedAt === undefined) hardStop();
        // Finishing a hard stop takes the host's event loop (reading an exit, sweeping a tree): time
        // the host spent blocked is no time the hard stop could use. A check that comes late (the
        // host was blocked) gives the hard stop its bound again, from now.
        if (lateMs > LATE_TIMER_MS) hardStopStartedAt = scheduler.now();
        const waited = scheduler.now() - (hardStopStartedAt ?? scheduler.now());
        // At least one turn of the loop, even for an executor that declares no bound.
        const bound = Math.max(hardStopMs, 1);
        if (waited < bound && live()) {
          try {
            stage(bound - waited, watchdog);
            return;
          } catch {
            /* no timer: give up now, as below */
          }
        }
        if (!live()) return;
      }
      disarm();
      target.reportStage?.('watchdog');
      target.abandon(
        new CancellationTimeoutError({
          executionId: target.task.executionId,
          taskName: target.task.name,
          timeoutMs: timings.timeoutMs,
        }),
      );
    };

    try {
      stage(timings.timeoutMs, watchdog);

      if (capabilities.hardStop && execution.kill) {
        const kill = execution.kill.bind(execution);
        hardStop = (): void => {
          if (!live() || hardStopStartedAt !== undefined) return;
          hardStopStartedAt = scheduler.now();
          if (timings.gracePeriodMs === 0) {
            logSafely(
              logger,
              'debug',
              { gracePeriodMs: 0 },
              'stopping the task hard at once (gracePeriodMs: 0)',
            );
          } else {
            logSafely(
              logger,
              'warn',
              { gracePeriodMs: timings.gracePeriodMs },
              `task did not stop within ${timings.gracePeriodMs} ms: stopping it hard`,
            );
          }
          target.reportStage?.('hard_stop');
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
          Promise.resolve(stopping).catch((error: unknown) =>
            logSafely(logger, 'error', { err: toError(error) }, 'hard stop failed'),
          );
        };
        // gracePeriodMs 0: no grace at all, the hard stop follows the graceful signal at once.
        if (timings.gracePeriodMs > 0) stage(timings.gracePeriodMs, () => hardStop?.());
      }

      const interrupt = (): void => {
        if (!live()) return;
        try {
          execution.interrupt?.();
        } catch (error) {
          logSafely(logger, 'warn', { err: toError(error) }, 'interrupting the task failed');
        }
        target.reportStage?.('interrupt');
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
          logSafely(logger, 'error', { err: toError(error) }, 'could not re-arm the interrupter');
        }
      };
      timers.push(scheduler.schedule(timings.interruptIntervalMs, interrupt));
    } catch (error) {
      disarm();
      throw error;
    }

    // The canceler runs last so that a throwing executor still leaves the timers armed.
    target.reportStage?.('signal');
    try {
      execution.cancel(target.reason);
    } catch (error) {
      logSafely(logger, 'error', { err: toError(error) }, 'cancelling the task failed; the ladder goes on');
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
