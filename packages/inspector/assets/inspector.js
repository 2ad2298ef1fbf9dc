// The taskwarden inspector page. Plain browser JavaScript, no build step, no network but its own
// origin. Everything shown comes from user code (task names, error messages, stacks), so the page
// builds its DOM with createElement and textContent only: no HTML string is ever parsed.
(() => {
  const TOKEN_KEY = 'taskwarden-inspector-token';
  const TERMINAL = new Set(['FINISHED', 'CANCELED', 'FAILED']);
  const STATES = new Set([
    'CREATED',
    'DEPLOYING',
    'INITIALIZING',
    'RUNNING',
    'FINISHED',
    'CANCELING',
    'CANCELED',
    'FAILED',
  ]);
  const SLOT_STATES = new Set(['FREE', 'ALLOCATED', 'ACTIVE', 'RELEASING']);
  /** How long an ended task stays in the live table (dimmed) before it leaves for "recently ended". */
  const ENDED_LINGER_MS = 2_000;
  const RECENT_MAX = 50;

  const model = {
    health: '…',
    mutations: 'disabled',
    offsetMs: 0, // browser clock minus server clock
    tasks: new Map(),
    tasksOmitted: 0,
    slots: new Map(),
    jobs: new Map(),
    recent: [],
    executors: {},
    agents: undefined,
    agentsError: undefined,
    connection: 'connecting',
  };

  // ---- the token: from the URL fragment (never sent to the server) or the token field ----

  let memoryToken;
  function readToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
    } catch {
      return memoryToken;
    }
  }
  function storeToken(token) {
    memoryToken = token;
    try {
      if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
      else sessionStorage.setItem(TOKEN_KEY, token);
    } catch {
      /* storage disabled: the token lives in this page only */
    }
  }
  /**
   * `#token=…` (percent-encoded where the token holds `%`, `&` or `#`). Parsed by hand: URLSearchParams
   * would turn a `+` of a base64 token into a space.
   */
  function takeTokenFromFragment() {
    const parts = location.hash.slice(1).split('&');
    const index = parts.findIndex((part) => part.startsWith('token='));
    if (index === -1) return;
    let token;
    try {
      token = decodeURIComponent(parts[index].slice('token='.length));
    } catch {
      token = '';
    }
    if (token.length > 0) storeToken(token);
    parts.splice(index, 1);
    const rest = parts.join('&');
    // Out of the address bar (and of screenshots, shared screens and the history).
    history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
  }

  // ---- DOM helpers: properties only, never markup ----

  const $ = (selector) => document.querySelector(selector);
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function setText(node, text) {
    const value = String(text);
    if (node.textContent !== value) node.textContent = value;
  }
  function stateClass(state) {
    return STATES.has(state) ? `state state-${state}` : 'state';
  }

  function formatDuration(ms) {
    if (!Number.isFinite(ms) || ms < 0) return '–';
    if (ms < 1_000) return `${Math.round(ms)} ms`;
    if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
    const minutes = Math.floor(ms / 60_000);
    const seconds = Math.floor((ms % 60_000) / 1_000);
    if (minutes < 60) return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
  }
  function formatTime(ms) {
    if (!Number.isFinite(ms)) return '–';
    const date = new Date(ms);
    return [date.getHours(), date.getMinutes(), date.getSeconds()]
      .map((n) => String(n).padStart(2, '0'))
      .join(':');
  }
  function serverNow() {
    return Date.now() - model.offsetMs;
  }
  function describeProgress(progress) {
    if (progress === null || progress === undefined) return undefined;
    if (typeof progress === 'string') return progress;
    try {
      return JSON.stringify(progress);
    } catch {
      return String(progress);
    }
  }
  /** A stack frame with its location cut to the file name: `at spin (spin.mjs:5:3)`. */
  function shortFrame(frame) {
    return frame.replace(/\((?:[a-z]+:\/\/)?[^()]*[\\/]([^\\/()]+:\d+:\d+)\)$/, '($1)');
  }
  /** The first "at …" line of a stack: where the work is stuck. */
  function firstFrame(stack) {
    if (typeof stack !== 'string') return undefined;
    for (const line of stack.split('\n')) {
      const trimmed = line.trim();
      if (trimmed.startsWith('at ')) return trimmed;
    }
    return undefined;
  }
  function ladderText(ladder) {
    switch (ladder.stage) {
      case 'signal':
        return 'signal sent';
      case 'interrupt':
        return `interrupted ${ladder.interrupts}×`;
      case 'hard_stop':
        return 'hard stop';
      case 'watchdog':
        return 'watchdog gave up';
      default:
        return String(ladder.stage);
    }
  }

  let notices = 0;
  function notice(text, isError) {
    const node = $('#notice');
    node.textContent = text;
    node.className = isError ? 'error' : '';
    const mine = ++notices;
    setTimeout(() => {
      if (mine === notices) node.textContent = '';
    }, 8_000);
  }

  // ---- applying what the server sends ----

  function applySnapshot(snapshot) {
    model.offsetMs = Date.now() - snapshot.takenAt;
    model.health = snapshot.health;
    model.mutations = snapshot.mutations;
    model.tasks = new Map();
    for (const task of snapshot.tasks) model.tasks.set(task.executionId, task);
    model.tasksOmitted = snapshot.tasksOmitted;
    model.slots = new Map();
    for (const slot of snapshot.slots) model.slots.set(slot.index, slot);
    model.jobs = new Map();
    for (const job of snapshot.jobs) model.jobs.set(job.jobId, { jobId: job.jobId, state: job.state });
    model.recent = snapshot.recent.slice().reverse();
    model.executors = snapshot.executors;
    if ('agents' in snapshot || 'agentsError' in snapshot) applyAgents(snapshot);
  }

  function applyAgents(data) {
    model.agents = data.agents;
    model.agentsError = data.agentsError;
  }

  function endTask(task, state, at, cause) {
    task.state = state;
    task.endedAt = at;
    const ended = {
      executionId: task.executionId,
      jobId: task.jobId,
      name: task.name,
      executor: task.executor,
      state,
      endedAt: at,
      cancellationRequested: task.cancellationRequested,
    };
    if (cause) ended.error = cause;
    model.recent.unshift(ended);
    if (model.recent.length > RECENT_MAX) model.recent.length = RECENT_MAX;
    setTimeout(() => {
      if (model.tasks.get(task.executionId) === task) {
        model.tasks.delete(task.executionId);
        invalidate();
      }
    }, ENDED_LINGER_MS);
  }

  const handlers = {
    taskStateChanged(event) {
      let task = model.tasks.get(event.executionId);
      if (TERMINAL.has(event.to)) {
        if (task === undefined) {
          task = { ...event, state: event.to, submittedAt: event.at, progress: null };
          model.tasks.set(event.executionId, task);
        }
        task.cancellationRequested = event.cancellationRequested;
        endTask(task, event.to, event.at, event.cause);
        return;
      }
      if (task === undefined) {
        task = {
          executionId: event.executionId,
          jobId: event.jobId,
          allocationId: event.allocationId,
          name: event.name,
          executor: event.executor,
          state: event.to,
          submittedAt: event.at,
          progress: null,
          cancellationRequested: event.cancellationRequested,
        };
        model.tasks.set(event.executionId, task);
      }
      task.state = event.to;
      task.cancellationRequested = event.cancellationRequested;
      if (!model.jobs.has(event.jobId)) model.jobs.set(event.jobId, { jobId: event.jobId, state: 'RUNNING' });
    },
    taskProgress(event) {
      const task = model.tasks.get(event.executionId);
      if (task) task.progress = event.progress;
    },
    taskCancellationStage(event) {
      const task = model.tasks.get(event.executionId);
      if (!task) return;
      const ladder = task.ladder ?? {
        stage: event.stage,
        requestedAt: event.at - event.elapsedMs,
        interrupts: 0,
      };
      ladder.stage = event.stage;
      if (event.stage === 'interrupt') ladder.interrupts += 1;
      task.ladder = ladder;
    },
    taskStuck(event) {
      const task = model.tasks.get(event.executionId);
      if (!task) return;
      task.ladder ??= { stage: 'interrupt', requestedAt: event.at - event.elapsedMs, interrupts: 0 };
      task.ladder.lastStuck = { elapsedMs: event.elapsedMs, diagnostics: event.diagnostics };
    },
    slotStateChanged(event) {
      model.slots.set(
        event.index,
        event.to === 'FREE'
          ? { index: event.index, state: 'FREE' }
          : { index: event.index, state: event.to, allocationId: event.allocationId, jobId: event.jobId },
      );
    },
    jobStateChanged(event) {
      if (event.to === 'CANCELED') model.jobs.delete(event.jobId);
      else model.jobs.set(event.jobId, { jobId: event.jobId, state: event.to });
    },
    fatalError(event) {
      model.health = 'fatal';
      notice(`fatal error: ${event.error.name}: ${event.error.message}`, true);
    },
    agents(event) {
      applyAgents(event);
    },
    snapshot(event) {
      applySnapshot(event);
    },
  };

  // ---- the event stream ----

  let source;
  function connect() {
    source = new EventSource('/api/events');
    source.addEventListener('open', () => {
      model.connection = 'live';
      invalidate();
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (503: too many streams) or the server is gone: try again later, from a fresh snapshot.
        model.connection = 'disconnected';
        setTimeout(connect, 5_000);
      } else {
        model.connection = 'reconnecting';
      }
      invalidate();
    });
    for (const [name, handler] of Object.entries(handlers)) {
      source.addEventListener(name, (message) => {
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        handler(data);
        invalidate();
      });
    }
  }

  // ---- cancelling (only with a token) ----

  async function post(path, what) {
    const token = readToken();
    if (token === undefined) {
      notice('paste the token first', true);
      return;
    }
    let response;
    try {
      response = await fetch(path, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (error) {
      notice(`could not send the cancel request: ${error.message}`, true);
      return;
    }
    let body;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    if (response.status === 401) {
      storeToken(undefined);
      // The lock shows in the same frame as the notice that explains it.
      renderHeader();
      notice('the token was refused; paste it again', true);
    } else if (!response.ok) {
      notice(`cancel refused (${response.status}): ${body?.error?.message ?? response.statusText}`, true);
    } else {
      notice(`cancel requested: ${what}`);
    }
    invalidate();
  }

  function cancelButton(className, label) {
    const button = el('button', `${className} danger`, label);
    button.type = 'button';
    return button;
  }

  // ---- rendering ----

  let scheduled = false;
  function invalidate() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(render, 16);
  }

  /** Keeps `tbody`'s rows in the order of `items`, reusing each item's row. */
  function reconcile(tbody, items, key, create, update) {
    const rows = new Map();
    for (const row of tbody.children) rows.set(row.dataset.key, row);
    let index = 0;
    for (const item of items) {
      const id = key(item);
      let row = rows.get(id);
      if (row === undefined) {
        row = create(item);
        row.dataset.key = id;
      }
      rows.delete(id);
      update(row, item);
      if (tbody.children[index] !== row) tbody.insertBefore(row, tbody.children[index] ?? null);
      index += 1;
    }
    for (const row of rows.values()) row.remove();
  }

  function renderHeader() {
    const health = $('#health');
    setText(health, `health: ${model.health}`);
    health.className = `badge ${model.health === 'running' ? 'good' : model.health === 'fatal' ? 'bad' : 'warn'}`;
    const connection = $('#connection');
    setText(connection, model.connection);
    connection.className = `badge ${model.connection === 'live' ? 'good' : 'warn'}`;

    const token = readToken();
    const form = $('#token-form');
    const forget = $('#forget-token');
    const access = $('#access-state');
    if (model.mutations !== 'token') {
      setText(access, 'read-only (started without a token)');
      form.hidden = true;
      forget.hidden = true;
    } else if (token === undefined) {
      setText(access, 'cancel locked');
      form.hidden = false;
      forget.hidden = true;
    } else {
      setText(access, 'cancel enabled');
      form.hidden = true;
      forget.hidden = false;
    }
  }

  function renderSlots() {
    const container = $('#slots');
    const slots = [...model.slots.values()].sort((a, b) => a.index - b.index);
    const counts = {};
    for (const slot of slots) counts[slot.state] = (counts[slot.state] ?? 0) + 1;
    setText(
      $('#slots-summary'),
      Object.entries(counts)
        .map(([state, count]) => `${count} ${state}`)
        .join(' · '),
    );
    reconcile(
      container,
      slots,
      (slot) => String(slot.index),
      () => {
        const card = el('div', 'slot');
        card.append(
          el('span', 'index'),
          el('span', 'slot-state'),
          el('div', 'slot-job'),
          el('div', 'slot-allocation'),
        );
        return card;
      },
      (card, slot) => {
        card.className = `slot ${SLOT_STATES.has(slot.state) ? `slot-${slot.state}` : ''}`;
        const [index, state, job, allocation] = card.children;
        setText(index, `#${slot.index}`);
        setText(state, slot.state);
        setText(job, slot.jobId ? `job ${slot.jobId}` : '');
        setText(allocation, slot.allocationId ? slot.allocationId : '');
        job.title = slot.jobId ?? '';
        allocation.title = slot.allocationId ?? '';
      },
    );
  }

  function createTaskRow() {
    const row = el('tr');
    row.append(
      el('td', 'name'),
      el('td', 'executor'),
      el('td', 'id job'),
      el('td'),
      el('td', 'num elapsed'),
      el('td', 'progress-cell'),
      el('td', 'ladder'),
      el('td', 'actions'),
    );
    row.cells[3].append(el('span', 'state'));
    return row;
  }

  function renderProgress(cell, progress) {
    const ratio = typeof progress === 'number' && progress >= 0 && progress <= 1 ? progress : undefined;
    const text = ratio === undefined ? describeProgress(progress) : undefined;
    const kind = ratio !== undefined ? 'bar' : text !== undefined ? 'text' : 'none';
    if (cell.dataset.kind !== kind) {
      cell.replaceChildren();
      cell.dataset.kind = kind;
      if (kind === 'bar') cell.append(el('progress'), el('span', 'progress-text'));
      if (kind === 'text') cell.append(el('span', 'progress-value'));
    }
    if (kind === 'bar') {
      const [bar, label] = cell.children;
      bar.max = 1;
      bar.value = ratio;
      setText(label, `${Math.round(ratio * 100)}%`);
    } else if (kind === 'text') {
      setText(cell.firstChild, text);
    }
  }

  /**
   * The ladder cell keeps its elements and only changes their text, so an opened stack stays open
   * (and clickable) while the interrupter reports every few hundred milliseconds.
   */
  function renderLadder(cell, task) {
    if (cell.childElementCount === 0) {
      const details = el('details', 'stack');
      details.append(el('summary', undefined, 'stack'), el('pre'));
      cell.append(el('span', 'stage'), el('span', 'stuck'), el('span', 'stuck-at'), details);
    }
    const [stage, stuckText, stuckAt, details] = cell.children;
    const ladder = task.ladder;
    const stuck = ladder?.lastStuck;
    setText(stage, ladder ? ladderText(ladder) : task.cancellationRequested ? 'requested' : '');
    setText(stuckText, stuck ? ` · stuck ${formatDuration(stuck.elapsedMs)}` : '');
    const frame = firstFrame(stuck?.diagnostics);
    setText(stuckAt, frame === undefined ? '' : shortFrame(frame));
    stuckAt.title = frame ?? '';
    stuckAt.hidden = frame === undefined;
    details.hidden = !stuck?.diagnostics;
    setText(details.lastChild, stuck?.diagnostics ?? '');
  }

  function renderTasks() {
    const tbody = $('#tasks tbody');
    const tasks = [...model.tasks.values()].sort((a, b) => a.submittedAt - b.submittedAt);
    const now = serverNow();
    const live = tasks.filter((task) => !TERMINAL.has(task.state)).length;
    setText(
      $('#tasks-summary'),
      `${live} live${model.tasksOmitted > 0 ? `, ${model.tasksOmitted} more not listed` : ''}`,
    );
    $('#tasks-empty').hidden = tasks.length > 0;
    const canCancel = model.mutations === 'token';
    const hasToken = readToken() !== undefined;
    reconcile(
      tbody,
      tasks,
      (task) => task.executionId,
      createTaskRow,
      (row, task) => {
        row.dataset.executionId = task.executionId;
        row.dataset.state = task.state;
        row.classList.toggle('ended', TERMINAL.has(task.state));
        const [name, executor, job, state, elapsed, progress, ladder, actions] = row.cells;
        setText(name, task.name);
        name.title = task.executionId;
        setText(executor, task.executor);
        setText(job, task.jobId);
        const badge = state.firstChild;
        setText(badge, task.state);
        badge.className = stateClass(task.state);
        setText(elapsed, formatDuration((task.endedAt ?? now) - task.submittedAt));
        renderProgress(progress, task.progress);
        renderLadder(ladder, task);
        if (!canCancel) {
          actions.replaceChildren();
          return;
        }
        let button = actions.firstChild;
        if (!button) {
          button = cancelButton('cancel-task', 'cancel');
          actions.append(button);
        }
        button.disabled = !hasToken || task.cancellationRequested || TERMINAL.has(task.state);
        button.title = hasToken ? 'cancel this task' : 'paste the token to cancel';
      },
    );
  }

  function renderJobs() {
    const live = new Map();
    for (const task of model.tasks.values()) {
      if (!TERMINAL.has(task.state)) live.set(task.jobId, (live.get(task.jobId) ?? 0) + 1);
    }
    for (const [jobId, job] of model.jobs) {
      if (job.state === 'RUNNING' && !live.has(jobId) && model.tasksOmitted === 0) model.jobs.delete(jobId);
    }
    const jobs = [...model.jobs.values()].sort((a, b) =>
      a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0,
    );
    $('#jobs-empty').hidden = jobs.length > 0;
    const canCancel = model.mutations === 'token';
    const hasToken = readToken() !== undefined;
    reconcile(
      $('#jobs tbody'),
      jobs,
      (job) => job.jobId,
      () => {
        const row = el('tr');
        row.append(el('td', 'id'), el('td'), el('td', 'num'), el('td', 'actions'));
        row.cells[1].append(el('span', 'state'));
        return row;
      },
      (row, job) => {
        row.dataset.jobId = job.jobId;
        const [id, state, count, actions] = row.cells;
        setText(id, job.jobId);
        setText(state.firstChild, job.state);
        state.firstChild.className = stateClass(job.state);
        setText(count, live.get(job.jobId) ?? 0);
        if (!canCancel) {
          actions.replaceChildren();
          return;
        }
        let button = actions.firstChild;
        if (!button) {
          button = cancelButton('cancel-job', 'cancel job');
          actions.append(button);
        }
        button.disabled = !hasToken || job.state !== 'RUNNING';
      },
    );
  }

  function renderRecent() {
    $('#recent-empty').hidden = model.recent.length > 0;
    reconcile(
      $('#recent tbody'),
      model.recent,
      (item) => `${item.executionId}@${item.endedAt}`,
      () => {
        const row = el('tr');
        row.append(el('td', 'name'), el('td'), el('td', 'num'), el('td', 'error'));
        row.cells[1].append(el('span', 'state'));
        return row;
      },
      (row, item) => {
        row.dataset.executionId = item.executionId;
        const [name, state, ended, error] = row.cells;
        setText(name, item.name);
        name.title = `${item.executionId} · ${item.executor} · job ${item.jobId}`;
        setText(state.firstChild, item.state);
        state.firstChild.className = stateClass(item.state);
        setText(ended, formatTime(item.endedAt + model.offsetMs));
        setText(error, item.error ? `${item.error.name}: ${item.error.message}` : '');
      },
    );
  }

  function renderAgents() {
    const section = $('#agents-section');
    section.hidden = model.agents === undefined && model.agentsError === undefined;
    const error = $('#agents-error');
    error.hidden = model.agentsError === undefined;
    setText(error, model.agentsError ? `agents unavailable: ${model.agentsError}` : '');
    reconcile(
      $('#agents tbody'),
      model.agents ?? [],
      (agent) => agent.name,
      () => {
        const row = el('tr');
        row.append(el('td', 'name'), el('td', 'id'), el('td', 'num'), el('td', 'num'), el('td', 'id'));
        return row;
      },
      (row, agent) => {
        row.dataset.agent = agent.name;
        const [name, queue, load, lease, tasks] = row.cells;
        setText(name, agent.name);
        setText(queue, agent.queue);
        setText(load, `${agent.running ?? '?'} / ${agent.capacity ?? '?'}`);
        setText(lease, agent.leaseAgeMs === null ? '?' : formatDuration(agent.leaseAgeMs));
        setText(
          tasks,
          agent.tasks.join(', ') + (agent.tasksOmitted > 0 ? ` +${agent.tasksOmitted} more` : '') || '–',
        );
      },
    );
  }

  function renderExecutors() {
    const entries = Object.entries(model.executors).map(([key, executor]) => ({ key, ...executor }));
    reconcile(
      $('#executors tbody'),
      entries,
      (entry) => entry.key,
      () => {
        const row = el('tr');
        row.append(el('td', 'id'), el('td'), el('td'), el('td'), el('td'));
        return row;
      },
      (row, entry) => {
        const capabilities =
          entry.capabilities && typeof entry.capabilities === 'object' ? entry.capabilities : {};
        const [key, name, isolation, hardStop, diagnostics] = row.cells;
        setText(key, entry.key);
        setText(name, entry.name);
        setText(isolation, capabilities.isolation ?? '?');
        setText(hardStop, capabilities.hardStop === true ? 'yes' : 'no');
        setText(diagnostics, capabilities.diagnostics === true ? 'yes' : 'no');
      },
    );
  }

  function render() {
    scheduled = false;
    renderHeader();
    renderSlots();
    renderTasks();
    renderJobs();
    renderRecent();
    renderAgents();
    renderExecutors();
  }

  // ---- wiring ----

  function start() {
    takeTokenFromFragment();
    $('#token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = $('#token-input');
      const token = input.value.trim();
      input.value = '';
      if (token.length > 0) storeToken(token);
      invalidate();
    });
    $('#forget-token').addEventListener('click', () => {
      storeToken(undefined);
      invalidate();
    });
    $('#tasks tbody').addEventListener('click', (event) => {
      const button = event.target.closest('button.cancel-task');
      const id = button?.closest('tr')?.dataset.executionId;
      if (id !== undefined) void post(`/api/tasks/${encodeURIComponent(id)}/cancel`, `task ${id}`);
    });
    $('#jobs tbody').addEventListener('click', (event) => {
      const button = event.target.closest('button.cancel-job');
      const id = button?.closest('tr')?.dataset.jobId;
      if (id !== undefined) void post(`/api/jobs/${encodeURIComponent(id)}/cancel`, `job ${id}`);
    });
    setInterval(invalidate, 1_000); // elapsed times
    connect();
    invalidate();
  }

  start();
})();
