/**
 * The page in a real browser (Debian's chromium through playwright-core): it shows the runtime and
 * follows it live, cancels with a token, stays read-only without one, and renders whatever user code
 * named its tasks as text.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/browser.js';
import { fixture, Harness, until } from './support/harness.js';

// A '+' and a '/' as base64 tokens have: the fragment must keep them as they are.
const TOKEN = 'page+token/0123456789abcdef';

let browser: Browser;
beforeAll(async () => {
  browser = await Browser.launch();
});
afterAll(async () => {
  await browser?.[Symbol.asyncDispose]();
});

const row = (id: string) => browser.page.locator(`#tasks tbody tr[data-execution-id="${id}"]`);
const recentRow = (id: string) => browser.page.locator(`#recent tbody tr[data-execution-id="${id}"]`);

async function open(harness: Harness, fragment = ''): Promise<void> {
  browser.consoleErrors.length = 0;
  await browser.page.goto(`${harness.url()}${fragment}`);
  await expect.poll(() => browser.page.locator('#connection').textContent()).toBe('live');
}

describe('the inspector page', () => {
  it('shows slots, tasks and jobs, and follows a task live: appears, progresses, changes state, ends', async () => {
    await using harness = await Harness.start({ inspector: { flushIntervalMs: 20 } });
    await open(harness);
    const page = browser.page;
    expect(await page.locator('#health').textContent()).toBe('health: running');
    expect(await page.locator('#slots .slot').count()).toBe(4);
    await expect.poll(() => page.locator('#tasks-empty').isVisible()).toBe(true);
    expect(await page.locator('#access-state').textContent()).toBe('read-only (started without a token)');

    const job = harness.driven('encode-job', { name: 'encode video', executionId: 'e1' });
    await job.running();
    await expect.poll(() => row('e1').locator('.state').textContent()).toBe('RUNNING');
    expect(await row('e1').locator('td.name').textContent()).toBe('encode video');
    expect(await row('e1').locator('td.executor').textContent()).toBe('inline');
    await expect
      .poll(() => page.locator('#slots .slot-ACTIVE .slot-job').textContent())
      .toBe('job encode-job');
    await expect
      .poll(() => page.locator('#jobs tbody tr[data-job-id="encode-job"] td.num').textContent())
      .toBe('1');

    job.progress(0.3);
    await expect
      .poll(() =>
        row('e1')
          .locator('progress')
          .evaluate((bar: HTMLProgressElement) => bar.value),
      )
      .toBe(0.3);
    expect(await row('e1').locator('.progress-text').textContent()).toBe('30%');
    job.progress(0.8);
    await expect.poll(() => row('e1').locator('.progress-text').textContent()).toBe('80%');
    job.progress({ file: 'b.mp4', frames: 120n });
    await expect
      .poll(() => row('e1').locator('.progress-value').textContent())
      .toBe('{"file":"b.mp4","frames":"120n"}');

    job.finish('ok');
    await job.task.done;
    await expect.poll(() => recentRow('e1').locator('.state').textContent()).toBe('FINISHED');
    await expect.poll(() => row('e1').count(), { timeout: 10_000 }).toBe(0);

    const failing = harness.driven('encode-job', { name: 'thumbnail', executionId: 'e2' });
    await failing.running();
    failing.fail(new Error('codec not found'));
    await failing.task.done;
    await expect.poll(() => recentRow('e2').locator('td.error').textContent()).toBe('Error: codec not found');
    expect(await recentRow('e2').locator('.state').textContent()).toBe('FAILED');
    expect(browser.unexpectedConsoleErrors()).toEqual([]);
  });

  it('shows the cancellation ladder: the stage reached and the stack a stuck worker thread is in', async () => {
    await using harness = await Harness.start({ worker: true, inspector: { flushIntervalMs: 20 } });
    const task = harness.submit('crunch', {
      name: 'crunch',
      executionId: 'spinner',
      executor: 'worker',
      invokable: fixture('spin.mjs'),
      cancellation: { interruptIntervalMs: 100, gracePeriodMs: 60_000, timeoutMs: 120_000 },
    });
    await until(() => task.state === 'RUNNING', 'the worker task to run');
    await open(harness);
    task.cancel();
    await expect.poll(() => row('spinner').locator('.state').textContent()).toBe('CANCELING');
    await expect
      .poll(() => row('spinner').locator('.ladder .stage').textContent())
      .toMatch(/^interrupted \d+×$/);
    await expect
      .poll(() => row('spinner').locator('.stuck-at').textContent())
      .toMatch(/^at spin \(.*spin\.mjs:\d+:\d+\)$/);
    await row('spinner').locator('details summary').click();
    expect(await row('spinner').locator('details pre').textContent()).toContain('spin.mjs');
  });

  it('cancels a task and a job from the page with the token from the URL fragment', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN, flushIntervalMs: 20 } });
    const single = harness.driven('job-a', { name: 'single', executionId: 'c1' });
    const batch = [
      harness.driven('job-b', { executionId: 'b1' }),
      harness.driven('job-b', { executionId: 'b2' }),
    ];
    await Promise.all([single, ...batch].map((job) => job.running()));
    await open(harness, `#token=${TOKEN}`);
    const page = browser.page;
    // The token left the address bar at once; the page keeps it in this tab's sessionStorage only.
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.evaluate(() => sessionStorage.getItem('taskwarden-inspector-token'))).toBe(TOKEN);
    expect(await page.evaluate(() => document.documentElement.outerHTML)).not.toContain(TOKEN);
    expect(await page.locator('#access-state').textContent()).toBe('cancel enabled');

    await row('c1').locator('button.cancel-task').click();
    expect((await single.task.done).state).toBe('CANCELED');
    await expect.poll(() => recentRow('c1').locator('.state').textContent()).toBe('CANCELED');
    await expect.poll(() => page.locator('#notice').textContent()).toBe('cancel requested: task c1');

    await page.locator('#jobs tbody tr[data-job-id="job-b"] button.cancel-job').click();
    const outcomes = await Promise.all(batch.map((job) => job.task.done));
    expect(outcomes.map((outcome) => outcome.state)).toEqual(['CANCELED', 'CANCELED']);
    await expect.poll(() => page.locator('#jobs tbody tr[data-job-id="job-b"]').count()).toBe(0);
    await expect.poll(() => recentRow('b2').locator('.state').textContent()).toBe('CANCELED');
    expect(browser.unexpectedConsoleErrors()).toEqual([]);
    await page.evaluate(() => sessionStorage.clear());
  });

  it('locks cancel until the token is pasted, and forgets a token the server refuses', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN, flushIntervalMs: 20 } });
    const job = harness.driven('job-a', { executionId: 'k1' });
    await job.running();
    await open(harness);
    const page = browser.page;
    expect(await page.locator('#access-state').textContent()).toBe('cancel locked');
    await expect.poll(() => row('k1').locator('button.cancel-task').isDisabled()).toBe(true);

    await page.locator('#token-input').fill('not-the-token');
    await page.locator('#token-form button').click();
    await expect.poll(() => page.locator('#access-state').textContent()).toBe('cancel enabled');
    await row('k1').locator('button.cancel-task').click();
    await expect
      .poll(() => page.locator('#notice').textContent())
      .toBe('the token was refused; paste it again');
    expect(await page.locator('#access-state').textContent()).toBe('cancel locked');
    expect(job.task.cancellationRequested).toBe(false);

    await page.locator('#token-input').fill(TOKEN);
    await page.locator('#token-form button').click();
    await row('k1').locator('button.cancel-task').click();
    expect((await job.task.done).state).toBe('CANCELED');
    await page.evaluate(() => sessionStorage.clear());
  });

  it('is read-only without a token: no cancel control, and a request forged from the page gets 403', async () => {
    await using harness = await Harness.start({ inspector: { flushIntervalMs: 20 } });
    const job = harness.driven('job-r', { executionId: 'r1' });
    await job.running();
    await open(harness, `#token=${TOKEN}`);
    const page = browser.page;
    await expect.poll(() => row('r1').locator('.state').textContent()).toBe('RUNNING');
    expect(await page.locator('#access-state').textContent()).toBe('read-only (started without a token)');
    expect(await page.locator('#token-form').isVisible()).toBe(false);
    expect(await page.locator('button.cancel-task, button.cancel-job').count()).toBe(0);
    const forged = await page.evaluate(async (token) => {
      const response = await fetch('/api/tasks/r1/cancel', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
      return { status: response.status, body: await response.json() };
    }, TOKEN);
    expect(forged).toEqual({
      status: 403,
      body: { error: { code: 'READ_ONLY', message: expect.any(String) } },
    });
    expect(job.task.state).toBe('RUNNING');
    job.finish();
    await page.evaluate(() => sessionStorage.clear());
  });

  it('renders markup in task names, job ids, progress, error messages and agent names as text', async () => {
    const names = {
      img: '<img src=x onerror="window.__xss=1;alert(1)">',
      script: '</script><script>window.__xss=2;alert(2)</script>',
      svg: '<svg onload="window.__xss=3;alert(3)"></svg>',
      job: '<iframe src="javascript:alert(4)"></iframe>',
      error: '<img src=y onerror="window.__xss=5;alert(5)">\u0000\u202e',
      agent: '<a href="javascript:alert(6)">agent</a>',
    };
    await using harness = await Harness.start({
      inspector: {
        flushIntervalMs: 20,
        agents: {
          agents: () => [
            {
              name: names.agent,
              queue: names.img,
              capacity: 1,
              running: 1,
              leaseAgeMs: 5,
              tasks: [names.svg],
            },
          ],
        },
      },
    });
    const first = harness.driven(names.job, { name: names.img, executionId: 'x1' });
    const second = harness.driven(names.job, { name: names.script, executionId: 'x2' });
    const third = harness.driven(names.job, { name: names.svg, executionId: 'x3' });
    await Promise.all([first, second, third].map((job) => job.running()));
    await open(harness);
    const page = browser.page;
    first.progress(names.script);
    third.fail(new Error(names.error));
    await third.task.done;
    // Events delivered after load, too: a name arriving through the stream is as inert.
    const late = harness.driven('late', { name: names.svg, executionId: 'x4' });
    await late.running();

    await expect.poll(() => recentRow('x3').locator('td.error').textContent()).toBe(`Error: ${names.error}`);
    await expect.poll(() => row('x4').locator('td.name').textContent()).toBe(names.svg);
    expect(await row('x1').locator('td.name').textContent()).toBe(names.img);
    expect(await row('x2').locator('td.name').textContent()).toBe(names.script);
    await expect.poll(() => row('x1').locator('.progress-value').textContent()).toBe(names.script);
    await expect.poll(() => page.locator(`#jobs tbody tr td.id`).first().textContent()).toBe(names.job);
    await expect.poll(() => page.locator('#agents tbody td.name').textContent()).toBe(names.agent);
    // The text is on screen, as text.
    expect(await page.getByText(names.img, { exact: true }).first().isVisible()).toBe(true);

    const dom = await page.evaluate(() => ({
      injected: document.querySelectorAll('img, svg, iframe, object, embed, a, #tasks script, #recent script')
        .length,
      scripts: [...document.scripts].map((script) => script.getAttribute('src')),
      flag: (window as unknown as { __xss?: number }).__xss,
    }));
    expect(dom).toEqual({ injected: 0, scripts: ['/inspector.js'], flag: undefined });
    expect(browser.dialogs).toEqual([]);
    expect(browser.unexpectedConsoleErrors()).toEqual([]);
    for (const job of [first, second, late]) job.finish();
  });

  it('shows the agents of a directory: name, queue, load, lease age, tasks', async () => {
    await using harness = await Harness.start({
      inspector: {
        agents: {
          agents: () => [
            {
              name: 'agent-1',
              queue: 'default',
              capacity: 4,
              running: 2,
              leaseAgeMs: 1_500,
              tasks: ['t-1', 't-2'],
            },
            { name: 'agent-2', queue: 'gpu', capacity: 1, running: 0, leaseAgeMs: 300, tasks: [] },
          ],
        },
      },
    });
    await open(harness);
    const page = browser.page;
    await expect.poll(() => page.locator('#agents-section').isVisible()).toBe(true);
    const cells = (name: string) =>
      page.locator(`#agents tbody tr[data-agent="${name}"] td`).allTextContents();
    await expect.poll(() => cells('agent-1')).toEqual(['agent-1', 'default', '2 / 4', '1.5 s', 't-1, t-2']);
    expect(await cells('agent-2')).toEqual(['agent-2', 'gpu', '0 / 1', '300 ms', '–']);
  });

  it('hides the agents table without a directory, and shows why when the directory fails', async () => {
    await using plain = await Harness.start();
    await open(plain);
    expect(await browser.page.locator('#agents-section').isVisible()).toBe(false);
    await using failing = await Harness.start({
      inspector: {
        agents: {
          agents: () => {
            throw new Error('cluster unreachable');
          },
        },
      },
    });
    await open(failing);
    await expect
      .poll(() => browser.page.locator('#agents-error').textContent())
      .toBe('agents unavailable: cluster unreachable');
  });

  it('takes the README screenshot of a scripted state: progress, a stuck worker with its stack, a job CANCELING', async () => {
    await using harness = await Harness.start({
      worker: true,
      inspector: { token: TOKEN, flushIntervalMs: 20 },
      cancellation: { interruptIntervalMs: 400, gracePeriodMs: 60_000, timeoutMs: 120_000 },
    });
    const runtime = harness.runtime;
    const warm = harness.driven('reports', { name: 'warm-cache', executionId: 'warm-cache-1' });
    const thumbnail = harness.driven('reports', { name: 'thumbnail', executionId: 'thumbnail-7' });
    await Promise.all([warm.running(), thumbnail.running()]);
    warm.finish('ok');
    thumbnail.fail(new Error("ENOENT: no such file or directory, open '/data/in/cat.png'"));
    const render = harness.driven('reports', { name: 'render-pdf', executionId: 'render-pdf-3' });
    const aggregate = harness.driven('reports', { name: 'aggregate', executionId: 'aggregate-2' });
    const fetchFeed = harness.driven('ingest', { name: 'fetch-feed', executionId: 'fetch-feed-9' });
    const parse = harness.submit('ingest', {
      name: 'parse-archive',
      executionId: 'parse-archive-4',
      executor: 'worker',
      invokable: fixture('spin.mjs'),
    });
    await Promise.all([render.running(), aggregate.running(), fetchFeed.running()]);
    await until(() => parse.state === 'RUNNING', 'the worker task to run');
    render.progress(0.72);
    aggregate.progress(0.18);
    fetchFeed.progress(0.45);
    runtime.slotTable.allocateSlot({ index: 2, jobId: 'backfill', allocationId: 'alloc-backfill' });
    void runtime.cancelJob('ingest');
    await until(
      () =>
        (runtime.snapshot().tasks.find((t) => t.executionId === 'parse-archive-4')?.ladder?.interrupts ??
          0) >= 2,
      'two interrupter rounds',
    );
    await open(harness, `#token=${TOKEN}`);
    const page = browser.page;
    await expect.poll(() => row('parse-archive-4').locator('.stuck-at').textContent()).toMatch(/at spin/);
    await expect
      .poll(() => page.locator('#jobs tbody tr[data-job-id="ingest"] .state').textContent())
      .toBe('CANCELING');
    await expect.poll(() => recentRow('fetch-feed-9').locator('.state').textContent()).toBe('CANCELED');
    await row('parse-archive-4').locator('details summary').click();

    const target =
      process.env.UPDATE_SCREENSHOT === '1'
        ? fileURLToPath(new URL('../../../docs/inspector.png', import.meta.url))
        : join(tmpdir(), `taskwarden-inspector-${process.pid}.png`);
    await page.screenshot({ path: target, type: 'png' });
    const png = readFileSync(target);
    if (process.env.UPDATE_SCREENSHOT !== '1') rmSync(target);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1000, 700]);
    expect(png.length).toBeLessThan(200 * 1_024);
    expect(browser.unexpectedConsoleErrors()).toEqual([]);
    for (const job of [render, aggregate]) job.finish();
    await page.evaluate(() => sessionStorage.clear());
  });
});
