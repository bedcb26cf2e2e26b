const GWS_CONFIG = Object.assign({ adminUrl: location.origin + '/__admin', apikey: 'N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44', pollIntervalMs: 1000 }, window.GWS_CONFIG || {});
// Configuration (the line above): edit it when you serve the console from elsewhere, or assign
// window.GWS_CONFIG = {...} in a script that runs before this one (not `var`/`const GWS_CONFIG`).
//   adminUrl        the emulator's admin API, e.g. 'http://127.0.0.1:8888/__admin'
//   apikey          sent as the `apikey` header on every call (the admin API does not check it)
//   pollIntervalMs  how often the open chat's new messages are fetched (the chat list: 1.5x that)

// GWS Emulator agent console: play the contact centre in `--agent-mode manual`.
// Plain ES2020, no dependencies. Every text from the server goes in with textContent.
(() => {
  'use strict';

  const TYPING_IDLE_MS = 2000;
  const BACKOFF_MAX_MS = 10000;
  const FINAL_POLL_DELAY_MS = 300;
  const REQUEST_TIMEOUT_MS = 15000;
  const STATES = ['WaitingForAgent', 'Chatting', 'Idle'];
  const STATE_WORDS = { WaitingForAgent: 'Waiting', Chatting: 'Chatting', Idle: 'Ended' };

  const BASE = String(GWS_CONFIG.adminUrl).replace(/\/+$/, '');
  const POLL_MS = Math.max(100, Number(GWS_CONFIG.pollIntervalMs) || 1000);
  const LIST_POLL_MS = Math.max(150, Number(GWS_CONFIG.listPollIntervalMs) || Math.round(POLL_MS * 1.5));

  const $ = (id) => document.getElementById(id);
  const ui = {
    filter: $('state-filter'),
    listStatus: $('list-status'),
    chats: $('chats'),
    placeholder: $('placeholder'),
    pane: $('chat-pane'),
    nickname: $('chat-nickname'),
    subject: $('chat-subject'),
    state: $('agent-state'),
    agentNickname: $('agent-nickname'),
    join: $('join'),
    leave: $('leave'),
    complete: $('complete'),
    error: $('agent-error'),
    connection: $('agent-connection'),
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
  };

  /** The chat open on the right, or null. */
  let cur = null;

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(message, { status = 0, statusCode = null, network = false } = {}) {
      super(message);
      this.status = status;
      this.statusCode = statusCode;
      this.network = network;
    }

    get retryable() {
      return this.network || this.status >= 500;
    }
  }

  async function admin(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (GWS_CONFIG.apikey) headers.apikey = GWS_CONFIG.apikey;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    init.signal = controller.signal;
    let res;
    let data = null;
    try {
      try {
        res = await fetch(BASE + path, init);
      } catch (e) {
        throw new ApiError('Could not reach the emulator.', { network: true });
      }
      try {
        data = await res.json();
      } catch (e) {
        data = null;
      }
    } finally {
      clearTimeout(timer);
    }
    if (res.ok && data && data.statusCode === 0) return data;
    if (res.ok && !data) throw new ApiError('The emulator sent an incomplete answer.', { network: true });
    const message =
      data && typeof data.statusMessage === 'string' && data.statusMessage
        ? data.statusMessage
        : `The emulator answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
    throw new ApiError(message, {
      status: res.status,
      statusCode: data && typeof data.statusCode === 'number' ? data.statusCode : null,
    });
  }

  const chatPath = (id) => `/chats/${encodeURIComponent(id)}`;

  // ---------------------------------------------------------------- helpers

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function formatTime(ms, withDate = false) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return null;
    const d = new Date(ms);
    const today = new Date().toDateString() === d.toDateString();
    const text =
      withDate && !today
        ? d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
        : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return { iso: d.toISOString(), text };
  }

  const isWebUrl = (url) => /^https?:\/\//i.test(url);

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = false;
  }

  function clearError() {
    ui.error.hidden = true;
    ui.error.textContent = '';
  }

  // ---------------------------------------------------------------- transcript rendering

  /** One transcript line; the agent's own messages are on the right. Null for typing. */
  function renderMessage(m) {
    const type = String(m.type || '');
    if (type === 'TypingStarted' || type === 'TypingStopped') return null;
    const from = m.from && typeof m.from === 'object' ? m.from : {};
    const fromType = String(from.type || '');
    const nick = String(from.nickname || (fromType === 'Agent' ? 'Agent' : fromType === 'Customer' ? 'Customer' : 'System'));
    const mine = fromType === 'Agent';
    const side = mine ? 'msg-mine' : 'msg-theirs';
    const text = m.text === undefined || m.text === null ? '' : String(m.text);
    const time = formatTime(m.utcTime);

    const li = node('li', 'msg');
    li.dataset.index = String(m.index);
    li.dataset.type = type;
    li.dataset.fromType = fromType;

    const addTime = () => {
      if (!time) return;
      const t = node('time', 'msg-time', time.text);
      t.dateTime = time.iso;
      li.append(t);
    };

    switch (type) {
      case 'Text': {
        if (fromType === 'External') {
          li.classList.add('msg-system');
          li.append(node('p', 'msg-body', text));
          if (time) li.title = time.text;
          break;
        }
        li.classList.add('msg-text', side);
        const bubble = node('div', 'bubble');
        bubble.append(node('span', 'msg-author', nick));
        bubble.append(node('p', 'msg-body', text));
        li.append(bubble);
        addTime();
        break;
      }
      case 'ParticipantJoined':
      case 'ParticipantLeft': {
        li.classList.add('msg-event');
        const verb = type === 'ParticipantJoined' ? 'joined' : 'left';
        li.append(node('span', 'event', `${nick} ${verb} the chat`));
        if (time) li.title = time.text;
        break;
      }
      case 'Notice': {
        li.classList.add('msg-notice');
        const box = node('div', 'notice');
        const icon = node('i', 'notice-icon', '!');
        icon.setAttribute('aria-hidden', 'true');
        const content = node('div', 'notice-content');
        content.append(node('span', 'notice-label', `Notice from ${nick}`));
        content.append(node('p', 'msg-body', text));
        box.append(icon, content);
        li.append(box);
        addTime();
        break;
      }
      case 'PushUrl': {
        li.classList.add('msg-url', side);
        const url = m.url === undefined || m.url === null ? '' : String(m.url);
        const bubble = node('div', 'bubble link-card');
        bubble.append(node('span', 'link-label', `${nick} pushed a link`));
        if (isWebUrl(url)) {
          const a = node('a', null, url);
          a.href = url;
          a.target = '_blank';
          a.rel = 'noopener noreferrer';
          bubble.append(a);
        } else {
          bubble.append(node('span', 'link-plain', url));
        }
        li.append(bubble);
        addTime();
        break;
      }
      default: {
        li.classList.add('msg-event');
        li.append(node('span', 'event', text ? `${nick} (${type}): ${text}` : `${nick}: ${type}`));
        break;
      }
    }
    return li;
  }

  // ---------------------------------------------------------------- chat list

  /** id -> the list item's elements. */
  const items = new Map();
  const summaries = new Map();
  const list = { timer: null, inFlight: false, again: false, failures: 0, generation: 0 };

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
    const time = node('time', 'chat-item-time');
    meta.append(pill, time);
    button.append(top, subject, meta);
    li.append(button);
    const item = { li, button, name, unread, subject, pill, time };
    items.set(id, item);
    return item;
  }

  function updateItem(item, s) {
    const state = String(s.state || '');
    item.button.dataset.state = state;
    item.pill.dataset.state = state;
    setText(item.pill, STATE_WORDS[state] || state);
    setText(item.name, String(s.nickname || ''));
    setText(item.subject, String(s.subject || ''));
    const n = Number(s.unreadByAgent) || 0;
    setText(item.unread, String(n));
    item.unread.hidden = n <= 0;
    item.unread.title = `${n} unread`;
    const t = formatTime(s.created, true);
    if (t) {
      setText(item.time, t.text);
      item.time.dateTime = t.iso;
    }
    if (cur && cur.id === s.id) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
  }

  function renderList(chats) {
    const focused = document.activeElement;
    const ids = new Set(chats.map((s) => String(s.id)));
    for (const [id, item] of items) {
      if (!ids.has(id)) {
        item.li.remove();
        items.delete(id);
        summaries.delete(id);
      }
    }
    chats.forEach((s, i) => {
      const id = String(s.id);
      summaries.set(id, s);
      const item = items.get(id) || createItem(id);
      updateItem(item, s);
      const at = ui.chats.children[i];
      if (at !== item.li) ui.chats.insertBefore(item.li, at || null);
    });
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
    let status = '';
    if (!chats.length) {
      status = ui.filter.value ? 'No chats in this state.' : 'No chats yet. Start one from the customer chat page.';
    }
    setText(ui.listStatus, status);
  }

  function scheduleList(delay) {
    clearTimeout(list.timer);
    list.timer = setTimeout(pollList, delay);
  }

  function refreshListSoon() {
    if (list.inFlight) list.again = true;
    else scheduleList(0);
  }

  async function pollList() {
    list.timer = null;
    if (list.inFlight) return;
    list.inFlight = true;
    list.again = false;
    const generation = list.generation;
    const state = ui.filter.value;
    let delay = LIST_POLL_MS;
    try {
      const data = await admin('GET', `/chats${state ? `?state=${encodeURIComponent(state)}` : ''}`);
      if (generation === list.generation) {
        renderList(Array.isArray(data.chats) ? data.chats : []);
        list.failures = 0;
      }
    } catch (err) {
      list.failures += 1;
      delay = Math.min(1000 * 2 ** (list.failures - 1), BACKOFF_MAX_MS);
      setText(ui.listStatus, err.retryable ? 'Connection lost. Reconnecting…' : err.message);
    } finally {
      list.inFlight = false;
    }
    if (list.again || generation !== list.generation) delay = 0;
    scheduleList(delay);
  }

  // ---------------------------------------------------------------- the open chat

  function agentName(c) {
    const names = [...c.agents.values()];
    return names.length ? names[names.length - 1] : null;
  }

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
  }

  function setState(c, state) {
    if (!STATES.includes(state)) return;
    if (c.state === 'Idle' && state !== 'Idle') return; // Idle is final
    c.state = state;
    if (state === 'Idle') {
      c.agents.clear();
      c.typingBy.clear();
      stopTyping(c, false);
      updateTyping(c);
    }
    renderState(c);
    updateControls(c);
  }

  function applyDetail(c, chat, withMessages) {
    if (!chat || typeof chat !== 'object') return;
    setText(ui.nickname, String(chat.nickname || ''));
    setText(ui.subject, String(chat.subject || ''));
    if (withMessages) processMessages(c, chat.messages);
    const participants = Array.isArray(chat.participants) ? chat.participants : [];
    c.agents = new Map(
      participants
        .filter((p) => p && p.type === 'Agent' && (p.left === null || p.left === undefined))
        .map((p) => [String(p.participantId), String(p.nickname || 'Agent')]),
    );
    setState(c, chat.state);
    renderState(c);
    updateControls(c);
  }

  function updateTyping(c) {
    const names = c ? [...new Set(c.typingBy.values())] : [];
    if (!names.length) {
      ui.typing.hidden = true;
      ui.typing.textContent = '';
      return;
    }
    ui.typing.textContent = '';
    const dots = node('span', 'dots');
    dots.setAttribute('aria-hidden', 'true');
    dots.append(node('i'), node('i'), node('i'));
    ui.typing.append(dots, document.createTextNode(`${names.join(' and ')} ${names.length > 1 ? 'are' : 'is'} typing…`));
    ui.typing.hidden = false;
  }

  /** Applies one new message; true for a join or leave (worth re-reading the chat). */
  function applyMessage(c, m) {
    const from = m.from && typeof m.from === 'object' ? m.from : {};
    const fromType = String(from.type || '');
    const pid = String(from.participantId);
    const nick = String(from.nickname || '');
    let membership = false;
    switch (m.type) {
      case 'TypingStarted':
        if (fromType === 'Customer') c.typingBy.set(pid, nick || 'The customer');
        break;
      case 'TypingStopped':
      case 'Text':
        c.typingBy.delete(pid);
        break;
      case 'ParticipantJoined':
        membership = true;
        if (fromType === 'Agent') {
          c.agents.delete('?'); // the join this console just made, now confirmed
          c.agents.set(pid, nick || 'Agent');
          setState(c, 'Chatting');
        }
        break;
      case 'ParticipantLeft':
        membership = true;
        c.typingBy.delete(pid);
        if (fromType === 'Agent') {
          c.agents.delete(pid);
          if (c.agents.size === 0) setState(c, 'WaitingForAgent');
        } else if (fromType === 'Customer') {
          setState(c, 'Idle');
        }
        break;
      default:
        break;
    }
    const li = renderMessage(m);
    if (li) ui.transcript.append(li);
    return membership;
  }

  function processMessages(c, messages) {
    const fresh = (Array.isArray(messages) ? messages : [])
      .filter((m) => m && Number.isInteger(m.index) && m.index > c.lastIndex)
      .sort((a, b) => a.index - b.index);
    if (!fresh.length) return false;
    const t = ui.transcript;
    const stick = t.scrollHeight - t.scrollTop - t.clientHeight < 80;
    let membership = false;
    let mine = false;
    for (const m of fresh) {
      if (m.index <= c.lastIndex) continue;
      c.lastIndex = m.index;
      if (applyMessage(c, m)) membership = true;
      if (m.from && m.from.type === 'Agent' && m.type !== 'TypingStarted' && m.type !== 'TypingStopped') mine = true;
    }
    renderState(c);
    updateTyping(c);
    updateControls(c);
    if (stick || mine) t.scrollTop = t.scrollHeight;
    return membership;
  }

  // ---------------------------------------------------------------- polling the open chat

  function schedulePoll(c, delay) {
    if (c !== cur || c.stopped) return;
    clearTimeout(c.pollTimer);
    c.pollTimer = setTimeout(() => poll(c), delay);
  }

  function pollSoon(c) {
    if (!c || c !== cur || c.stopped) return;
    if (c.inFlight) c.pollAgain = true;
    else schedulePoll(c, 0);
  }

  function stopPolling(c) {
    c.stopped = true;
    clearTimeout(c.pollTimer);
    c.pollTimer = null;
  }

  async function poll(c) {
    c.pollTimer = null;
    if (c !== cur || c.stopped || c.inFlight) return;
    c.inFlight = true;
    c.pollAgain = false;
    const wasIdle = c.state === 'Idle';
    // Right after the chat was loaded from its detail, ask again for the last message seen: that
    // moves the agent's read cursor (so the unread badge drops) and renders nothing twice.
    const index = c.primeCursor ? Math.max(c.lastIndex, 1) : c.lastIndex + 1;
    let delay = POLL_MS;
    let ok = false;
    try {
      const data = await admin('GET', `${chatPath(c.id)}/messages?index=${index}`);
      if (c !== cur) return;
      c.primeCursor = false;
      if (processMessages(c, data.messages)) c.needDetail = true;
      if (c.needDetail) {
        const detail = await admin('GET', chatPath(c.id));
        if (c !== cur) return;
        applyDetail(c, detail.chat, false);
        c.needDetail = false;
      }
      ok = true;
      c.failures = 0;
      ui.connection.hidden = true;
    } catch (err) {
      if (c !== cur) return;
      if (err.status === 404) {
        ui.connection.hidden = true;
        showError(err.message);
        setState(c, 'Idle');
        stopPolling(c);
        refreshListSoon();
        return;
      }
      c.failures += 1;
      delay = Math.min(1000 * 2 ** (c.failures - 1), BACKOFF_MAX_MS);
      if (err.retryable) ui.connection.hidden = false;
      else showError(err.message);
    } finally {
      c.inFlight = false;
    }
    if (c !== cur || c.stopped) return;
    if (c.state === 'Idle') {
      if (ok && wasIdle) {
        stopPolling(c);
        return;
      }
      if (ok) delay = FINAL_POLL_DELAY_MS;
    } else if (ok && c.pollAgain) {
      delay = 0;
    }
    schedulePoll(c, delay);
  }

  // ---------------------------------------------------------------- agent actions

  /** POSTs an agent action; one chat's actions go out in order. */
  function act(c, body) {
    const p = c.queue.then(() => admin('POST', `${chatPath(c.id)}/agent`, body));
    c.queue = p.catch(() => {});
    return p;
  }

  function stopTyping(c, notify = true) {
    clearTimeout(c.typingTimer);
    c.typingTimer = null;
    if (!c.typing) return;
    c.typing = false;
    if (notify) act(c, { action: 'typingStopped' }).catch(() => {});
  }

  function onKeystroke() {
    const c = cur;
    if (!c || c.state === 'Idle' || c.agents.size === 0) return;
    if (!c.typing) {
      c.typing = true;
      act(c, { action: 'typingStarted' }).catch(() => {});
    }
    clearTimeout(c.typingTimer);
    c.typingTimer = setTimeout(() => stopTyping(c), TYPING_IDLE_MS);
  }

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
      await act(c, body);
      ok = true;
      if (c === cur) {
        clearError();
        if (onSuccess) onSuccess(c);
      }
    } catch (err) {
      if (c === cur) {
        showError(err.message);
        if (err.statusCode === 2) c.needDetail = true;
      }
    } finally {
      if (lock) c.busy = false;
    }
    if (c === cur) {
      updateControls(c);
      pollSoon(c);
      refreshListSoon();
    }
    return ok;
  }

  function join() {
    const nickname = ui.agentNickname.value.trim() || 'Kate';
    return run(
      { action: 'join', nickname },
      {
        lock: true,
        onSuccess: (c) => {
          if (c.agents.size === 0) c.agents.set('?', nickname);
          setState(c, 'Chatting');
          c.needDetail = true;
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
          setState(c2, 'WaitingForAgent');
          c2.needDetail = true;
        },
      },
    );
  }

  function complete() {
    const c = cur;
    if (c) stopTyping(c, false);
    return run({ action: 'complete' }, { lock: true, onSuccess: (c2) => setState(c2, 'Idle') });
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

  // ---------------------------------------------------------------- opening a chat

  function markCurrent() {
    for (const [id, item] of items) {
      if (cur && cur.id === id) item.button.setAttribute('aria-current', 'true');
      else item.button.removeAttribute('aria-current');
    }
  }

  async function openChat(id) {
    if (cur) {
      stopPolling(cur);
      stopTyping(cur);
    }
    const c = {
      id,
      state: null,
      agents: new Map(),
      typingBy: new Map(),
      lastIndex: 0,
      primeCursor: true,
      needDetail: false,
      pollTimer: null,
      inFlight: false,
      pollAgain: false,
      stopped: false,
      failures: 0,
      queue: Promise.resolve(),
      typing: false,
      typingTimer: null,
      busy: false,
    };
    cur = c;
    markCurrent();
    ui.placeholder.hidden = true;
    ui.pane.hidden = false;
    ui.transcript.textContent = '';
    ui.connection.hidden = true;
    ui.message.value = '';
    clearError();
    updateTyping(c);
    const s = summaries.get(id);
    setText(ui.nickname, s ? String(s.nickname || '') : '');
    setText(ui.subject, s ? String(s.subject || '') : '');
    renderState(c);
    updateControls(c);
    if (window.matchMedia('(max-width: 800px)').matches) ui.pane.scrollIntoView({ block: 'start' });

    try {
      const data = await admin('GET', chatPath(id));
      if (c !== cur) return;
      applyDetail(c, data.chat, true);
      ui.transcript.scrollTop = ui.transcript.scrollHeight;
    } catch (err) {
      if (c !== cur) return;
      if (err.status === 404) {
        showError(err.message);
        setState(c, 'Idle');
        stopPolling(c);
        refreshListSoon();
        return;
      }
      // Unreachable for now: the poll loop loads the transcript and re-reads the chat.
      c.needDetail = true;
      if (err.retryable) ui.connection.hidden = false;
      else showError(err.message);
    }
    schedulePoll(c, 0);
  }

  // ---------------------------------------------------------------- wiring

  ui.chats.addEventListener('click', (event) => {
    const button = event.target.closest('[data-chat-id]');
    if (button && ui.chats.contains(button)) openChat(button.dataset.chatId);
  });
  ui.filter.addEventListener('change', () => {
    list.generation += 1;
    refreshListSoon();
  });
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
  ui.message.addEventListener('input', onKeystroke);
  ui.pushForm.addEventListener('submit', pushUrl);
  ui.noticeForm.addEventListener('submit', postNotice);

  updateControls(null);
  pollList();
})();
