// Errors a child task logs reach the host's logger as errors logged in the host would: their type,
// message, stack and fields, and one pid per record.
import { ProcessExecutor } from '@taskwarden/executor-process';
import { describe, expect, it } from 'vitest';
import { captureLogger, fixture, startRuntime } from './helpers.js';

describe('errors logged by a child task', () => {
  it('keep their type, message, stack and own fields; one pid field', async () => {
    const { logger, records } = captureLogger('info');
    const executor = new ProcessExecutor({ maxProcesses: 1 });
    const runtime = startRuntime(executor, { logger });
    try {
      const outcome = await runtime.submit({
        jobId: 'job',
        allocationId: 'slot-0',
        invokable: { module: fixture('logs-errors.mjs') },
      }).done;
      expect(outcome).toMatchObject({ state: 'FINISHED', result: 'logged' });
      const plain = records.find((record) => record.msg === 'plain boom');
      expect(plain?.err).toMatchObject({ type: 'Error', message: 'plain boom' });
      expect(String((plain?.err as { stack?: string } | undefined)?.stack)).toContain('logs-errors.mjs');
      const typed = records.find((record) => record.msg === 'with a field');
      expect(typed?.err).toMatchObject({ type: 'TypeError', message: 'typed boom', code: 'E_TYPED' });
      for (const record of [plain, typed]) {
        const raw = JSON.stringify(record);
        expect(raw.match(/"pid":/g)?.length ?? 0).toBeLessThanOrEqual(1);
      }
    } finally {
      await runtime.close();
      expect(executor.pids).toEqual([]);
    }
  });
});
