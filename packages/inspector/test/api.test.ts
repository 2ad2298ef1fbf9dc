import { describe, expect, it } from 'vitest';
import { ApiErrorCode, CONTENT_SECURITY_POLICY, TRUNCATION_MARKER } from '../src/index.js';
import { Harness, http, until } from './support/harness.js';

const TOKEN = 'test-token-0123456789abcdef';
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('GET /api/snapshot', () => {
  it('answers the runtime snapshot as JSON, with the security headers and no caching', async () => {
    await using harness = await Harness.start();
    const job = harness.driven('job-1', { name: 'resize', executionId: 'exec-1' });
    await job.running();
    job.progress(0.25);

    const answer = await http(harness.url('api/snapshot'));
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.headers['referrer-policy']).toBe('no-referrer');
    expect(answer.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(answer.json).toMatchObject({
      health: 'running',
      mutations: 'disabled',
      slots: [
        { index: 0, state: 'ACTIVE', allocationId: 'alloc-0', jobId: 'job-1' },
        { index: 1, state: 'FREE' },
        { index: 2, state: 'FREE' },
        { index: 3, state: 'FREE' },
      ],
      tasks: [
        {
          executionId: 'exec-1',
          jobId: 'job-1',
          allocationId: 'alloc-0',
          name: 'resize',
          executor: 'inline',
          state: 'RUNNING',
          progress: 0.25,
          cancellationRequested: false,
        },
      ],
      tasksOmitted: 0,
      jobs: [{ jobId: 'job-1', state: 'RUNNING', liveTasks: 1 }],
      executors: { inline: { name: 'inline', capabilities: { hardStop: false, isolation: 'none' } } },
      recent: [],
    });
    expect(typeof answer.json.takenAt).toBe('number');
    job.finish('done');
    await job.task.done;
  });

  it('serializes hostile values safely: BigInt and Map progress, control characters, huge names', async () => {
    await using harness = await Harness.start();
    const hugeName = `big${'x'.repeat(100_000)}`;
    const big = harness.driven('job-1', { name: hugeName });
    const odd = harness.driven('job-1', { name: 'tab\there\u0000nul\u2028line</script>' });
    await big.running();
    await odd.running();
    big.progress(new Map<string, unknown>([['bytes', 12n ** 40n]]));
    odd.progress(new Date(Date.UTC(2030, 0, 1)));

    const answer = await http(harness.url('api/snapshot'));
    expect(answer.status).toBe(200);
    const [first, second] = answer.json.tasks;
    expect(first.name.length).toBeLessThan(300);
    expect(first.name).toContain(`${TRUNCATION_MARKER}99803 chars]`);
    expect(first.progress).toEqual({ $map: [['bytes', `${12n ** 40n}n`]] });
    expect(second.name).toBe('tab\there\u0000nul\u2028line</script>');
    expect(second.progress).toBe('2030-01-01T00:00:00.000Z');
    // Control characters travel escaped, never raw.
    expect(answer.body).toContain('\\u0000');
    big.finish();
    odd.finish();
  });

  it('lists at most maxTasks tasks and counts the rest', async () => {
    await using harness = await Harness.start({ inspector: { maxTasks: 2 } });
    const tasks = [1, 2, 3].map((i) => harness.driven('job-1', { executionId: `t${i}` }));
    await Promise.all(tasks.map((task) => task.running()));
    const { json } = await http(harness.url('api/snapshot'));
    expect(json.tasks.map((task: { executionId: string }) => task.executionId)).toEqual(['t1', 't2']);
    expect(json.tasksOmitted).toBe(1);
    for (const task of tasks) task.finish();
  });

  it('remembers ended tasks with their final state and error message', async () => {
    await using harness = await Harness.start({ inspector: { recentTasks: 2 } });
    const failing = harness.driven('job-1', { name: 'fails', executionId: 'f1' });
    await failing.running();
    failing.fail(new TypeError('disk <full>'));
    await failing.task.done;
    const finishing = harness.driven('job-1', { name: 'ok', executionId: 'ok1' });
    await finishing.running();
    finishing.finish(1);
    await finishing.task.done;

    const { json } = await http(harness.url('api/snapshot'));
    expect(json.recent).toEqual([
      expect.objectContaining({
        executionId: 'f1',
        name: 'fails',
        state: 'FAILED',
        error: { name: 'TypeError', message: 'disk <full>' },
      }),
      expect.objectContaining({ executionId: 'ok1', state: 'FINISHED', cancellationRequested: false }),
    ]);
    expect(json.recent[1].error).toBeUndefined();
  });
});

