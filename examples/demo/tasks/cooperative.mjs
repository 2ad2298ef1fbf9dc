// Waits for its AbortSignal and gives up when asked: a well-behaved task.
export default function cooperative({ signal }) {
  return new Promise((_resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('never cancelled')), 60_000);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
