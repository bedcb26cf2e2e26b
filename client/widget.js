const GWS_CONFIG = Object.assign({ baseUrl: location.origin + '/api', apikey: 'N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44', pollIntervalMs: 1000 }, window.GWS_CONFIG || {});
// Configuration (the line above): edit it when you copy the widget into your own site (cross-origin works:
// the emulator answers CORS), or assign window.GWS_CONFIG = {...} in a script that runs before
// this one (assign the property: a `var`/`const GWS_CONFIG` declaration would clash with this one).
//   baseUrl         the GWS API base, e.g. 'http://127.0.0.1:8888/api'
//   apikey          sent as the `apikey` header on every call
//   pollIntervalMs  how often new messages are fetched
//   userData        optional: an object sent as RequestChat's userData, e.g. { scenario: 'pushes-a-link' }
//                   (the emulator picks the chat's agent scenario from userData.scenario)

// GWS Emulator customer chat widget. Plain ES2020, no third-party code.
// To put it on your own site, copy four files: index.html, widget.js, chat-core.js and style.css
// (chat-core.js is the code shared with the agent console; index.html loads it before this script).
// Every text that comes from the server is inserted with textContent / createTextNode.
(() => {
  'use strict';

  if (!window.GwsChat) throw new Error('widget.js needs chat-core.js, loaded before it');
  const { agentName, createClient, createChatView } = window.GwsChat;

  const STORAGE_KEY = 'gws-emulator.chat';
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

  // ---------------------------------------------------------------- API and the chat view

  const api = createClient({ baseUrl: GWS_CONFIG.baseUrl, apikey: GWS_CONFIG.apikey, serverName: 'chat server' });
  const chatPath = (id) => `/v2/chats/${encodeURIComponent(id)}`;

  const view = createChatView({
    request: api,
    chatPath,
    operationPath: chatPath,
    pollMs: POLL_MS,
    ui,
    current: () => chat,
    render: {
      ownType: 'Customer',
      hideOwnName: true,
      linkLabel: (nick, mine) => (mine ? 'You shared a link' : `${nick} shared a link`),
    },
    // Anyone but the customer typing is shown (an agent, or the bot).
    typerName: (fromType, nick) => (fromType !== 'Customer' ? nick || 'Agent' : null),
    typingStarted: { operationName: 'SendStartTypingNotification' },
    typingStopped: { operationName: 'SendStopTypingNotification' },
    // Only the customer's own text jumps to the end of the transcript.
    jumpsToBottom: (m) => m.type === 'Text' && !!m.from && m.from.type === 'Customer',
    renderState,
    updateControls,
    onIdle: onEnded,
  });
  const { showError, clearError, setConnectionLost, stopPolling, stopTyping, pollSoon, operate } = view;

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

  // ---------------------------------------------------------------- state

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

  function updateControls(c) {
    const ended = !c || c.state === 'Idle';
    ui.message.disabled = ended;
    ui.send.disabled = ended;
    ui.end.disabled = ended || c.ending;
  }

  // ---------------------------------------------------------------- operations

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
      if (err.statusCode === 2) c.needRefresh = true;
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
    c.needRefresh = true;
    updateControls(c);
    pollSoon(c);
  }

  /** The chat has ended (the view has already stopped typing): offer a new one. */
  function onEnded(c) {
    if (c.ended) return;
    c.ended = true;
    forget();
    const hadFocus = ui.chatView.contains(document.activeElement) || document.activeElement === ui.end;
    ui.ended.hidden = false;
    ui.newChat.hidden = false;
    updateControls(c);
    if (hadFocus) ui.newChat.focus();
  }

  // ---------------------------------------------------------------- views

  /** Shows the chat view, or else the start form. */
  function showView(chatting) {
    ui.form.hidden = chatting;
    ui.chatView.hidden = !chatting;
    ui.end.hidden = !chatting;
    ui.card.classList.toggle('is-chatting', chatting);
  }

  function showForm() {
    showView(false);
    ui.start.disabled = false;
    ui.start.textContent = 'Start chat';
    renderState(null);
  }

  function resetView() {
    view.reset();
    ui.ended.hidden = true;
    ui.newChat.hidden = true;
  }

  /** Shows a chat and starts polling it from the first message. */
  function openChat(id, nickname, info, focus = false) {
    if (chat) stopPolling(chat);
    const c = view.newChat(id, { nickname, needRefresh: !info, ending: false, ended: false });
    chat = c;
    resetView();
    showView(true);
    renderState(c);
    if (info) view.applyChat(c, info);
    updateControls(c);
    view.schedulePoll(c, 0);
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
      const request = { operationName: 'RequestChat', nickname, subject };
      const userData = GWS_CONFIG.userData;
      if (userData && typeof userData === 'object' && !Array.isArray(userData)) request.userData = userData;
      const data = await api('POST', '/v2/chats', request);
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
  ui.message.addEventListener('input', view.onKeystroke);
  ui.end.addEventListener('click', endChat);
  ui.newChat.addEventListener('click', leaveChat);

  const saved = loadSaved();
  if (saved) resume(saved);
  else {
    forget();
    showForm();
  }
})();
