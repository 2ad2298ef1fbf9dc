// Pretends to resize an image: takes input.ms, stops early when cancelled. Returns where it ran.
export default function resize({ input, signal }) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ file: input.file, agentPid: process.ppid }), input.ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
