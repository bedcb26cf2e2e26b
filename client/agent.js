const GWS_CONFIG = Object.assign({ adminUrl: location.origin + '/__admin', apikey: 'N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44' }, window.GWS_CONFIG || {});
// Configuration (the line above): edit it when you serve the console from elsewhere, or assign
// window.GWS_CONFIG = {...} in a script that runs before this one (not `var`/`const GWS_CONFIG`).
//   adminUrl    the emulator's admin API, e.g. 'http://127.0.0.1:8888/__admin'
//   apikey      sent as the `apikey` header on every call (the admin API does not check it)
//   adminToken  optional: the token of an emulator started with --admin-token (without it the
//               console asks for the token when the emulator wants one, and keeps it for the tab)

// GWS Emulator agent console: play the contact centre in `--agent-mode manual`.
// Plain ES2020, no third-party code; agent.html loads chat-core.js (the code shared with the
// customer widget) before this script. Every text from the server goes in with textContent.
//
// It lives on the emulator's Server-Sent Event streams, read with fetch() (EventSource cannot send
// the admin token): /__admin/events for the chat list, /__admin/chats/{id}/events for the open
// chat. Nothing is polled: the list is read once per connection of its stream, and a stream that
// ends (the server cut it off, or stopped) is opened again, the chat's with Last-Event-ID so that
// no line is lost or drawn twice.
(() => {
  'use strict';

  if (!window.GwsChat) throw new Error('agent.js needs chat-core.js, loaded before it');
  const { STATES, REQUEST_TIMEOUT_MS, ApiError, backoff, createClient, createChatView, node, setText, formatTime, agentName } =
    window.GwsChat;

  const STATE_WORDS = { WaitingForAgent: 'Waiting', Chatting: 'Chatting', Idle: 'Ended' };
  const TOKEN_KEY = 'gws-emulator.admin-token';
  /** A stream that has sent nothing this long (the server sends a keep-alive every 15 s) is dead. */
  const STALL_MS = 45000;
  /** How long after new lines the agent's read cursor is moved (one read for a burst of lines). */
  const MARK_READ_MS = 250;
  /** How long after an event of the open chat its requests are read again (a burst: one read). */
  const REQUESTS_REFRESH_MS = 400;
  /** How long the stream of an ended chat stays open for the last lines of its end. */
  const IDLE_STREAM_MS = 1500;

  const $ = (id) => document.getElementById(id);
  const ui = {
    tokenPanel: $('token-panel'),
    tokenForm: $('token-form'),
    tokenMessage: $('token-message'),
    tokenInput: $('admin-token'),
    filter: $('state-filter'),
    listStatus: $('list-status'),
    chats: $('chats'),
    placeholder: $('placeholder'),
    pane: $('chat-pane'),
    nickname: $('chat-nickname'),
    subject: $('chat-subject'),
    scenario: $('agent-scenario'),
    state: $('agent-state'),
    agentNickname: $('agent-nickname'),
    join: $('join'),
    leave: $('leave'),
    complete: $('complete'),
    scenarioForm: $('scenario-form'),
    scenarioSelect: $('scenario-select'),
    scenarioSwitch: $('scenario-switch'),
    error: $('agent-error'),
    connection: $('agent-connection'),
    tabTranscript: $('tab-transcript'),
    tabRequests: $('tab-requests'),
    transcriptView: $('transcript-view'),
    requestsView: $('requests-view'),
    transcript: $('agent-transcript'),
    typing: $('customer-typing'),
    compose: $('agent-compose'),
    message: $('agent-message'),
    send: $('agent-send'),
    pushForm: $('push-url-form'),
    pushValue: $('push-url-value'),
    push: $('push-url'),
    noticeForm: $('notice-form'),
    noticeText: $('notice-text'),
    notice: $('notice'),
    requestsStatus: $('requests-status'),
    requestsRefresh: $('requests-refresh'),
    requests: $('requests'),
  };

  /** The chat open on the right, or null. */
  let cur = null;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---------------------------------------------------------------- the admin token

  const auth = { token: loadToken(), asking: null, resolve: null };

  function loadToken() {
    try {
      const saved = sessionStorage.getItem(TOKEN_KEY);
      if (saved) return saved;
    } catch (e) {
      /* storage unavailable: the token lives as long as the page */
    }
    return typeof GWS_CONFIG.adminToken === 'string' ? GWS_CONFIG.adminToken : '';
  }

  function saveToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      /* ignore */
    }
  }

  /**
   * A request sent with `refused` as its token was answered 401/3: asks for the token (one form,
   * however many requests wait) and resolves once one is entered. A token already replaced since
   * that request went out is not asked for again.
   */
  function askToken(refused) {
    if (auth.token !== refused) return Promise.resolve();
    if (!auth.asking) {
      auth.asking = new Promise((resolve) => {
        auth.resolve = resolve;
      });
      const wrong = !!refused;
      if (wrong) saveToken('');
      setText(
        ui.tokenMessage,
        wrong
          ? 'The emulator refused that token. Enter the token it was started with (--admin-token).'
          : 'This emulator was started with --admin-token: enter that token to use the console.',
      );
      ui.tokenMessage.dataset.kind = wrong ? 'refused' : 'asked';
      ui.tokenPanel.hidden = false;
      setBehindDialog(true);
      ui.tokenInput.value = '';
      ui.tokenInput.setAttribute('aria-invalid', String(wrong));
      ui.tokenInput.focus();
      setText(ui.listStatus, 'Waiting for the admin token…');
    }
    return auth.asking;
  }

  /** The page behind the token form cannot be reached (by focus or by a click) while it is shown. */
  function setBehindDialog(inert) {
    for (const el of document.querySelectorAll('body > header, body > main')) el.inert = inert;
  }

  function submitToken(event) {
    event.preventDefault();
    const token = ui.tokenInput.value.trim();
    if (!token) {
      setText(ui.tokenMessage, 'Enter the admin token.');
      ui.tokenInput.focus();
      return;
    }
    auth.token = token;
    saveToken(token);
    ui.tokenPanel.hidden = true;
    setBehindDialog(false);
    ui.tokenInput.value = '';
    setText(ui.listStatus, '');
    const resolve = auth.resolve;
    auth.asking = null;
    auth.resolve = null;
    if (resolve) resolve();
  }

  /**
   * fetch() for the admin API: adds `Authorization: Bearer <token>` when there is a token, and
   * when the emulator answers 401 with statusCode 3, asks for the token and sends again.
   * timeoutMs limits each attempt (0: no limit); init.signal still cancels it.
   */
  async function adminFetch(url, init = {}, timeoutMs = 0) {
    for (;;) {
      const token = auth.token;
      const headers = new Headers(init.headers || {});
      if (token) headers.set('Authorization', `Bearer ${token}`);
      const controller = new AbortController();
      const outer = init.signal;
      if (outer) {
        if (outer.aborted) controller.abort();
        else outer.addEventListener('abort', () => controller.abort(), { once: true });
      }
      // Left running after the answer: it then also limits reading the body (and is harmless).
      if (timeoutMs > 0) setTimeout(() => controller.abort(), timeoutMs);
      const res = await fetch(url, Object.assign({}, init, { headers, signal: controller.signal }));
      if (res.status !== 401) return res;
      let data = null;
      try {
        data = await res.clone().json();
      } catch (e) {
        data = null;
      }
      if (!data || data.statusCode !== 3) return res;
      await askToken(token);
      if (outer && outer.aborted) throw new DOMException('The request was cancelled.', 'AbortError');
    }
  }

  // ---------------------------------------------------------------- API and event streams

  const adminBase = String(GWS_CONFIG.adminUrl).replace(/\/+$/, '');
  const admin = createClient({
    baseUrl: adminBase,
    apikey: GWS_CONFIG.apikey,
    serverName: 'emulator',
    fetch: (url, init) => adminFetch(url, init, REQUEST_TIMEOUT_MS),
    timeoutMs: 0,
  });
  const chatPath = (id) => `/chats/${encodeURIComponent(id)}`;

  /**
   * A parser of the text/event-stream format: feed it text as it comes, it returns the events
   * completed so far as { type, data, id } (id: the last `id:` seen, as EventSource keeps it).
   */
  function createSseParser() {
    let buf = '';
    let type = '';
    let data = [];
    let lastId = null;
    const parser = { retry: null, feed };

    function line(l, out) {
      if (l === '') {
        if (data.length) out.push({ type: type || 'message', data: data.join('\n'), id: lastId });
        type = '';
        data = [];
        return;
      }
      if (l[0] === ':') return; // a comment: keep-alive, or the "fell behind" note before the end
      const colon = l.indexOf(':');
      const field = colon < 0 ? l : l.slice(0, colon);
      let value = colon < 0 ? '' : l.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) lastId = value;
      else if (field === 'retry' && /^\d+$/.test(value)) parser.retry = Number(value);
    }

    function feed(text) {
      buf += text;
      const out = [];
      let start = 0;
      for (let i = 0; i < buf.length; i++) {
        const ch = buf.charCodeAt(i);
        if (ch !== 10 && ch !== 13) continue;
        if (ch === 13 && i + 1 === buf.length) break; // a \r\n may be split between two chunks
        line(buf.slice(start, i), out);
        if (ch === 13 && buf.charCodeAt(i + 1) === 10) i += 1;
        start = i + 1;
      }
      buf = buf.slice(start);
      return out;
    }

    return parser;
  }

  /** The error of an answer that is not a stream. */
  async function answerError(res) {
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    const message =
      data && typeof data.statusMessage === 'string' && data.statusMessage
        ? data.statusMessage
        : `The emulator answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
    return new ApiError(message, {
      status: res.status,
      statusCode: data && typeof data.statusCode === 'number' ? data.statusCode : null,
    });
  }

  /**
   * Keeps a Server-Sent Event stream of the admin API open until stop(). Options:
   *   path            under adminUrl
   *   lastEventId()   the Last-Event-ID to resume from, or null
   *   onOpen()        the stream is open (may return a promise: events wait for it; if it
   *                   throws, the stream is opened again)
   *   onEvents(list)  the events of one chunk, in order, as { type, data (parsed), id }
   *   onDown(err)     opening failed (the server is away, or refused): a retry follows
   *   onGone(err)     404: the stream is no more (no retry)
   * A stream that ends is opened again after the server's `retry:` delay; one that cannot be
   * opened, after a backoff (1 s, 2 s, 4 s … 10 s).
   */
  function openStream(o) {
    const s = { stopped: false, controller: null, wake: null };

    async function run() {
      let failures = 0;
      let retryMs = 1000;
      while (!s.stopped) {
        const controller = new AbortController();
        s.controller = controller;
        let watchdog = null;
        const kick = () => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => controller.abort(), STALL_MS);
        };
        let opened = false;
        let failure = null;
        try {
          const headers = { Accept: 'text/event-stream' };
          if (GWS_CONFIG.apikey) headers.apikey = GWS_CONFIG.apikey;
          const last = o.lastEventId ? o.lastEventId() : null;
          if (last) headers['Last-Event-ID'] = last;
          kick();
          let res;
          try {
            res = await adminFetch(adminBase + o.path, { headers, cache: 'no-store', signal: controller.signal });
          } catch (e) {
            throw new ApiError('Could not reach the emulator.', { network: true });
          }
          if (!res.ok || !res.body) {
            const err = await answerError(res);
            if (res.status === 404) {
              clearTimeout(watchdog);
              s.stopped = true;
              if (o.onGone) o.onGone(err);
              return;
            }
            throw err;
          }
          if (o.onOpen) await o.onOpen();
          if (s.stopped) break;
          opened = true;
          failures = 0;
          const parser = createSseParser();
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          for (;;) {
            let chunk;
            try {
              chunk = await reader.read();
            } catch (e) {
              break; // cut off (the server went away, or the watchdog): opened again below
            }
            if (chunk.done || s.stopped) break;
            kick();
            const events = parser.feed(decoder.decode(chunk.value, { stream: true }));
            if (parser.retry !== null) retryMs = parser.retry;
            const parsed = [];
            for (const e of events) {
              try {
                parsed.push({ type: e.type, data: JSON.parse(e.data), id: e.id });
              } catch (err) {
                /* not JSON: not an event of this API */
              }
            }
            if (parsed.length && !s.stopped) o.onEvents(parsed);
          }
        } catch (err) {
          failure = err;
        } finally {
          clearTimeout(watchdog);
          controller.abort();
        }
        if (s.stopped) break;
        let delay = retryMs;
        if (!opened) {
          failures += 1;
          delay = backoff(failures);
          if (o.onDown) o.onDown(failure instanceof ApiError ? failure : new ApiError('Could not reach the emulator.', { network: true }));
        }
        await new Promise((resolve) => {
          s.wake = resolve;
          setTimeout(resolve, delay);
        });
        s.wake = null;
      }
    }

    run();
    return {
      stop() {
        s.stopped = true;
        if (s.controller) s.controller.abort();
        if (s.wake) s.wake();
      },
    };
  }

  // ---------------------------------------------------------------- the open chat's view

  const view = createChatView({
    request: admin,
    chatPath,
    operationPath: (id) => `${chatPath(id)}/agent`,
    pollMs: 1000, // unused: the console never polls; lines come from the chat's event stream
    ui,
    current: () => cur,
    render: { ownType: 'Agent', linkLabel: (nick) => `${nick} pushed a link` },
    // Only the customer's typing is shown.
    typerName: (fromType, nick) => (fromType === 'Customer' ? nick || 'The customer' : null),
    typingStarted: { action: 'typingStarted' },
    typingStopped: { action: 'typingStopped' },
    canType: (c) => c.agents.size > 0, // only once the agent is in the chat
    renderState,
    updateControls,
    onIdle: (c) => {
      c.agents.clear();
      endStreamSoon(c);
    },
    onGone: (c) => forgetChat(c.id),
  });
  const { showError, clearError, stopTyping } = view;

  // ---------------------------------------------------------------- chat list

  /**
   * id -> what the console knows of a chat: its list entry (summary), the index of its last
   * message, and the agent side's read cursor (so its unread count is lastIndex - read).
   */
  const chats = new Map();
  /** Chat ids, newest first. */
  let order = [];
  /** id -> the list item's elements. */
  const items = new Map();

  function createItem(id) {
    const li = node('li');
    const button = node('button', 'chat-item');
    button.type = 'button';
    button.dataset.chatId = id;
    const top = node('span', 'chat-item-top');
    const name = node('span', 'chat-item-name');
    const unread = node('span', 'unread');
    unread.hidden = true;
    top.append(name, unread);
    const subject = node('span', 'chat-item-subject');
    const meta = node('span', 'chat-item-meta');
    const pill = node('span', 'pill');
    const scenario = node('span', 'chat-item-scenario');
    const time = node('time', 'chat-item-time');
    meta.append(pill, scenario, time);
    button.append(top, subject, meta);
    li.append(button);
    const item = { li, button, name, unread, subject, pill, scenario, time };
    items.set(id, item);
    return item;
  }

  /** Marks the list item of the open chat as the current one. */
  function markItem(item, id) {
    if (cur && cur.id === id) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
  }

  /** The agent's unread count of a chat: none for the chat open on the right (it is being read). */
  function unreadOf(id, rec) {
    if (cur && cur.id === id) return 0;
    return Math.max(0, rec.lastIndex - rec.read);
  }

  function updateItem(item, id, rec) {
    const s = rec.summary;
    const state = String(s.state || '');
    item.button.dataset.state = state;
    item.pill.dataset.state = state;
    setText(item.pill, STATE_WORDS[state] || state);
    setText(item.name, String(s.nickname || ''));
    setText(item.subject, String(s.subject || ''));
    const scenario = s.scenario === null || s.scenario === undefined ? '' : String(s.scenario);
    setText(item.scenario, scenario);
    item.scenario.title = scenario ? `Scenario: ${scenario}` : '';
    item.scenario.hidden = !scenario;
    const n = unreadOf(id, rec);
    setText(item.unread, String(n));
    item.unread.hidden = n <= 0;
    item.unread.title = `${n} unread`;
    const t = formatTime(s.created, true);
    if (t) {
      setText(item.time, t.text);
      item.time.dateTime = t.iso;
    }
    markItem(item, id);
  }

  /** Draws the list from what is known, with the state filter applied. */
  function renderList() {
    const focused = document.activeElement;
    const want = ui.filter.value;
    const shown = order.filter((id) => {
      const rec = chats.get(id);
      return rec && (!want || rec.summary.state === want);
    });
    const keep = new Set(shown);
    for (const [id, item] of items) {
      if (!keep.has(id)) {
        item.li.remove();
        items.delete(id);
      }
    }
    shown.forEach((id, i) => {
      const item = items.get(id) || createItem(id);
      updateItem(item, id, chats.get(id));
      const at = ui.chats.children[i];
      if (at !== item.li) ui.chats.insertBefore(item.li, at || null);
    });
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
    let status = '';
    if (!auth.asking && !shown.length) {
      status = want ? 'No chats in this state.' : 'No chats yet. Start one from the customer chat page.';
    }
    if (list.down) status = 'Connection lost. Reconnecting…';
    else if (auth.asking) status = 'Waiting for the admin token…';
    setText(ui.listStatus, status);
  }

  const list = { down: false, loaded: false };

  /** The chat list as the emulator answered it: what is known is replaced (deleted chats go). */
  function applySnapshot(summaries) {
    const next = new Map();
    const ids = [];
    for (const s of summaries) {
      if (!s || typeof s !== 'object' || s.id === undefined) continue;
      const id = String(s.id);
      const count = Number(s.messageCount) || 0;
      const rec = { summary: s, lastIndex: count, read: count - (Number(s.unreadByAgent) || 0) };
      const old = chats.get(id);
      if (old && cur && cur.id === id) rec.read = Math.max(rec.read, old.read); // a read in flight
      next.set(id, rec);
      ids.push(id);
    }
    chats.clear();
    for (const [id, rec] of next) chats.set(id, rec);
    order = ids;
    list.loaded = true;
  }

  async function loadList() {
    const data = await admin('GET', '/chats');
    applySnapshot(Array.isArray(data.chats) ? data.chats : []);
    list.down = false;
    renderList();
  }

  /** Events of every chat: new chats, messages (for the counts) and state changes. */
  function applyListEvents(events) {
    for (const { type, data } of events) {
      if (!data || typeof data !== 'object') continue;
      if (type === 'chat') {
        if (data.id === undefined) continue;
        const id = String(data.id);
        const rec = chats.get(id);
        if (rec) {
          rec.summary = Object.assign({}, rec.summary, data, {
            messageCount: rec.summary.messageCount,
            unreadByAgent: rec.summary.unreadByAgent,
          });
        } else {
          const count = Number(data.messageCount) || 0;
          chats.set(id, { summary: data, lastIndex: count, read: count - (Number(data.unreadByAgent) || 0) });
          order.unshift(id);
        }
        continue;
      }
      const rec = chats.get(String(data.chatId));
      if (!rec) continue; // a chat the list does not show (past its limit)
      if (type === 'message' && Number.isInteger(data.index)) {
        rec.lastIndex = Math.max(rec.lastIndex, data.index);
      } else if (type === 'state' && STATES.includes(data.state)) {
        rec.summary = Object.assign({}, rec.summary, { state: data.state });
      }
    }
    renderList();
  }

  /** A chat is gone from the server: it leaves the list. */
  function forgetChat(id) {
    if (!chats.delete(id)) return;
    order = order.filter((x) => x !== id);
    renderList();
  }

  openStream({
    path: '/events',
    onOpen: loadList, // the stream has no backlog: the list is read once it is open
    onEvents: applyListEvents,
    onDown: (err) => {
      list.down = err.retryable;
      if (err.retryable) renderList();
      else setText(ui.listStatus, err.message);
    },
  });

  // ---------------------------------------------------------------- the open chat

  function renderState(c) {
    const s = c.state;
    ui.state.dataset.state = s || '';
    if (s === 'WaitingForAgent') setText(ui.state, 'Waiting for an agent');
    else if (s === 'Chatting') setText(ui.state, `Chatting · ${agentName(c) || 'agent'} in the chat`);
    else if (s === 'Idle') setText(ui.state, 'Ended');
    else setText(ui.state, 'Loading…');
  }

  function updateControls(c) {
    const open = !!c && STATES.includes(c.state) && c.state !== 'Idle';
    const hasAgent = open && c.agents.size > 0;
    const busy = !!c && c.busy;
    ui.agentNickname.disabled = !open || hasAgent;
    ui.join.disabled = !open || hasAgent || busy;
    ui.message.disabled = !hasAgent;
    ui.send.disabled = !hasAgent;
    ui.pushValue.disabled = !hasAgent;
    ui.push.disabled = !hasAgent;
    ui.noticeText.disabled = !hasAgent;
    ui.notice.disabled = !hasAgent;
    ui.leave.disabled = !hasAgent || busy;
    ui.complete.disabled = !open || busy;
    const switching = !!c && c.switching;
    ui.scenarioSelect.disabled = !open || switching || !scenarios.names;
    ui.scenarioSwitch.disabled = !open || switching || !scenarios.names;
  }

  function showScenario(c) {
    const name = c.scenario === null || c.scenario === undefined ? '' : String(c.scenario);
    setText(ui.scenario, name || 'unknown');
    fillScenarios(name);
  }

  /** The events of the open chat's stream: its state, then its lines, keyed by index. */
  function applyChatEvents(c, events) {
    if (c !== cur) return;
    let batch = [];
    const flush = () => {
      if (batch.length) view.processMessages(c, batch);
      batch = [];
    };
    for (const { type, data } of events) {
      if (!data || typeof data !== 'object') continue;
      if (type === 'message') batch.push(data);
      else if (type === 'state') {
        flush();
        view.setState(c, data.state);
      }
    }
    flush();
    markReadSoon(c);
    requestsSoon(c);
  }

  /** Once a chat has ended, its stream is closed (after the last lines of its end). */
  function endStreamSoon(c) {
    if (c.endTimer || !c.stream) return;
    c.endTimer = setTimeout(() => {
      if (c.stream) c.stream.stop();
      c.stream = null;
    }, IDLE_STREAM_MS);
  }

  // ------------------------------------------------ the agent's read cursor

  function markReadSoon(c) {
    if (c.lastIndex <= c.marked || c.markTimer || c.closed) return;
    c.markTimer = setTimeout(() => markRead(c), MARK_READ_MS);
  }

  /**
   * Moves the agent side's read cursor on the server to the last line shown (one transcript read
   * of that line: `messages?index=<last>`), so the unread count is right for this console after a
   * reload and for any other. Only when new lines came, never on a timer.
   */
  async function markRead(c) {
    clearTimeout(c.markTimer);
    c.markTimer = null;
    const index = c.lastIndex;
    if (index <= c.marked || c.marking) return;
    c.marking = true;
    try {
      await admin('GET', `${chatPath(c.id)}/messages?index=${index}`);
      c.marked = Math.max(c.marked, index);
      const rec = chats.get(c.id);
      if (rec) rec.read = Math.max(rec.read, index);
    } catch (err) {
      /* the next line tries again */
    } finally {
      c.marking = false;
    }
    if (c.closed) renderList();
    else if (c.lastIndex > c.marked && c === cur) markReadSoon(c);
  }

  // ---------------------------------------------------------------- agent actions

  /** Runs an action for the open chat, showing the API's statusMessage when it is refused. */
  async function run(body, { lock = false, onSuccess } = {}) {
    const c = cur;
    if (!c) return false;
    if (lock) {
      c.busy = true;
      updateControls(c);
    }
    let ok = false;
    try {
      await view.operate(c, body);
      ok = true;
      if (c === cur) {
        clearError();
        if (onSuccess) onSuccess(c);
      }
    } catch (err) {
      if (c === cur) showError(err.message);
    } finally {
      if (lock) c.busy = false;
    }
    if (c === cur) updateControls(c);
    return ok;
  }

  function join() {
    const nickname = ui.agentNickname.value.trim() || 'Kate';
    return run(
      { action: 'join', nickname },
      {
        lock: true,
        onSuccess: (c) => {
          // The stream brings the ParticipantJoined line (it may already have).
          if (c.agents.size === 0) c.agents.set('?', nickname);
          view.setState(c, 'Chatting');
          updateControls(c);
          ui.message.focus();
        },
      },
    );
  }

  function leave() {
    const c = cur;
    if (c) stopTyping(c, false);
    return run(
      { action: 'leave' },
      {
        lock: true,
        onSuccess: (c2) => {
          c2.agents.clear();
          view.setState(c2, 'WaitingForAgent');
        },
      },
    );
  }

  function complete() {
    const c = cur;
    if (c) stopTyping(c, false);
    return run({ action: 'complete' }, { lock: true, onSuccess: (c2) => view.setState(c2, 'Idle') });
  }

  async function sendMessage(event) {
    event.preventDefault();
    const c = cur;
    if (!c || c.agents.size === 0) return;
    const text = ui.message.value;
    if (!text.trim()) return;
    stopTyping(c); // the stop goes out before the message
    ui.message.value = '';
    const ok = await run({ action: 'message', text });
    if (!ok && c === cur && !ui.message.value) ui.message.value = text;
  }

  async function pushUrl(event) {
    event.preventDefault();
    const url = ui.pushValue.value.trim();
    if (!url) {
      showError('Enter an http:// or https:// address to push.');
      ui.pushValue.focus();
      return;
    }
    if (await run({ action: 'pushUrl', url })) {
      if (ui.pushValue.value.trim() === url) ui.pushValue.value = '';
    }
  }

  async function postNotice(event) {
    event.preventDefault();
    const text = ui.noticeText.value;
    if (!text.trim()) {
      showError('Enter the text of the notice.');
      ui.noticeText.focus();
      return;
    }
    if (await run({ action: 'notice', text })) {
      if (ui.noticeText.value === text) ui.noticeText.value = '';
    }
  }

  // ---------------------------------------------------------------- scenarios

  /** The scenarios' names (null until read) and descriptions. */
  const scenarios = { names: null, descriptions: new Map(), loading: null };

  /** Reads the scenarios' names (again: they can be added while the emulator runs). */
  function loadScenarios() {
    if (scenarios.loading) return scenarios.loading;
    scenarios.loading = (async () => {
      try {
        const data = await admin('GET', '/scenarios');
        const listed = Array.isArray(data.scenarios) ? data.scenarios : [];
        scenarios.names = listed.filter((s) => s && typeof s.name === 'string').map((s) => s.name);
        scenarios.descriptions = new Map(
          listed.filter((s) => s && typeof s.name === 'string').map((s) => [s.name, String(s.description || '')]),
        );
      } catch (err) {
        if (cur) showError(`Could not read the scenarios: ${err.message}`);
      } finally {
        scenarios.loading = null;
      }
      if (cur) {
        fillScenarios(cur.scenario ? String(cur.scenario) : '');
        updateControls(cur);
      }
    })();
    return scenarios.loading;
  }

  /** Fills the scenario picker, with `current` chosen. */
  function fillScenarios(current) {
    const names = scenarios.names ? [...scenarios.names] : [];
    if (current && !names.includes(current)) names.unshift(current);
    const select = ui.scenarioSelect;
    const same =
      select.options.length === names.length && names.every((n, i) => select.options[i].value === n);
    if (!same) {
      select.textContent = '';
      if (!names.length) select.append(node('option', null, scenarios.names ? 'No scenarios' : 'Loading…'));
      for (const name of names) {
        const option = node('option', null, name);
        option.value = name;
        const description = scenarios.descriptions.get(name);
        if (description) option.title = description;
        select.append(option);
      }
    }
    if (current && names.includes(current)) select.value = current;
  }

  async function switchScenario(event) {
    event.preventDefault();
    const c = cur;
    if (!c || c.switching) return;
    const name = ui.scenarioSelect.value;
    if (!name) {
      showError('Pick a scenario to switch to.');
      return;
    }
    c.switching = true;
    updateControls(c);
    try {
      await admin('POST', `${chatPath(c.id)}/scenario`, { name });
      c.scenario = name;
      const rec = chats.get(c.id);
      if (rec) rec.summary = Object.assign({}, rec.summary, { scenario: name });
      if (c === cur) {
        clearError();
        showScenario(c);
      }
      renderList();
    } catch (err) {
      if (c === cur) showError(err.message);
    } finally {
      c.switching = false;
      if (c === cur) updateControls(c);
    }
  }

  // ---------------------------------------------------------------- the requests view

  const reqs = { timer: null, inFlight: false, again: false, stale: true, items: new Map(), chatId: null };

  function showTab(name, focus = false) {
    const requests = name === 'requests';
    ui.tabTranscript.setAttribute('aria-selected', String(!requests));
    ui.tabRequests.setAttribute('aria-selected', String(requests));
    ui.tabTranscript.tabIndex = requests ? -1 : 0;
    ui.tabRequests.tabIndex = requests ? 0 : -1;
    ui.transcriptView.hidden = requests;
    ui.requestsView.hidden = !requests;
    if (focus) (requests ? ui.tabRequests : ui.tabTranscript).focus();
    if (requests && cur && reqs.stale) loadRequests();
  }

  const requestsShown = () => !ui.requestsView.hidden;

  /** Something happened in the open chat: its requests are read again (soon, once per burst). */
  function requestsSoon(c) {
    reqs.stale = true;
    if (c !== cur || !requestsShown() || reqs.timer) return;
    reqs.timer = setTimeout(() => {
      reqs.timer = null;
      loadRequests();
    }, REQUESTS_REFRESH_MS);
  }

  function resetRequests(id) {
    clearTimeout(reqs.timer);
    reqs.timer = null;
    reqs.stale = true;
    reqs.chatId = id;
    reqs.items.clear();
    ui.requests.textContent = '';
    setText(ui.requestsStatus, '');
  }

  async function loadRequests() {
    const c = cur;
    if (!c) return;
    if (reqs.inFlight) {
      reqs.again = true;
      return;
    }
    reqs.inFlight = true;
    reqs.again = false;
    reqs.stale = false;
    ui.requestsRefresh.disabled = true;
    if (!reqs.items.size) setText(ui.requestsStatus, 'Loading the requests…');
    try {
      const data = await admin('GET', `/requests?chat=${encodeURIComponent(c.id)}&limit=100`);
      if (c === cur) {
        const list = Array.isArray(data.requests) ? data.requests : [];
        renderRequests(list);
        const time = formatTime(Date.now());
        setText(
          ui.requestsStatus,
          list.length
            ? `${list.length === 100 ? 'The last 100' : list.length} request${list.length === 1 ? '' : 's'} of this chat to the customer API, newest first${time ? ` · read at ${time.text}` : ''}`
            : 'No customer API requests for this chat in the journal.',
        );
      }
    } catch (err) {
      if (c === cur) setText(ui.requestsStatus, `Could not read the requests: ${err.message}`);
    } finally {
      reqs.inFlight = false;
      ui.requestsRefresh.disabled = false;
    }
    if (reqs.again && c === cur) loadRequests();
  }

  function formatDuration(us) {
    if (typeof us !== 'number' || !Number.isFinite(us)) return '';
    if (us < 1000) return `${us} µs`;
    if (us < 1e6) return `${(us / 1000).toFixed(1)} ms`;
    return `${(us / 1e6).toFixed(2)} s`;
  }

  function describeFault(f) {
    if (!f || typeof f !== 'object') return '';
    const rule = f.rule !== undefined ? ` (rule ${f.rule})` : '';
    if (f.drop !== undefined) return `fault${rule}: connection dropped ${f.drop} handling`;
    if (f.status !== undefined) return `fault${rule}: answered ${f.status}`;
    if (f.delay !== undefined) return `fault${rule}: delayed ${f.delay}`;
    return `fault${rule}`;
  }

  /** A body as text: JSON indented, anything else as it is. */
  function bodyText(body, truncated) {
    if (body === null || body === undefined) return null;
    const text = String(body);
    if (truncated) return text;
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (e) {
      return text;
    }
  }

  function renderRequest(e) {
    const li = node('li', 'req');
    const dropped = e.httpStatus === null || e.httpStatus === undefined;
    const status = dropped ? 'dropped' : String(e.httpStatus);
    li.dataset.id = String(e.id);
    li.dataset.status = status;
    li.dataset.operation = e.operation === null || e.operation === undefined ? '' : String(e.operation);

    const details = node('details', 'req-details');
    const summary = node('summary', 'req-summary');
    const badge = node('span', 'req-status', dropped ? 'no answer' : status);
    const code = Number(e.httpStatus);
    badge.dataset.kind = dropped ? 'dropped' : code >= 500 ? 'error' : code >= 400 ? 'refused' : 'ok';
    badge.title = dropped ? 'The connection was dropped: no answer reached the client' : `HTTP ${status}`;
    const main = node('span', 'req-main');
    main.append(node('span', 'req-op', li.dataset.operation || '(no operation)'));
    main.append(node('span', 'req-path', `${String(e.method || '')} ${String(e.path || '')}`));
    const meta = [];
    if (e.statusCode !== null && e.statusCode !== undefined) meta.push(`statusCode ${e.statusCode}`);
    const duration = formatDuration(e.durationUs);
    if (duration) meta.push(duration);
    const fault = describeFault(e.fault);
    if (fault) meta.push(fault);
    if (e.truncated) meta.push('bodies cut to 4 KiB');
    const metaLine = node('span', 'req-meta', meta.join(' · '));
    main.append(metaLine);
    const t = formatTime(e.at);
    summary.append(badge, main);
    if (t) {
      const time = node('time', 'req-time', t.text);
      time.dateTime = t.iso;
      summary.append(time);
    }
    details.append(summary);

    const bodies = node('div', 'req-bodies');
    const request = bodyText(e.requestBody, e.truncated);
    const response = bodyText(e.responseBody, e.truncated);
    bodies.append(node('h4', 'req-body-title', 'Request body'));
    bodies.append(request === null ? node('p', 'req-none', 'none') : node('pre', 'req-body', request));
    bodies.append(node('h4', 'req-body-title', dropped ? 'Response (lost: the connection was dropped)' : 'Response body'));
    bodies.append(response === null ? node('p', 'req-none', 'none') : node('pre', 'req-body', response));
    details.append(bodies);
    li.append(details);
    return li;
  }

  /** Shows the entries, newest first; an entry already shown is kept as it is (open or not). */
  function renderRequests(list) {
    const ids = list.map((e) => String(e && e.id));
    const keep = new Set(ids);
    for (const [id, li] of reqs.items) {
      if (!keep.has(id)) {
        li.remove();
        reqs.items.delete(id);
      }
    }
    list.forEach((e, i) => {
      if (!e || typeof e !== 'object') return;
      const id = String(e.id);
      let li = reqs.items.get(id);
      if (!li) {
        li = renderRequest(e);
        reqs.items.set(id, li);
      }
      const at = ui.requests.children[i];
      if (at !== li) ui.requests.insertBefore(li, at || null);
    });
  }

  // ---------------------------------------------------------------- opening a chat

  function closeChat(c) {
    c.closed = true;
    stopTyping(c);
    view.stopPolling(c);
    clearTimeout(c.endTimer);
    if (c.stream) c.stream.stop();
    c.stream = null;
    // Lines shown but not yet marked read: marked now.
    if (c.lastIndex > c.marked) markRead(c);
  }

  function openChat(id) {
    if (cur && cur.id === id) return;
    if (cur) closeChat(cur);
    const rec = chats.get(id);
    const s = rec ? rec.summary : null;
    const c = view.newChat(id, {
      busy: false,
      switching: false,
      scenario: s ? s.scenario : null,
      stream: null,
      marked: rec ? rec.read : 0,
      markTimer: null,
      marking: false,
      endTimer: null,
      closed: false,
    });
    cur = c;
    renderList();
    ui.placeholder.hidden = true;
    ui.pane.hidden = false;
    view.reset();
    ui.message.value = '';
    clearError();
    resetRequests(id);
    setText(ui.nickname, s ? String(s.nickname || '') : '');
    setText(ui.subject, s ? String(s.subject || '') : '');
    showScenario(c);
    renderState(c);
    updateControls(c);
    if (requestsShown()) loadRequests();
    loadScenarios();
    if (window.matchMedia('(max-width: 800px)').matches) ui.pane.scrollIntoView({ block: 'start' });

    c.stream = openStream({
      path: `${chatPath(id)}/events`,
      // Resumes after the last line drawn: nothing lost, nothing twice.
      lastEventId: () => (c.lastIndex > 0 ? `${id}:${c.lastIndex}` : null),
      onOpen: () => {
        if (c === cur) view.setConnectionLost(false);
      },
      onEvents: (events) => applyChatEvents(c, events),
      onDown: (err) => {
        if (c === cur) view.reportError(err);
      },
      onGone: (err) => {
        if (c !== cur) return;
        if (c.state === 'Idle') forgetChat(c.id);
        else view.gone(c, err);
      },
    });
  }

  // ---------------------------------------------------------------- wiring

  ui.tokenForm.addEventListener('submit', submitToken);
  ui.chats.addEventListener('click', (event) => {
    const button = event.target.closest('[data-chat-id]');
    if (button && ui.chats.contains(button)) openChat(button.dataset.chatId);
  });
  ui.filter.addEventListener('change', renderList);
  ui.join.addEventListener('click', join);
  ui.agentNickname.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !ui.join.disabled) {
      event.preventDefault();
      join();
    }
  });
  ui.leave.addEventListener('click', leave);
  ui.complete.addEventListener('click', complete);
  ui.compose.addEventListener('submit', sendMessage);
  ui.message.addEventListener('input', view.onKeystroke);
  ui.pushForm.addEventListener('submit', pushUrl);
  ui.noticeForm.addEventListener('submit', postNotice);
  ui.scenarioForm.addEventListener('submit', switchScenario);
  ui.scenarioSelect.addEventListener('focus', () => loadScenarios());
  ui.tabTranscript.addEventListener('click', () => showTab('transcript'));
  ui.tabRequests.addEventListener('click', () => showTab('requests'));
  for (const tab of [ui.tabTranscript, ui.tabRequests]) {
    tab.addEventListener('keydown', (event) => {
      if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) return;
      event.preventDefault();
      const toRequests =
        event.key === 'End' || (event.key !== 'Home' && tab === ui.tabTranscript);
      showTab(toRequests ? 'requests' : 'transcript', true);
    });
  }
  ui.requestsRefresh.addEventListener('click', () => loadRequests());

  updateControls(null);
})();
