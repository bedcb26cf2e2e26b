const GWS_CONFIG = Object.assign({ baseUrl: location.origin + '/api', apikey: 'N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44', pollIntervalMs: 1000 }, window.GWS_CONFIG || {});
// Configuration (the line above): edit it when you copy the widget into your own site (cross-origin works:
// the emulator answers CORS), or assign window.GWS_CONFIG = {...} in a script that runs before
// this one (assign the property: a `var`/`const GWS_CONFIG` declaration would clash with this one).
//   baseUrl         the GWS API base, e.g. 'http://127.0.0.1:8888/api'
//   apikey          sent as the `apikey` header on every call
//   pollIntervalMs  how often new messages are fetched

// GWS Emulator customer chat widget. Plain ES2020, no dependencies.
// Every text that comes from the server is inserted with textContent / createTextNode.
(() => {
  'use strict';

  const STORAGE_KEY = 'gws-emulator.chat';
  const TYPING_IDLE_MS = 2000; // stop typing after this long without a keystroke
  const BACKOFF_MAX_MS = 10000;
  const FINAL_POLL_DELAY_MS = 300;
  const REQUEST_TIMEOUT_MS = 15000;
  const STATES = ['WaitingForAgent', 'Chatting', 'Idle'];

  const BASE = String(GWS_CONFIG.baseUrl).replace(/\/+$/, '');
  const POLL_MS = Math.max(100, Number(GWS_CONFIG.pollIntervalMs) || 1000);

  const $ = (id) => document.getElementById(id);
  const ui = {
    card: $('card'),
    form: $('chat-form'),
    nickname: $('nickname'),
    subject: $('subject'),
    start: $('start'),
    chatView: $('chat-view'),
    state: $('state'),
    end: $('end'),
    error: $('error'),
    connection: $('connection'),
    transcript: $('transcript'),
    typing: $('typing'),
    ended: $('ended'),
    newChat: $('new-chat'),
    compose: $('compose'),
    message: $('message'),
    send: $('send'),
  };

  /** The chat shown, or null while the start form is shown. */
  let chat = null;

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(message, { status = 0, statusCode = null, network = false } = {}) {
      super(message);
      this.status = status;
      this.statusCode = statusCode;
      this.network = network;
    }

    /** A network failure or a server-side failure: worth retrying. */
    get retryable() {
      return this.network || this.status >= 500;
    }
  }

  async function api(method, path, body) {
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
        throw new ApiError('Could not reach the chat server.', { network: true });
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
    if (res.ok && !data) {
      // The answer was cut off: treat it like a lost response.
      throw new ApiError('The chat server sent an incomplete answer.', { network: true });
    }
    const message =
      data && typeof data.statusMessage === 'string' && data.statusMessage
        ? data.statusMessage
        : `The chat server answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
    throw new ApiError(message, {
      status: res.status,
      statusCode: data && typeof data.statusCode === 'number' ? data.statusCode : null,
    });
  }

  const chatPath = (id) => `/v2/chats/${encodeURIComponent(id)}`;

  // ---------------------------------------------------------------- storage

  function loadSaved() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
      return saved && typeof saved.id === 'string' && saved.id ? saved : null;
    } catch (e) {
      return null;
    }
  }

  function save(id, nickname) {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ id, nickname }));
    } catch (e) {
      /* storage unavailable (private mode): the chat just cannot be resumed */
    }
  }

  function forget() {
    try {
      localStorage.removeItem(STORAGE_KEY);
    } catch (e) {
      /* ignore */
    }
  }

  // ---------------------------------------------------------------- small UI helpers

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = false;
  }

  function clearError() {
    ui.error.hidden = true;
    ui.error.textContent = '';
  }

  function setConnectionLost(lost) {
    ui.connection.hidden = !lost;
  }

  function formatTime(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return null;
    const d = new Date(ms);
    return { iso: d.toISOString(), text: d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) };
  }

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  const isWebUrl = (url) => /^https?:\/\//i.test(url);

  // ---------------------------------------------------------------- rendering

  /**
   * One transcript line for a GWS message, or null for typing notifications.
   * `ownType` is the participant type whose messages are "mine" (right-hand side).
   */
  function renderMessage(m, ownType) {
    const type = String(m.type || '');
    if (type === 'TypingStarted' || type === 'TypingStopped') return null;
    const from = m.from && typeof m.from === 'object' ? m.from : {};
    const fromType = String(from.type || '');
    const nick = String(from.nickname || (fromType === 'Agent' ? 'Agent' : fromType === 'Customer' ? 'Customer' : 'System'));
    const mine = fromType === ownType;
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
        if (mine) bubble.append(node('span', 'visually-hidden', 'You: '));
        else bubble.append(node('span', 'msg-author', nick));
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
        box.append(node('i', 'notice-icon', '!'));
        box.firstChild.setAttribute('aria-hidden', 'true');
        const content = node('div', 'notice-content');
        content.append(node('span', 'notice-label', `Notice from ${nick}`));
        content.append(node('p', 'msg-body', text));
        box.append(content);
        li.append(box);
        addTime();
        break;
      }
      case 'PushUrl': {
        li.classList.add('msg-url', side);
        const url = m.url === undefined || m.url === null ? '' : String(m.url);
        const bubble = node('div', 'bubble link-card');
        bubble.append(node('span', 'link-label', mine ? 'You shared a link' : `${nick} shared a link`));
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
        // A type this widget does not know: show it plainly rather than drop it.
        li.classList.add('msg-event');
        li.append(node('span', 'event', text ? `${nick} (${type}): ${text}` : `${nick}: ${type}`));
        break;
      }
    }
    return li;
  }

  function nearBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  // ---------------------------------------------------------------- state

  function agentName(c) {
    const names = [...c.agents.values()];
    return names.length ? names[names.length - 1] : null;
  }

  function renderState(c) {
    const s = c ? c.state : null;
    ui.state.dataset.state = s || '';
    if (!c) {
      ui.state.textContent = '';
    } else if (s === 'WaitingForAgent') {
      ui.state.textContent = 'Waiting for an agent…';
    } else if (s === 'Chatting') {
      const name = agentName(c);
      ui.state.textContent = name ? `Chatting with ${name}` : 'Chatting with an agent';
    } else if (s === 'Idle') {
      ui.state.textContent = 'Chat ended';
    } else {
      ui.state.textContent = 'Connecting…';
    }
  }

  function setState(c, state) {
    if (!STATES.includes(state)) return;
    if (c.state === 'Idle' && state !== 'Idle') return; // Idle is final
    c.state = state;
    renderState(c);
    if (state === 'Idle') onEnded(c);
    updateControls(c);
  }

  function applyChatInfo(c, info) {
    if (!info || typeof info !== 'object') return;
    const participants = Array.isArray(info.participants) ? info.participants : [];
    c.agents = new Map(
      participants.filter((p) => p && p.type === 'Agent').map((p) => [String(p.participantId), String(p.nickname || 'Agent')]),
    );
    setState(c, info.state);
    renderState(c);
  }

  async function refreshState(c) {
    const data = await api('GET', chatPath(c.id));
    if (c === chat) applyChatInfo(c, data.chat);
  }

  function updateTyping(c) {
    const names = c ? [...new Set(c.typingBy.values())] : [];
    if (!names.length) {
      ui.typing.hidden = true;
      ui.typing.textContent = '';
      return;
    }
    const who = names.length === 1 ? `${names[0]} is` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are`;
    ui.typing.textContent = '';
    const dots = node('span', 'dots');
    dots.setAttribute('aria-hidden', 'true');
    dots.append(node('i'), node('i'), node('i'));
    ui.typing.append(dots, document.createTextNode(`${who} typing…`));
    ui.typing.hidden = false;
  }

  function updateControls(c) {
    const ended = !c || c.state === 'Idle';
    ui.message.disabled = ended;
    ui.send.disabled = ended;
    ui.end.disabled = ended || c.ending;
  }

  /**
   * Applies one new message: renders it, keeps typing and state current.
   * Returns true for a ParticipantJoined/ParticipantLeft (state worth re-checking).
   */
  function applyMessage(c, m) {
    const from = m.from && typeof m.from === 'object' ? m.from : {};
    const fromType = String(from.type || '');
    const pid = String(from.participantId);
    const nick = String(from.nickname || 'Agent');
    const other = fromType !== 'Customer';
    let membership = false;

    switch (m.type) {
      case 'TypingStarted':
        if (other) c.typingBy.set(pid, nick);
        break;
      case 'TypingStopped':
        c.typingBy.delete(pid);
        break;
      case 'Text':
        c.typingBy.delete(pid);
        break;
      case 'ParticipantJoined':
        membership = true;
        if (fromType === 'Agent') {
          c.agents.set(pid, nick);
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

    const li = renderMessage(m, 'Customer');
    if (li) ui.transcript.append(li);
    return membership;
  }

  /** Renders the messages newer than lastIndex, in order; never the same index twice. */
  function processMessages(c, messages) {
    const fresh = (Array.isArray(messages) ? messages : [])
      .filter((m) => m && Number.isInteger(m.index) && m.index > c.lastIndex)
      .sort((a, b) => a.index - b.index);
    if (!fresh.length) return false;
    const stick = nearBottom(ui.transcript);
    let membership = false;
    let mine = false;
    for (const m of fresh) {
      if (m.index <= c.lastIndex) continue; // a duplicate within the batch
      c.lastIndex = m.index;
      if (applyMessage(c, m)) membership = true;
      if (m.type === 'Text' && m.from && m.from.type === 'Customer') mine = true;
    }
    renderState(c);
    updateTyping(c);
    if (stick || mine) ui.transcript.scrollTop = ui.transcript.scrollHeight;
    return membership;
  }

  // ---------------------------------------------------------------- polling

  function schedulePoll(c, delay) {
    if (c !== chat || c.stopped) return;
    clearTimeout(c.pollTimer);
    c.pollTimer = setTimeout(() => poll(c), delay);
  }

  /** Polls as soon as possible (after the poll in flight, if any). */
  function pollSoon(c) {
    if (!c || c !== chat || c.stopped) return;
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
    if (c !== chat || c.stopped || c.inFlight) return;
    c.inFlight = true;
    c.pollAgain = false;
    const wasIdle = c.state === 'Idle';
    let delay = POLL_MS;
    let ok = false;
    try {
      const data = await api('GET', `${chatPath(c.id)}/messages?index=${c.lastIndex + 1}`);
      if (c !== chat) return;
      if (processMessages(c, data.messages)) c.needStateCheck = true;
      if (c.needStateCheck) {
        await refreshState(c);
        c.needStateCheck = false;
      }
      ok = true;
      c.failures = 0;
      setConnectionLost(false);
    } catch (err) {
      if (c !== chat) return;
      if (err.status === 404) {
        // The chat is gone (deleted on the server): it has ended.
        setConnectionLost(false);
        showError(err.message);
        setState(c, 'Idle');
        stopPolling(c);
        return;
      }
      c.failures += 1;
      delay = Math.min(1000 * 2 ** (c.failures - 1), BACKOFF_MAX_MS);
      if (err.retryable) setConnectionLost(true);
      else showError(err.message);
    } finally {
      c.inFlight = false;
    }
    if (c !== chat || c.stopped) return;
    if (c.state === 'Idle') {
      if (ok && wasIdle) {
        stopPolling(c); // this was the final poll after the chat ended
        return;
      }
      if (ok) delay = FINAL_POLL_DELAY_MS;
    } else if (ok && c.pollAgain) {
      delay = 0;
    }
    schedulePoll(c, delay);
  }

  // ---------------------------------------------------------------- operations

  /** POSTs an operation; operations of one chat go out one after the other, in order. */
  function operate(c, body) {
    const p = c.queue.then(() => api('POST', chatPath(c.id), body));
    c.queue = p.catch(() => {});
    return p;
  }

  function stopTyping(c, notify = true) {
    clearTimeout(c.typingTimer);
    c.typingTimer = null;
    if (!c.typing) return;
    c.typing = false;
    if (notify && c.state !== 'Idle') {
      operate(c, { operationName: 'SendStopTypingNotification' }).catch(() => {});
    }
  }

  function onKeystroke() {
    const c = chat;
    if (!c || c.state === 'Idle') return;
    if (!c.typing) {
      c.typing = true;
      operate(c, { operationName: 'SendStartTypingNotification' }).catch(() => {});
    }
    clearTimeout(c.typingTimer);
    c.typingTimer = setTimeout(() => stopTyping(c), TYPING_IDLE_MS);
  }

  async function sendMessage(event) {
    event.preventDefault();
    const c = chat;
    if (!c || c.state === 'Idle') return;
    const text = ui.message.value;
    if (!text.trim()) return;
    stopTyping(c); // the stop goes out before the message
    ui.message.value = '';
    try {
      await operate(c, { operationName: 'SendMessage', text });
      if (c === chat) clearError();
    } catch (err) {
      if (c !== chat) return;
      showError(err.message);
      if (!ui.message.value) ui.message.value = text;
      if (err.statusCode === 2) c.needStateCheck = true;
    }
    pollSoon(c);
  }

  async function endChat() {
    const c = chat;
    if (!c || c.state === 'Idle' || c.ending) return;
    stopTyping(c, false);
    c.ending = true;
    updateControls(c);
    try {
      await operate(c, { operationName: 'Complete' });
      if (c === chat) clearError();
    } catch (err) {
      if (c === chat) showError(err.message);
    } finally {
      c.ending = false;
    }
    if (c !== chat) return;
    c.needStateCheck = true;
    updateControls(c);
    pollSoon(c);
  }

  function onEnded(c) {
    if (c.ended) return;
    c.ended = true;
    forget();
    stopTyping(c, false);
    c.typingBy.clear();
    updateTyping(c);
    const hadFocus = ui.chatView.contains(document.activeElement) || document.activeElement === ui.end;
    ui.ended.hidden = false;
    ui.newChat.hidden = false;
    updateControls(c);
    if (hadFocus) ui.newChat.focus();
  }

  // ---------------------------------------------------------------- views

  function showForm() {
    ui.form.hidden = false;
    ui.chatView.hidden = true;
    ui.end.hidden = true;
    ui.card.classList.remove('is-chatting');
    ui.start.disabled = false;
    ui.start.textContent = 'Start chat';
    renderState(null);
  }

  function showChatView() {
    ui.form.hidden = true;
    ui.chatView.hidden = false;
    ui.end.hidden = false;
    ui.card.classList.add('is-chatting');
  }

  function resetView() {
    ui.transcript.textContent = '';
    ui.typing.hidden = true;
    ui.typing.textContent = '';
    ui.ended.hidden = true;
    ui.newChat.hidden = true;
    setConnectionLost(false);
  }

  /** Shows a chat and starts polling it from the first message. */
  function openChat(id, nickname, info, focus = false) {
    if (chat) stopPolling(chat);
    const c = {
      id,
      nickname,
      state: null,
      agents: new Map(),
      typingBy: new Map(),
      lastIndex: 0,
      pollTimer: null,
      inFlight: false,
      pollAgain: false,
      stopped: false,
      failures: 0,
      needStateCheck: !info,
      queue: Promise.resolve(),
      typing: false,
      typingTimer: null,
      ending: false,
      ended: false,
    };
    chat = c;
    resetView();
    showChatView();
    renderState(c);
    if (info) applyChatInfo(c, info);
    updateControls(c);
    schedulePoll(c, 0);
    if (focus && c.state !== 'Idle') ui.message.focus();
    return c;
  }

  function leaveChat() {
    if (chat) {
      stopPolling(chat);
      stopTyping(chat, false);
    }
    chat = null;
    resetView();
    clearError();
    updateControls(null);
    showForm();
    ui.subject.value = '';
    ui.nickname.focus();
  }

  async function startChat(event) {
    event.preventDefault();
    clearError();
    const nickname = ui.nickname.value.trim();
    ui.nickname.setCustomValidity(nickname ? '' : 'Please enter your name.');
    if (!ui.form.reportValidity()) return;
    const subject = ui.subject.value.trim();
    ui.start.disabled = true;
    ui.start.textContent = 'Starting…';
    let id;
    try {
      const data = await api('POST', '/v2/chats', { operationName: 'RequestChat', nickname, subject });
      id = String(data.id);
    } catch (err) {
      showError(err.message);
      ui.start.disabled = false;
      ui.start.textContent = 'Start chat';
      return;
    }
    save(id, nickname);
    let info = null;
    try {
      info = (await api('GET', chatPath(id))).chat;
    } catch (err) {
      /* the poll loop checks the state once the server answers */
    }
    openChat(id, nickname, info, true);
  }

  async function resume(saved) {
    ui.form.hidden = true; // no flash of the form while the chat is looked up
    ui.nickname.value = typeof saved.nickname === 'string' ? saved.nickname : '';
    let info = null;
    try {
      info = (await api('GET', chatPath(saved.id))).chat;
    } catch (err) {
      if (!err.retryable) {
        // 404: the chat is gone (or any other refusal): start over.
        forget();
        showForm();
        if (err.status !== 404) showError(err.message);
        return;
      }
      // The server is unreachable: show the chat; polling reconnects and re-checks the state.
      const c = openChat(saved.id, saved.nickname, null);
      setConnectionLost(true);
      return c;
    }
    if (!info || info.state === 'Idle') {
      forget();
      showForm();
      return;
    }
    openChat(saved.id, saved.nickname, info);
  }

  // ---------------------------------------------------------------- wiring

  ui.form.addEventListener('submit', startChat);
  ui.nickname.addEventListener('input', () => ui.nickname.setCustomValidity(''));
  ui.compose.addEventListener('submit', sendMessage);
  ui.message.addEventListener('input', onKeystroke);
  ui.end.addEventListener('click', endChat);
  ui.newChat.addEventListener('click', leaveChat);

  const saved = loadSaved();
  if (saved) resume(saved);
  else {
    forget();
    showForm();
  }
})();
