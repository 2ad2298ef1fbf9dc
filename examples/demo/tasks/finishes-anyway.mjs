// Ignores the cancel request and completes its work: it ends FINISHED, with cancellationRequested.
export default async function finishesAnyway({ input }) {
  await new Promise((resolve) => setTimeout(resolve, input.ms));
  return `finished after ${input.ms} ms`;
}
