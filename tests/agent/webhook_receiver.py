#!/usr/bin/python3
"""webhook_receiver.py — a local stand-in for the chat services conan agent's
webhooks post to, holding each to its documented contract and failing loudly:
every deviation is written to the violations file (which the test asserts is
empty) and answered 400.

  feishu  Feishu custom bot: POST JSON {"timestamp","sign","msg_type":"text",
          "content":{"text"}}, sign = base64(HMAC-SHA256(key = timestamp "\\n"
          secret, message = "")), the timestamp within an hour of this clock,
          the body at most 20 KB; answers HTTP 200 {"code":0,...}, or the code
          Feishu gives a refused message (19021 for a bad signature).
  slack   Slack incoming webhook: POST JSON {"text"} and nothing else, text at
          most 40,000 characters; answers 200 "ok".
  json    the event object plus "host" (and "link"); answers 200.

Accepted messages go to --log as JSON lines ({"body": ...}); every request,
accepted or not, to --requests ({"status", "code", "time"}). Faults:
--fail-first N answers the first N requests with --fail-status S (a 429 carries
Retry-After: 1), or in feishu mode with HTTP 200 and --fail-code C.

  webhook_receiver.py --sign TIMESTAMP SECRET   prints Feishu's sign (for tests)
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

FEISHU_WINDOW_S = 3600          # "a timestamp no more than one hour from now"
FEISHU_MAX_BODY = 20 * 1024     # "the request body must not exceed 20 KB"
SLACK_MAX_TEXT = 40000          # Slack truncates text after 40,000 characters
FEISHU_SIGN_FAIL = {"code": 19021, "data": {},
                    "msg": "sign match fail or timestamp is not within one hour from current time"}


def feishu_sign(timestamp, secret):
    key = (timestamp + "\n" + secret).encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class Receiver:
    def __init__(self, args):
        self.args = args
        self.secret = None
        if args.secret_file:
            with open(args.secret_file) as f:
                self.secret = f.readline().rstrip("\r\n")
        self.lock = threading.Lock()
        self.count = 0

    def append(self, path, obj):
        if not path:
            return
        with self.lock, open(path, "a") as f:
            f.write(json.dumps(obj) + "\n")

    def violation(self, why):
        self.append(self.args.violations, {"mode": self.args.mode, "violation": why})

    # Each check returns (http status, answer headers, answer body, accepted).
    def feishu(self, body, raw):
        if len(raw) > FEISHU_MAX_BODY:
            return self.refuse(f"body of {len(raw)} bytes, over Feishu's 20 KB")
        want = {"msg_type", "content"} | ({"timestamp", "sign"} if self.secret is not None else set())
        if set(body) != want:
            return self.refuse(f"keys {sorted(body)}, want {sorted(want)}")
        if body["msg_type"] != "text":
            return self.refuse(f"msg_type {body['msg_type']!r}, want 'text'")
        content = body["content"]
        if not isinstance(content, dict) or set(content) != {"text"} or not isinstance(content["text"], str):
            return self.refuse(f"content {content!r} is not {{\"text\": string}}")
        if not content["text"].strip():
            return self.refuse("empty text")
        if self.secret is not None:
            ts = body["timestamp"]
            if not isinstance(ts, str) or not ts.isdigit():
                return self.refuse(f"timestamp {ts!r} is not Unix seconds as a string")
            if abs(time.time() - int(ts)) > FEISHU_WINDOW_S:
                return self.refuse(f"timestamp {ts} is more than an hour from {int(time.time())}")
            if not isinstance(body["sign"], str):
                return self.refuse(f"sign {body['sign']!r} is not a string")
            if not hmac.compare_digest(body["sign"], feishu_sign(ts, self.secret)):
                # What Feishu answers; not a violation of the contract by the
                # sender's code when the test gave it another secret on purpose.
                return 200, {"Content-Type": "application/json"}, json.dumps(FEISHU_SIGN_FAIL), False
        return 200, {"Content-Type": "application/json"}, json.dumps({"code": 0, "data": {}, "msg": "success"}), True

    def slack(self, body, raw):
        if set(body) != {"text"} or not isinstance(body["text"], str):
            return self.refuse(f"keys {sorted(body)}, want just a \"text\" string")
        if not body["text"].strip():
            return self.refuse("empty text")
        if len(body["text"]) > SLACK_MAX_TEXT:
            return self.refuse(f"text of {len(body['text'])} characters, over Slack's {SLACK_MAX_TEXT}")
        return 200, {"Content-Type": "text/plain"}, "ok", True

    def json(self, body, raw):
        for key, kind in (("host", str), ("time", str), ("pid", int), ("app", str), ("kind", str), ("file", str)):
            if not isinstance(body.get(key), kind):
                return self.refuse(f"{key} is {body.get(key)!r}, want a {kind.__name__}")
        return 200, {"Content-Type": "application/json"}, "{}", True

    def refuse(self, why):
        self.violation(why)
        return 400, {"Content-Type": "text/plain"}, why, False

    def fault(self):
        a = self.args
        if a.mode == "feishu" and a.fail_code:
            return 200, {"Content-Type": "application/json"}, json.dumps(
                {"code": a.fail_code, "data": {}, "msg": "frequency limited (test fault)"})
        headers = {"Content-Type": "text/plain"}
        if a.fail_status == 429:
            headers["Retry-After"] = "1"
        return a.fail_status, headers, f"test fault {a.fail_status}"

    def handle(self, method, headers, raw):
        with self.lock:
            self.count += 1
            n = self.count
        if method != "POST":
            return self.refuse(f"method {method}, want POST") + (None,)
        ctype = headers.get("Content-Type", "")
        if ctype.split(";")[0].strip() != "application/json":
            return self.refuse(f"Content-Type {ctype!r}, want application/json") + (None,)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return self.refuse(f"body is not UTF-8 JSON: {e}: {raw[:200]!r}") + (None,)
        if not isinstance(body, dict):
            return self.refuse(f"body is {type(body).__name__}, want an object") + (None,)
        status, hdrs, answer, accepted = getattr(self, self.args.mode)(body, raw)
        if status == 200 and n <= self.args.fail_first:
            status, hdrs, answer = self.fault()
            accepted = False
        if accepted:
            self.append(self.args.log, {"body": body})
        return status, hdrs, answer, accepted, body


def make_handler(receiver):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def respond(self, method):
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length) if length > 0 else b""
            status, hdrs, answer, accepted, body = receiver.handle(method, self.headers, raw)
            code = None
            if receiver.args.mode == "feishu" and status == 200:
                code = json.loads(answer).get("code")
            receiver.append(receiver.args.requests, {"status": status, "code": code, "accepted": accepted,
                                                     "time": time.time()})
            data = answer.encode()
            self.send_response(status)
            for k, v in hdrs.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self.respond("POST")

        def do_GET(self):
            self.respond("GET")

        def do_PUT(self):
            self.respond("PUT")

        def log_message(self, fmt, *args):
            pass

    return Handler


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sign", nargs=2, metavar=("TIMESTAMP", "SECRET"))
    p.add_argument("--mode", choices=["feishu", "slack", "json"])
    p.add_argument("--port-file")
    p.add_argument("--secret-file")
    p.add_argument("--log")
    p.add_argument("--requests")
    p.add_argument("--violations")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=500)
    p.add_argument("--fail-code", type=int, default=0)
    args = p.parse_args()
    if args.sign:
        print(feishu_sign(*args.sign))
        return
    if not args.mode or not args.port_file or not args.violations:
        p.error("--mode, --port-file and --violations are required")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(Receiver(args)))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
