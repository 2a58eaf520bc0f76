"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI API
(chat and plain completions, ``n``, usage, errors) to test generation: it
serves scripted replies and can answer 429 with Retry-After, 500, stall, or
drop the connection."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (prompt, choice number) -> the text, or {"content", "reasoning_content"?, "finish_reason"?}
Reply = Callable[[str, int], "str | dict[str, str]"]


class FakeOpenAI:
    def __init__(self, reply: Reply, honour_n: bool = True) -> None:
        self.reply = reply
        self.honour_n = honour_n
        self.script: list[str] = []  # per request: ok | 429 | 500 | stall | drop
        self.requests: list[dict] = []
        self.times: list[float] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server.lock:
                    server.requests.append(body)
                    server.times.append(time.monotonic())
                    action = server.script.pop(0) if server.script else "ok"
                if action == "drop":
                    self.connection.close()
                    return
                if action == "stall":
                    time.sleep(5)
                if action in ("429", "500"):
                    self.send_json(int(action), {"error": {"message": f"scripted {action}", "type": "server_error"}},
                                   {"Retry-After": "1"} if action == "429" else {})
                    return
                self.send_json(200, server.answer(self.path, body))

            def send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that gave up on a stalled reply are expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        # a short poll interval: shutdown() waits for it (the default 0.5 s, after every test)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def answer(self, path: str, body: dict) -> dict:
        chat = path.endswith("/chat/completions")
        prompt = body["messages"][-1]["content"] if chat else body["prompt"]
        n = int(body.get("n", 1)) if self.honour_n else 1
        with self.lock:
            first = sum(int(r.get("n", 1)) for r in self.requests[:-1] if self._prompt(r) == prompt)
        replies = [self.reply(prompt, first + i) for i in range(n)]
        replies = [r if isinstance(r, dict) else {"content": r} for r in replies]
        if chat:
            choices = [{"index": i, "finish_reason": r.get("finish_reason", "stop"),
                        "message": {"role": "assistant", **{k: v for k, v in r.items() if k != "finish_reason"}}}
                       for i, r in enumerate(replies)]
            kind = "chat.completion"
        else:
            choices = [{"index": i, "finish_reason": r.get("finish_reason", "stop"), "text": r["content"],
                        "logprobs": None} for i, r in enumerate(replies)]
            kind = "text_completion"
        return {"id": "cmpl-1", "object": kind, "created": 0, "model": body.get("model", "fake"),
                "choices": choices,
                "usage": {"prompt_tokens": 10, "completion_tokens": 7 * n, "total_tokens": 10 + 7 * n}}

    @staticmethod
    def _prompt(body: dict) -> str:
        return body["messages"][-1]["content"] if "messages" in body else body.get("prompt", "")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