describe('routes', () => {
  it('serves the page, its script and stylesheet under the strict CSP', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN } });
    const page = await http(harness.url());
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).toContain('<script src="/inspector.js" defer></script>');
    // No inline script or style, and the token is in no page the server sends.
    expect(page.body).not.toMatch(/<script>|<style|style=/);
    expect(page.body).not.toContain(TOKEN);
    const script = await http(harness.url('inspector.js'));
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).not.toContain(TOKEN);
    expect(script.body).not.toContain('innerHTML');
    expect((await http(harness.url('inspector.css'))).headers['content-type']).toBe(
      'text/css; charset=utf-8',
    );
    const head = await http(harness.url(), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('answers 404 JSON for an unknown route and 405 JSON (with Allow) for a wrong method', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN } });
    for (const path of [
      'nope',
      'api',
      'api/snapshot/x',
      '../etc/passwd',
      'api/tasks/x/cancel/more',
      'index.html',
    ]) {
      const answer = await http(harness.url(path));
      expect(answer.status, path).toBe(404);
      expect(answer.json.error.code).toBe(ApiErrorCode.NOT_FOUND);
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    }
    const cases: Array<[string, string, string]> = [
      ['POST', 'api/snapshot', 'GET, HEAD'],
      ['DELETE', '', 'GET, HEAD'],
      ['POST', 'api/events', 'GET'],
      ['GET', 'api/tasks/x/cancel', 'POST'],
      ['PUT', 'api/jobs/x/cancel', 'POST'],
      ['OPTIONS', 'api/tasks/x/cancel', 'POST'],
    ];
    for (const [method, path, allowed] of cases) {
      const answer = await http(harness.url(path), { method, headers: bearer(TOKEN) });
      expect(answer.status, `${method} /${path}`).toBe(405);
      expect(answer.json.error.code).toBe(ApiErrorCode.METHOD_NOT_ALLOWED);
      expect(answer.headers.allow).toBe(allowed);
      // A CORS preflight is never granted.
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('refuses a Host it does not serve with 421 (DNS rebinding), accepts the loopback names', async () => {
    await using harness = await Harness.start();
    const port = harness.inspector.port;
    const rebound = await http(harness.url('api/snapshot'), {
      headers: { Host: `attacker.example:${port}` },
    });
    expect(rebound.status).toBe(421);
    expect(rebound.json.error.code).toBe(ApiErrorCode.HOST_NOT_ALLOWED);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `LOCALHOST:${port}`, '127.0.0.1']) {
      expect((await http(harness.url('api/snapshot'), { headers: { Host: host } })).status, host).toBe(200);
    }
  });

  it('serves the names given in allowedHosts', async () => {
    await using harness = await Harness.start({ inspector: { allowedHosts: ['inspector.test'] } });
    const port = harness.inspector.port;
    expect(
      (await http(harness.url('api/snapshot'), { headers: { Host: `inspector.test:${port}` } })).status,
    ).toBe(200);
    expect((await http(harness.url('api/snapshot'), { headers: { Host: `localhost:${port}` } })).status).toBe(
      421,
    );
  });
});

