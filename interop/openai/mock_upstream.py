"""A small OpenAI-compatible upstream for the interop run (Python stdlib only, 127.0.0.1).

POST /v1/chat/completions answers "mock reply to: <last user message>" as JSON or as server-sent
events (one chunk per word, a usage chunk when stream_options.include_usage is set), always reporting
7 prompt and 3 completion tokens. It requires `Authorization: Bearer $MOCK_UPSTREAM_KEY`, so the run
also proves the router sends the upstream's key from the environment. Every request it served is
appended to the file named by argv[2] as one JSON line.
Usage: mock_upstream.py PORT LOG_FILE
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROMPT, COMPLETION = 7, 3
KEY = os.environ["MOCK_UPSTREAM_KEY"]
LOG = sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the run's output quiet
        pass

    def reply_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self.reply_json(401, {"error": {"message": "bad upstream key", "type": "invalid_request_error",
                                                   "code": "invalid_api_key", "param": None}})
        if self.path != "/v1/chat/completions":
            return self.reply_json(404, {"error": {"message": "no route", "type": "invalid_request_error",
                                                   "code": None, "param": None}})
        with open(LOG, "a") as log:
            log.write(json.dumps(body) + "\n")
        model = body.get("model", "")
        last = body["messages"][-1]["content"]
        text = f"mock reply to: {last}"
        usage = {"prompt_tokens": PROMPT, "completion_tokens": COMPLETION, "total_tokens": PROMPT + COMPLETION}
        base = {"id": "chatcmpl-mock", "created": 1, "model": model}
        if not body.get("stream"):
            return self.reply_json(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def send(event):
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()

        chunk = {**base, "object": "chat.completion.chunk"}
        send({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            send({**chunk, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        send({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            send({**chunk, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
