const GWS_CONFIG = Object.assign({ adminUrl: location.origin + '/__admin', apikey: 'N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44', pollIntervalMs: 1000 }, window.GWS_CONFIG || {});
// Configuration (the line above): edit it when you serve the console from elsewhere, or assign
// window.GWS_CONFIG = {...} in a script that runs before this one (not `var`/`const GWS_CONFIG`).
//   adminUrl        the emulator's admin API, e.g. 'http://127.0.0.1:8888/__admin'
//   apikey          sent as the `apikey` header on every call (the admin API does not check it)
//   pollIntervalMs  how often the open chat's new messages are fetched (the chat list: 1.5x that)

// GWS Emulator agent console: play the contact centre in `--agent-mode manual`.
// Plain ES2020, no third-party code; agent.html loads chat-core.js (the code shared with the
// customer widget) before this script. Every text from the server goes in with textContent.
(() => {
  'use strict';

  if (!window.GwsChat) throw new Error('agent.js needs chat-core.js, loaded before it');
  const { STATES, backoff, createClient, createChatView, node, setText, formatTime, agentName } = window.GwsChat;

  const STATE_WORDS = { WaitingForAgent: 'Waiting', Chatting: 'Chatting', Idle: 'Ended' };

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

  // ---------------------------------------------------------------- API and the open chat's view

  const admin = createClient({ baseUrl: GWS_CONFIG.adminUrl, apikey: GWS_CONFIG.apikey, serverName: 'emulator' });
  const chatPath = (id) => `/chats/${encodeURIComponent(id)}`;

  const view = createChatView({
    request: admin,
    chatPath,
    operationPath: (id) => `${chatPath(id)}/agent`,
    pollMs: POLL_MS,
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
    onIdle: (c) => c.agents.clear(),
    applyDetail: (c, chat) => applyDetail(c, chat, false),
    onGone: () => refreshListSoon(),
  });
  const { showError, clearError, stopPolling, stopTyping, pollSoon } = view;

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

  /** Marks the list item of the open chat as the current one. */
  function markItem(item, id) {
    if (cur && cur.id === id) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
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
    markItem(item, s.id);
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
      delay = backoff(list.failures);
      setText(ui.listStatus, err.retryable ? 'Connection lost. Reconnecting…' : err.message);
    } finally {
      list.inFlight = false;
    }
    if (list.again || generation !== list.generation) delay = 0;
    scheduleList(delay);
  }

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
  }

  /** Applies the chat's detail from the admin API (withMessages: render its transcript too). */
  function applyDetail(c, chat, withMessages) {
    if (!chat || typeof chat !== 'object') return;
    setText(ui.nickname, String(chat.nickname || ''));
    setText(ui.subject, String(chat.subject || ''));
    if (withMessages) view.processMessages(c, chat.messages);
    view.applyChat(c, chat);
    updateControls(c);
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
      if (c === cur) {
        showError(err.message);
        if (err.statusCode === 2) c.needRefresh = true;
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
          view.setState(c, 'Chatting');
          c.needRefresh = true;
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
          c2.needRefresh = true;
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

  // ---------------------------------------------------------------- opening a chat

  async function openChat(id) {
    if (cur) {
      stopPolling(cur);
      stopTyping(cur);
    }
    // primeCursor: right after the chat was loaded from its detail, the first poll asks again for
    // the last message seen: that moves the agent's read cursor (so the unread badge drops).
    const c = view.newChat(id, { primeCursor: true, busy: false });
    cur = c;
    for (const [itemId, item] of items) markItem(item, itemId);
    ui.placeholder.hidden = true;
    ui.pane.hidden = false;
    view.reset();
    ui.message.value = '';
    clearError();
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
        view.gone(c, err);
        return;
      }
      // Unreachable for now: the poll loop loads the transcript and re-reads the chat.
      c.needRefresh = true;
      view.reportError(err);
    }
    view.schedulePoll(c, 0);
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
  ui.message.addEventListener('input', view.onKeystroke);
  ui.pushForm.addEventListener('submit', pushUrl);
  ui.noticeForm.addEventListener('submit', postNotice);

  updateControls(null);
  pollList();
})();
