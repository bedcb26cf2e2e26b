#!/usr/bin/env node
// A complete customer chat with the GWS chat API (gws-emulator), in Node.js 18+ with its built-in
// fetch and no packages: `node examples/chat.js`.
//
// RequestChat, typing notifications, SendMessage, then poll GetTranscript until the agent replies,
// Complete, and print the whole transcript. Every request and answer is printed; any failure stops
// the script with "error: ..." on stderr and exit status 1.
//
//   GWS_BASE_URL  the API base            (default http://127.0.0.1:8888/api)
//   GWS_APIKEY    the apikey header       (default the documented GWS sample key)
//   GWS_TIMEOUT   seconds to wait for the agent's reply (default 30)
'use strict';

const BASE_URL = (process.env.GWS_BASE_URL || 'http://127.0.0.1:8888/api').replace(/\/+$/, '');
const APIKEY = process.env.GWS_APIKEY || 'N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44';

class ChatError extends Error {}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends a request, prints it and the answer; returns the answer if HTTP 200 and statusCode 0. */
async function call(method, url, body) {
  const init = { method, headers: { apikey: APIKEY }, signal: AbortSignal.timeout(10_000) };
  console.log(`-> ${method} ${url}`);
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
    console.log(`   ${init.body}`);
  }
  let response, text;
  try {
    response = await fetch(url, init);
    text = await response.text();
  } catch (e) {
    // fetch rejects on connection refused, unknown host, timeout, ...; the cause says which.
    throw new ChatError(
      `cannot reach ${url}: ${e.cause?.message ?? e.message} (is the emulator running? ` +
        "Start it with 'cargo run --release', or set GWS_BASE_URL)",
    );
  }
  console.log(`<- ${response.status} ${text}`);
  let answer = {};
  try {
    answer = JSON.parse(text) ?? {};
  } catch {
    // not JSON: reported below as a missing statusCode
  }
  if (response.status !== 200 || answer.statusCode !== 0) {
    throw new ChatError(
      `${method} ${url} failed (HTTP ${response.status}, statusCode ${answer.statusCode ?? 'missing'}): ` +
        (answer.statusMessage ?? ''),
    );
  }
  return answer;
}

/** Polls GetTranscript from the first message not seen yet until an agent's Text arrives. */
async function waitForAgentReply(chatUrl, timeoutSeconds) {
  let nextIndex = 1;
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const { messages } = await call('GET', `${chatUrl}/messages?index=${nextIndex}`);
    for (const message of messages) {
      nextIndex = message.index + 1;
      if (message.type === 'Text' && message.from.type === 'Agent') return message;
    }
    if (Date.now() > deadline) throw new ChatError(`no reply from an agent within ${timeoutSeconds} s`);
    await sleep(500);
  }
}

async function main() {
  const timeout = Number(process.env.GWS_TIMEOUT || 30);
  if (!(timeout >= 0)) {
    throw new ChatError(`GWS_TIMEOUT must be a number of seconds, not '${process.env.GWS_TIMEOUT}'`);
  }

  const chat = await call('POST', `${BASE_URL}/v2/chats`, {
    operationName: 'RequestChat',
    nickname: 'James',
    subject: 'Question about relativity',
    userData: { customerId: 'C-1024', source: 'examples/chat.js' },
  });
  const chatUrl = `${BASE_URL}/v2/chats/${chat.id}`;

  // As a chat widget does: typing starts with the first keystroke and stops as the message goes out.
  await call('POST', chatUrl, { operationName: 'SendStartTypingNotification' });
  await call('POST', chatUrl, { operationName: 'SendStopTypingNotification' });
  await call('POST', chatUrl, { operationName: 'SendMessage', text: 'Is anyone there?' });

  const reply = await waitForAgentReply(chatUrl, timeout);
  console.log(`\n${reply.from.nickname} answered: ${reply.text}\n`);

  await call('POST', chatUrl, { operationName: 'Complete' });
  const { messages } = await call('GET', `${chatUrl}/messages?index=1`);

  console.log('\nTranscript:');
  for (const m of messages) {
    console.log(
      `${String(m.index).padStart(4)}  ${m.from.nickname.padEnd(10)} ${m.type.padEnd(18)} ${m.text ?? ''}`,
    );
  }
}

main().catch((e) => {
  console.error(`error: ${e instanceof ChatError ? e.message : e.stack}`);
  process.exitCode = 1;
});
