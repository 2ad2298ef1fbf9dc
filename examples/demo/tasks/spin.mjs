// CPU-bound and deaf: never yields, never looks at its signal. Only terminating the thread stops it.
export default function spin() {
  let x = 0;
  for (;;) x = (x + 1) % 1_000_003;
}
