/**
 * A real browser for the page tests: Debian's chromium driven by playwright-core, headless, with a
 * fresh profile directory. Never `npx playwright install` (it downloads a browser, which this
 * machine cannot). The processes it starts are found by that unique directory and checked gone on
 * close (and SIGKILLed by pid if they are not, so a failed check leaves none running).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isGone, type TempDir, tempDir, until } from '@taskwarden/sdk/testing';
import { type BrowserContext, type ConsoleMessage, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox', // root in CI
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** Pids of processes whose command line mentions `marker` (the profile directory: ours alone). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** One headless chromium with one page, closed (and checked gone) by `await using`. */
export class Browser implements AsyncDisposable {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and CSP violations the page reported. */
  readonly consoleErrors: string[] = [];
  /** Dialogs (`alert` from an injected script would land here). */
  readonly dialogs: string[] = [];
  readonly #profile: TempDir;

  private constructor(context: BrowserContext, page: Page, profile: TempDir) {
    this.context = context;
    this.page = page;
    this.#profile = profile;
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error') this.consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => this.consoleErrors.push(`pageerror: ${error.message}`));
    page.on('dialog', (dialog) => {
      this.dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  }

  static async launch(): Promise<Browser> {
    const profile = tempDir('inspector-chromium');
    try {
      const context = await chromium.launchPersistentContext(profile.path, {
        executablePath: CHROMIUM,
        headless: true,
        args: ARGS,
        viewport: { width: 1000, height: 700 },
      });
      const page = context.pages()[0] ?? (await context.newPage());
      return new Browser(context, page, profile);
    } catch (error) {
      profile.remove();
      throw error;
    }
  }

  /** Console errors other than the favicon request every page makes (404 here). */
  unexpectedConsoleErrors(): string[] {
    return this.consoleErrors.filter((text) => !/favicon|Failed to load resource.*404/i.test(text));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const pids = processesWith(this.#profile.path);
    try {
      if (pids.length === 0) throw new Error('no chromium process found for this profile');
      await this.context.close();
      await until(() => pids.every((pid) => isGone(pid)), 'every chromium process to exit', 15_000);
    } finally {
      for (const pid of processesWith(this.#profile.path)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
      this.#profile.remove();
    }
  }
}
