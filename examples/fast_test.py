#!/usr/bin/env python3
"""A fast test of a chat widget's flow against gws-emulator, with Python's unittest.

The emulator's clock is frozen and moved forward by the test (POST /__admin/clock), so what takes
half an hour on a real contact centre runs in milliseconds: the agent joins, answers a question,
and the chat is closed for inactivity. Run it against an emulator on its defaults:

  cargo run --release            # in one terminal
  python3 examples/fast_test.py  # in another

  GWS_BASE_URL      the API base            (default http://127.0.0.1:8888/api)
  GWS_APIKEY        the apikey header       (default the documented GWS sample key)
  GWS_ADMIN_TOKEN   the admin token, if the emulator was started with --admin-token
"""
import json
import os
import time
import unittest
import urllib.error
import urllib.request

BASE_URL = (os.environ.get("GWS_BASE_URL") or "http://127.0.0.1:8888/api").rstrip("/")
ADMIN_URL = BASE_URL.rsplit("/api", 1)[0] + "/__admin"
APIKEY = os.environ.get("GWS_APIKEY") or "N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44"
ADMIN_TOKEN = os.environ.get("GWS_ADMIN_TOKEN")


def call(method, url, body=None):
    """Sends a request; returns (HTTP status, JSON answer)."""
    headers = {"apikey": APIKEY, "Content-Type": "application/json"}
    if ADMIN_TOKEN and "/__admin" in url:
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def ok(method, url, body=None):
    status, answer = call(method, url, body)
    if status != 200 or answer.get("statusCode") != 0:
        raise AssertionError(f"{method} {url}: HTTP {status} {answer}")
    return answer


def advance(by):
    """Moves the emulator's time forward; the work that fell due has run when this returns."""
    return ok("POST", f"{ADMIN_URL}/clock", {"advance": by})


class ChatLifeTest(unittest.TestCase):
    def setUp(self):
        ok("POST", f"{ADMIN_URL}/clock", {"freeze": True})
        self.chat = ok("POST", f"{BASE_URL}/v2/chats",
                       {"operationName": "RequestChat", "nickname": "Ada", "subject": "An order"})["path"]
        self.url = BASE_URL + self.chat.removeprefix("/api")
        self.seen = 0

    def new_messages(self):
        """What GetTranscript brings from the first message not seen yet (as a widget polls)."""
        messages = ok("GET", f"{self.url}/messages?index={self.seen + 1}")["messages"]
        if messages:
            self.seen = messages[-1]["index"]
        return messages

    def test_the_agent_joins_answers_and_the_chat_closes_when_abandoned(self):
        started = time.monotonic()
        self.assertEqual(ok("GET", self.url)["chat"]["state"], "WaitingForAgent")

        advance("5s")  # the agent joins within 1-4 s
        chat = ok("GET", self.url)["chat"]
        self.assertEqual(chat["state"], "Chatting")
        self.assertIn("Agent", [p["type"] for p in chat["participants"]])

        self.new_messages()
        ok("POST", self.url, {"operationName": "SendMessage", "text": "Where is my order?"})
        advance("2s")  # the bot answers within 2 s, typing first
        texts = [(m["from"]["type"], m.get("text")) for m in self.new_messages() if m["type"] == "Text"]
        self.assertEqual(texts, [("Customer", "Where is my order?"), ("Agent", "Good question...")])

        advance("30m")  # no customer activity for 30 minutes: the chat is closed
        chat = ok("GET", self.url)["chat"]
        self.assertEqual(chat["state"], "Idle")
        self.assertEqual(chat["capabilities"], [])
        status, answer = call("POST", self.url, {"operationName": "SendMessage", "text": "Hello?"})
        self.assertEqual((status, answer["statusCode"]), (400, 2))

        print(f"\na chat's whole life, 30 minutes and 7 seconds of it, in {time.monotonic() - started:.2f} s")

    def tearDown(self):
        ok("POST", f"{ADMIN_URL}/clock", {"freeze": False})


if __name__ == "__main__":
    unittest.main(verbosity=2)
