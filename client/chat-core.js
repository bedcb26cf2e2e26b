// GWS Emulator: the code the customer widget (widget.js) and the agent console (agent.js) share.
// A classic script defining one global, `GwsChat`; each page loads it before its own script.
// Plain ES2020, no dependencies. Every text that comes from the server is inserted with
// textContent / createTextNode, never as markup.
window.GwsChat = (() => {
  'use strict';

  const REQUEST_TIMEOUT_MS = 15000;
  const TYPING_IDLE_MS = 2000; // stop typing after this long without a keystroke
  const BACKOFF_MAX_MS = 10000;
  const FINAL_POLL_DELAY_MS = 300;
  const STATES = ['WaitingForAgent', 'Chatting', 'Idle'];

  /** How long to wait after `failures` failed requests in a row: 1 s, 2 s, 4 s… at most 10 s. */
  const backoff = (failures) => Math.min(1000 * 2 ** (failures - 1), BACKOFF_MAX_MS);

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

  /**
   * A request function `(method, path, body) => data` for one of the emulator's JSON APIs.
   * baseUrl: the API's root; apikey: sent as the `apikey` header when set; serverName: how the
   * error messages name the server ("Could not reach the chat server.").
   * Optional: fetch, a function with fetch()'s signature to send through (the agent console adds
   * its admin token there); timeoutMs, how long a request may take (0: no limit of its own).
   * It resolves with the answer when its statusCode is 0 and throws an ApiError otherwise.
   */
  function createClient({ baseUrl, apikey, serverName, fetch: send, timeoutMs = REQUEST_TIMEOUT_MS }) {
    const base = String(baseUrl).replace(/\/+$/, '');
    return async function request(method, path, body) {
      const headers = { Accept: 'application/json' };
      if (apikey) headers.apikey = apikey;
      const init = { method, headers, cache: 'no-store' };
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      const controller = new AbortController();
      const timer = timeoutMs > 0 ? setTimeout(() => controller.abort(), timeoutMs) : null;
      init.signal = controller.signal;
      let res;
      let data = null;
      try {
        try {
          res = await (send || fetch)(base + path, init);
        } catch (e) {
          throw new ApiError(`Could not reach the ${serverName}.`, { network: true });
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
        throw new ApiError(`The ${serverName} sent an incomplete answer.`, { network: true });
      }
      const message =
        data && typeof data.statusMessage === 'string' && data.statusMessage
          ? data.statusMessage
          : `The ${serverName} answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
      throw new ApiError(message, {
        status: res.status,
        statusCode: data && typeof data.statusCode === 'number' ? data.statusCode : null,
      });
    };
  }

  // ---------------------------------------------------------------- small DOM helpers

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  /** Sets an element's text only when it changed (no needless mutations, selection kept). */
  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  /** { iso, text } for a time in ms, or null; the text has the date too if withDate and not today. */
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

  // ---------------------------------------------------------------- transcript rendering

  /**
   * One transcript line for a GWS message, or null for typing notifications. Options:
   *   ownType          the participant type whose messages are "mine" (right-hand side)
   *   hideOwnName      label my text bubbles "You: " for screen readers instead of showing my name
   *   linkLabel(nick, mine)  the caption above a pushed link
   */
  function renderMessage(m, { ownType, hideOwnName = false, linkLabel }) {
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
        if (mine && hideOwnName) bubble.append(node('span', 'visually-hidden', 'You: '));
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
        bubble.append(node('span', 'link-label', linkLabel(nick, mine)));
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
        // A type this client does not know: show it plainly rather than drop it.
        li.classList.add('msg-event');
        li.append(node('span', 'event', text ? `${nick} (${type}): ${text}` : `${nick}: ${type}`));
        break;
      }
    }
    return li;
  }

  /** The name of the agent who joined last, or null. */
  function agentName(c) {
    const names = [...c.agents.values()];
    return names.length ? names[names.length - 1] : null;
  }

  // ---------------------------------------------------------------- the open chat

  /**
   * The view of the chat a page shows, and the machinery behind it: the transcript, the typing
   * line, the error and connection notes, polling for new messages, the chat's state, typing
   * notifications and the chat's queue of operations. Options:
   *   request            a function from createClient
   *   chatPath(id)       the chat's path in that API: GET reads it, + `/messages` its messages
   *   operationPath(id)  where the chat's operations are POSTed
   *   pollMs             the delay between two polls
   *   ui                 the elements { error, connection, transcript, typing }
   *   current()          the chat shown now: polling stops and late answers are dropped for others
   *   render             the options of renderMessage (ownType is also "my" side here)
   *   typerName(fromType, nickname)  whom a TypingStarted shows as typing, or null to ignore it
   *   typingStarted, typingStopped   the operation bodies of my typing notifications
   *   canType(c)         whether my keystrokes are announced in an open chat (default: yes)
   *   jumpsToBottom(m)   whether a new message scrolls the transcript down (default: any of mine)
   *   renderState(c), updateControls(c)  the page's state line and controls
   *   onIdle(c)          what else to do when the chat ends (optional)
   *   applyDetail(c, chat)  applies the chat read again after a join or leave (default: applyChat)
   *   onGone(c)          what else to do when the chat is gone from the server (optional)
   * A chat (from newChat) can set primeCursor: its first poll then asks again for the last message
   * it has, which moves the reader's cursor on the server without rendering anything twice.
   */
  function createChatView(o) {
    const { request, ui } = o;
    const isCurrent = (c) => !!c && c === o.current();
    const ownType = o.render.ownType;
    const canType = o.canType || (() => true);
    const jumpsToBottom =
      o.jumpsToBottom ||
      ((m) => !!m.from && m.from.type === ownType && m.type !== 'TypingStarted' && m.type !== 'TypingStopped');

    /** A new chat record; `extra` adds or overrides fields. */
    function newChat(id, extra) {
      return Object.assign(
        {
          id,
          state: null,
          agents: new Map(), // participantId -> nickname of the agents in the chat
          typingBy: new Map(), // participantId -> the name shown typing
          lastIndex: 0,
          primeCursor: false,
          needRefresh: false, // read the chat (participants, state) again on the next poll
          pollTimer: null,
          inFlight: false,
          pollAgain: false,
          stopped: false,
          failures: 0,
          queue: Promise.resolve(),
          typing: false,
          typingTimer: null,
        },
        extra,
      );
    }

    // ------------------------------------------------ notes

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

    /** A failed request: "reconnecting" when it is worth retrying, else its message. */
    function reportError(err) {
      if (err.retryable) setConnectionLost(true);
      else showError(err.message);
    }

    /** Empties the transcript and the typing line; hides the connection note. */
    function reset() {
      ui.transcript.textContent = '';
      updateTyping(null);
      setConnectionLost(false);
    }

    // ------------------------------------------------ state

    function setState(c, state) {
      if (!STATES.includes(state)) return;
      if (c.state === 'Idle' && state !== 'Idle') return; // Idle is final
      c.state = state;
      if (state === 'Idle') {
        stopTyping(c, false);
        c.typingBy.clear();
        updateTyping(c);
        if (o.onIdle) o.onIdle(c);
      }
      o.renderState(c);
      o.updateControls(c);
    }

    /** Applies a chat as the API describes it: the agents still in it, and its state. */
    function applyChat(c, info) {
      if (!info || typeof info !== 'object') return;
      const participants = Array.isArray(info.participants) ? info.participants : [];
      c.agents = new Map(
        participants
          .filter((p) => p && p.type === 'Agent' && (p.left === null || p.left === undefined))
          .map((p) => [String(p.participantId), String(p.nickname || 'Agent')]),
      );
      setState(c, info.state);
      o.renderState(c);
    }
    const applyDetail = o.applyDetail || applyChat;

    /** The chat is gone (deleted on the server): it has ended. */
    function gone(c, err) {
      setConnectionLost(false);
      showError(err.message);
      setState(c, 'Idle');
      stopPolling(c);
      if (o.onGone) o.onGone(c);
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

    // ------------------------------------------------ new messages

    /**
     * Applies one new message: renders it, keeps typing and state current.
     * Returns true for a ParticipantJoined/ParticipantLeft (the chat is worth reading again).
     */
    function applyMessage(c, m) {
      const from = m.from && typeof m.from === 'object' ? m.from : {};
      const fromType = String(from.type || '');
      const pid = String(from.participantId);
      const nick = String(from.nickname || '');
      let membership = false;

      switch (m.type) {
        case 'TypingStarted': {
          const name = o.typerName(fromType, nick);
          if (name) c.typingBy.set(pid, name);
          break;
        }
        case 'TypingStopped':
        case 'Text':
          c.typingBy.delete(pid);
          break;
        case 'ParticipantJoined':
          membership = true;
          if (fromType === 'Agent') {
            c.agents.delete('?'); // a join the agent console made, now confirmed
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

      const li = renderMessage(m, o.render);
      if (li) ui.transcript.append(li);
      return membership;
    }

    /** Renders the messages newer than lastIndex, in order; never the same index twice. */
    function processMessages(c, messages) {
      const fresh = (Array.isArray(messages) ? messages : [])
        .filter((m) => m && Number.isInteger(m.index) && m.index > c.lastIndex)
        .sort((a, b) => a.index - b.index);
      if (!fresh.length) return false;
      const t = ui.transcript;
      const stick = t.scrollHeight - t.scrollTop - t.clientHeight < 80;
      let membership = false;
      let jump = false;
      for (const m of fresh) {
        if (m.index <= c.lastIndex) continue; // a duplicate within the batch
        c.lastIndex = m.index;
        if (applyMessage(c, m)) membership = true;
        if (jumpsToBottom(m)) jump = true;
      }
      o.renderState(c);
      updateTyping(c);
      o.updateControls(c);
      if (stick || jump) t.scrollTop = t.scrollHeight;
      return membership;
    }

    // ------------------------------------------------ polling

    function schedulePoll(c, delay) {
      if (!isCurrent(c) || c.stopped) return;
      clearTimeout(c.pollTimer);
      c.pollTimer = setTimeout(() => poll(c), delay);
    }

    /** Polls as soon as possible (after the poll in flight, if any). */
    function pollSoon(c) {
      if (!isCurrent(c) || c.stopped) return;
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
      if (!isCurrent(c) || c.stopped || c.inFlight) return;
      c.inFlight = true;
      c.pollAgain = false;
      const wasIdle = c.state === 'Idle';
      const index = c.primeCursor ? Math.max(c.lastIndex, 1) : c.lastIndex + 1;
      let delay = o.pollMs;
      let ok = false;
      try {
        const data = await request('GET', `${o.chatPath(c.id)}/messages?index=${index}`);
        if (!isCurrent(c)) return;
        c.primeCursor = false;
        if (processMessages(c, data.messages)) c.needRefresh = true;
        if (c.needRefresh) {
          const detail = await request('GET', o.chatPath(c.id));
          if (!isCurrent(c)) return;
          applyDetail(c, detail.chat);
          c.needRefresh = false;
        }
        ok = true;
        c.failures = 0;
        setConnectionLost(false);
      } catch (err) {
        if (!isCurrent(c)) return;
        if (err.status === 404) {
          gone(c, err);
          return;
        }
        c.failures += 1;
        delay = backoff(c.failures);
        reportError(err);
      } finally {
        c.inFlight = false;
      }
      if (!isCurrent(c) || c.stopped) return;
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

    // ------------------------------------------------ operations

    /** POSTs an operation; operations of one chat go out one after the other, in order. */
    function operate(c, body) {
      const p = c.queue.then(() => request('POST', o.operationPath(c.id), body));
      c.queue = p.catch(() => {});
      return p;
    }

    function stopTyping(c, notify = true) {
      clearTimeout(c.typingTimer);
      c.typingTimer = null;
      if (!c.typing) return;
      c.typing = false;
      if (notify && c.state !== 'Idle') operate(c, o.typingStopped).catch(() => {});
    }

    /** For the message field's input event: announces typing, and its end after a pause. */
    function onKeystroke() {
      const c = o.current();
      if (!c || c.state === 'Idle' || !canType(c)) return;
      if (!c.typing) {
        c.typing = true;
        operate(c, o.typingStarted).catch(() => {});
      }
      clearTimeout(c.typingTimer);
      c.typingTimer = setTimeout(() => stopTyping(c), TYPING_IDLE_MS);
    }

    return {
      newChat,
      showError,
      clearError,
      setConnectionLost,
      reportError,
      reset,
      setState,
      applyChat,
      gone,
      updateTyping,
      processMessages,
      schedulePoll,
      pollSoon,
      stopPolling,
      operate,
      stopTyping,
      onKeystroke,
    };
  }

  return {
    STATES,
    REQUEST_TIMEOUT_MS,
    ApiError,
    backoff,
    createClient,
    node,
    setText,
    formatTime,
    renderMessage,
    agentName,
    createChatView,
  };
})();