describe('cancel endpoints: token rules', () => {
  it('answers 403 READ_ONLY when the inspector has no token, whatever the request carries', async () => {
    await using harness = await Harness.start();
    const job = harness.driven('job-1', { executionId: 'exec-1' });
    await job.running();
    for (const path of ['api/tasks/exec-1/cancel', 'api/jobs/job-1/cancel', 'api/tasks/unknown/cancel']) {
      const answer = await http(harness.url(path), { method: 'POST', headers: bearer('anything') });
      expect(answer.status, path).toBe(403);
      expect(answer.json.error.code).toBe(ApiErrorCode.READ_ONLY);
    }
    expect(job.task.state).toBe('RUNNING');
    job.finish();
  });

  it('answers 401 without a token, with a wrong one, or with another scheme; the task keeps running', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN } });
    const job = harness.driven('job-1', { executionId: 'exec-1' });
    await job.running();
    const attempts: Array<Record<string, string>> = [
      {},
      bearer('wrong'),
      bearer(`${TOKEN}x`),
      bearer(TOKEN.slice(0, -1)),
      { Authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` },
      { Authorization: TOKEN },
      { Authorization: `Bearer ${TOKEN} extra` },
    ];
    for (const headers of attempts) {
      for (const path of ['api/tasks/exec-1/cancel', 'api/jobs/job-1/cancel', 'api/tasks/unknown/cancel']) {
        const answer = await http(harness.url(path), { method: 'POST', headers });
        expect(answer.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(answer.json.error.code).toBe(ApiErrorCode.UNAUTHORIZED);
        expect(answer.headers['www-authenticate']).toBe('Bearer realm="taskwarden-inspector"');
      }
    }
    expect(job.task.state).toBe('RUNNING');
    expect(job.task.cancellationRequested).toBe(false);
    job.finish();
  });

  it('answers 404 JSON for an unknown task or job once the token is right', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN } });
    for (const path of ['api/tasks/no-such-task/cancel', 'api/jobs/no-such-job/cancel']) {
      const answer = await http(harness.url(path), { method: 'POST', headers: bearer(TOKEN) });
      expect(answer.status, path).toBe(404);
      expect(answer.json.error.code).toBe(ApiErrorCode.NOT_FOUND);
    }
    const bad = await http(harness.url('api/tasks/%E0%A4%A/cancel'), {
      method: 'POST',
      headers: bearer(TOKEN),
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe(ApiErrorCode.BAD_REQUEST);
  });

  it('cancels a task with the right token (202), which then ends CANCELED', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN } });
    const job = harness.driven('job-1', { executionId: 'exec/1 ü' });
    await job.running();
    const answer = await http(harness.url(`api/tasks/${encodeURIComponent('exec/1 ü')}/cancel`), {
      method: 'POST',
      headers: { authorization: `bearer ${TOKEN}` }, // the scheme is case-insensitive
    });
    expect(answer.status).toBe(202);
    expect(answer.json).toEqual({ executionId: 'exec/1 ü', state: 'CANCELING', cancellationRequested: true });
    expect((await job.task.done).state).toBe('CANCELED');
    expect(harness.logLines).toContainEqual(
      expect.objectContaining({ msg: 'inspector: task cancel requested', executionId: 'exec/1 ü' }),
    );
  });

  it('cancels a job with the right token (202) without waiting for it; its tasks end CANCELED', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN } });
    const first = harness.driven('job-1');
    const second = harness.driven('job-1');
    const other = harness.driven('job-2');
    await Promise.all([first.running(), second.running(), other.running()]);
    const answer = await http(harness.url('api/jobs/job-1/cancel'), {
      method: 'POST',
      headers: bearer(TOKEN),
    });
    expect(answer.status).toBe(202);
    expect(answer.json).toEqual({ jobId: 'job-1', state: 'CANCELING' });
    expect((await first.task.done).state).toBe('CANCELED');
    expect((await second.task.done).state).toBe('CANCELED');
    expect(other.task.state).toBe('RUNNING');
    other.finish();
  });

  it('refuses cross-site cancel requests (Origin or Sec-Fetch-Site) even with the right token', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN } });
    const job = harness.driven('job-1', { executionId: 'exec-1' });
    await job.running();
    const own = `http://127.0.0.1:${harness.inspector.port}`;
    const crossSite: Array<Record<string, string>> = [
      { Origin: 'http://attacker.example' },
      { Origin: 'null' },
      { Origin: `http://127.0.0.1:${harness.inspector.port + 1}` },
      { 'Sec-Fetch-Site': 'cross-site' },
      { 'Sec-Fetch-Site': 'same-site' },
      { 'Sec-Fetch-Site': 'cross-site', Origin: own },
    ];
    for (const headers of crossSite) {
      const answer = await http(harness.url('api/tasks/exec-1/cancel'), {
        method: 'POST',
        headers: { ...bearer(TOKEN), ...headers },
      });
      expect(answer.status, JSON.stringify(headers)).toBe(403);
      expect(answer.json.error.code).toBe(ApiErrorCode.CROSS_SITE);
    }
    expect(job.task.cancellationRequested).toBe(false);
    // The page's own request (same origin) goes through.
    const same = await http(harness.url('api/tasks/exec-1/cancel'), {
      method: 'POST',
      headers: { ...bearer(TOKEN), Origin: own, 'Sec-Fetch-Site': 'same-origin' },
    });
    expect(same.status).toBe(202);
    await job.task.done;
  });

  it('refuses a cancel request with a body (413) and leaves the task alone', async () => {
    await using harness = await Harness.start({ inspector: { token: TOKEN } });
    const job = harness.driven('job-1', { executionId: 'exec-1' });
    await job.running();
    const answer = await http(harness.url('api/tasks/exec-1/cancel'), {
      method: 'POST',
      headers: { ...bearer(TOKEN), 'Content-Type': 'application/json' },
      body: '{"force":true}',
    });
    expect(answer.status).toBe(413);
    expect(answer.json.error.code).toBe(ApiErrorCode.BODY_NOT_ALLOWED);
    await until(() => job.task.state === 'RUNNING', 'the task to be untouched');
    expect(job.task.cancellationRequested).toBe(false);
    job.finish();
  });
});
