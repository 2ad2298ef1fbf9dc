// A task module: imported inside a worker thread. Any export shape works; this one is a function.
export default async function thumbnail({ input, signal, logger }) {
  logger.debug({ file: input.file }, 'making a thumbnail');
  // Stand-in for real work: a little CPU, and a check of the signal between steps.
  let checksum = 0;
  for (let step = 0; step < 5; step++) {
    signal.throwIfAborted();
    for (let i = 0; i < 200_000; i++) checksum = (checksum + i * input.width) % 1_000_003;
  }
  return { file: input.file.replace(/\.png$/, `.${input.width}.png`), checksum };
}
