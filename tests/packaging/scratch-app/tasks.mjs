// Task modules for the worker and process executors, loaded where the task runs.
import { threadId } from 'node:worker_threads';

/** Returns its input with where it ran. */
export function echo({ input }) {
  return { ...input, pid: process.pid, threadId };
}

/** Runs until cancelled, then rejects with the abort reason (a cooperative task). */
export function untilCancelled({ signal }) {
  return new Promise((_resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('was never cancelled')), 30_000);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
