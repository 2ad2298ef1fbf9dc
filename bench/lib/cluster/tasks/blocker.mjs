// Holds its capacity until cancelled.
export default function blocker({ signal }) {
  return new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason));
  });
}
