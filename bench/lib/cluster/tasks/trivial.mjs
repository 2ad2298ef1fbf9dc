// The trivial task: its input plus one, asynchronously.
export default async function trivial({ input }) {
  return input + 1;
}
