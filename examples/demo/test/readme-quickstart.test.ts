// The README's quickstart is run as written, so the documentation cannot drift from the API.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

describe('README quickstart', () => {
  it('runs and ends with the task CANCELED', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const code = /## Quickstart[^\n]*\n+```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    // Written next to the demo so the workspace packages resolve from it.
    const file = fileURLToPath(new URL('../src/.readme-quickstart.mjs', import.meta.url));
    writeFileSync(file, code as string);
    try {
      const out = runExample(file);
      expect(out).toContain('wait RUNNING → CANCELING');
      expect(out).toContain("state: 'CANCELED'");
    } finally {
      rmSync(file, { force: true });
    }
  });
});
