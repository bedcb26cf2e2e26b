#!/usr/bin/env python3
"""A complete customer chat with the GWS chat API (gws-emulator), in Python's standard library.

RequestChat, typing notifications, SendMessage, then poll GetTranscript until the agent replies,
Complete, and print the whole transcript. Every request and answer is printed; any failure stops
the script with "error: ..." on stderr and exit status 1.

  GWS_BASE_URL  the API base            (default http://127.0.0.1:8888/api)
  GWS_APIKEY    the apikey header       (default the documented GWS sample key)
  GWS_TIMEOUT   seconds to wait for the agent's reply (default 30)
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE_URL = (os.environ.get("GWS_BASE_URL") or "http://127.0.0.1:8888/api").rstrip("/")
APIKEY = os.environ.get("GWS_APIKEY") or "N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44"


class ChatError(Exception):
    pass


def call(method, url, body=None):
    """Sends a request, prints it and the answer; returns the answer if HTTP 200 and statusCode 0."""
    data = None if body is None else json.dumps(body).encode()
    print(f"-> {method} {url}")
    if data:
        print(f"   {data.decode()}")
    request = urllib.request.Request(
        url, data=data, method=method, headers={"apikey": APIKEY, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:  # a 4xx or 5xx answer: still print it
        status, text = e.code, e.read().decode()
    except OSError as e:  # connection refused, unknown host, timeout, ...
        reason = getattr(e, "reason", e)
        raise ChatError(
            f"cannot reach {url}: {reason} (is the emulator running? "
            "Start it with 'cargo run --release', or set GWS_BASE_URL)"
        ) from None
    print(f"<- {status} {text}")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = {}
    if status != 200 or answer.get("statusCode") != 0:
        raise ChatError(
            f"{method} {url} failed (HTTP {status}, statusCode {answer.get('statusCode', 'missing')}): "
            f"{answer.get('statusMessage', '')}"
        )
    return answer


def wait_for_agent_reply(chat_url, timeout):
    """Polls GetTranscript from the first message not seen yet until an agent's Text arrives."""
    next_index = 1
    deadline = time.monotonic() + timeout
    while True:
        for message in call("GET", f"{chat_url}/messages?index={next_index}")["messages"]:
            next_index = message["index"] + 1
            if message["type"] == "Text" and message["from"]["type"] == "Agent":
                return message
        if time.monotonic() > deadline:
            raise ChatError(f"no reply from an agent within {timeout:g} s")
        time.sleep(0.5)


def main():
    try:
        timeout = float(os.environ.get("GWS_TIMEOUT") or 30)
    except ValueError:
        raise ChatError(f"GWS_TIMEOUT must be a number of seconds, not {os.environ['GWS_TIMEOUT']!r}")

    chat = call("POST", f"{BASE_URL}/v2/chats", {
        "operationName": "RequestChat",
        "nickname": "James",
        "subject": "Question about relativity",
        "userData": {"customerId": "C-1024", "source": "examples/chat.py"},
    })
    chat_url = f"{BASE_URL}/v2/chats/{chat['id']}"

    # As a chat widget does: typing starts with the first keystroke and stops as the message goes out.
    call("POST", chat_url, {"operationName": "SendStartTypingNotification"})
    call("POST", chat_url, {"operationName": "SendStopTypingNotification"})
    call("POST", chat_url, {"operationName": "SendMessage", "text": "Is anyone there?"})

    reply = wait_for_agent_reply(chat_url, timeout)
    print(f"\n{reply['from']['nickname']} answered: {reply['text']}\n")

    call("POST", chat_url, {"operationName": "Complete"})
    transcript = call("GET", f"{chat_url}/messages?index=1")["messages"]

    print("\nTranscript:")
    for m in transcript:
        print(f"{m['index']:>4}  {m['from']['nickname']:<10} {m['type']:<18} {m.get('text', '')}")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # keep stdout and stderr in order when piped
    try:
        main()
    except ChatError as e:
        sys.exit(f"error: {e}")
