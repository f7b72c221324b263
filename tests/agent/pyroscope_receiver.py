#!/usr/bin/python3
"""pyroscope_receiver.py — a stand-in for Grafana Pyroscope's ingestion
endpoints that checks every request against the contract conan agent
documents, and fails loudly on any deviation.

  POST /push.v1.PusherService/Push   Connect unary: Content-Type
      application/proto, Connect-Protocol-Version 1, Connect-Timeout-Ms; the
      body a push.v1.PushRequest (decoded with python3-protobuf from the
      repository's cli/proto, compiled by protoc here) with one series of
      valid, sorted, unique labels (__name__ a metric name, service_name set)
      and one RawSample whose ID is a UUID and whose raw_profile is a gzipped
      pprof (decoded with src/profile.proto).
  POST /ingest?name=app{k=v,...}&from=&until=[&format=pprof]   either
      format=pprof with the pprof as the body, or multipart/form-data without
      format, with file parts 'profile' and 'sample_type_config' (JSON naming
      every sample type of the profile). Never both.

Each accepted profile is one JSON line in --log; each deviation one line in
--violations (and the answer is 400); every request, answered or not, one
line in --requests (path, profile ID or ingest name, status), so a test can
check that each ID was acknowledged exactly once.

Faults: --fail-first N --fail-status S answers the first N requests with S
(Connect's JSON error; Retry-After: 1 with 429); --stall-first-s T holds the
first request (or the --stall-request'th) T seconds, then answers it with --stall-status (503 by
default: the client has likely given up, so it is no acknowledgment; the
request is in --requests from its arrival); --down-until-file F binds the
port (and writes it) but refuses connections until F exists.
"""
import argparse
import email.parser
import email.policy
import gzip
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9_./-]+$")
INGEST_LABEL_NAME = re.compile(r"^[a-zA-Z0-9_.]+$")
OWN_LABELS = {"__name__", "__delta__"}  # the only "__" names a client sends
MAX_LABELS = 30  # Pyroscope's default max_label_names_per_series
CONNECT_CODES = {500: "internal", 429: "resource_exhausted", 400: "invalid_argument",
                 401: "unauthenticated", 503: "unavailable"}


class Violation(Exception):
    pass


def compile_protos(source_root, scratch):
    """push_pb2, types_pb2 and profile_pb2 from the repository's protos."""
    os.makedirs(scratch, exist_ok=True)
    subprocess.run(["protoc", "--proto_path=" + os.path.join(source_root, "cli", "proto"),
                    "--python_out=" + scratch, "push.proto", "types.proto"], check=True)
    subprocess.run(["protoc", "--proto_path=" + os.path.join(source_root, "src"),
                    "--python_out=" + scratch, "profile.proto"], check=True)
    sys.path.insert(0, scratch)
    import push_pb2  # noqa: E402
    import profile_pb2  # noqa: E402
    return push_pb2, profile_pb2


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.count = 0

    def next_request(self):
        with self.lock:
            self.count += 1
            return self.count

    def append(self, path, record):
        with self.lock:
            with open(path, "a") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")


def check_pprof(profile_pb2, data, gzipped_required):
    """The profile's summary; Violation when data is not a valid pprof."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except Exception as e:
            raise Violation("profile: bad gzip: %s" % e)
    elif gzipped_required:
        raise Violation("profile: not gzipped (conan sends the dump file as it is)")
    p = profile_pb2.Profile()
    try:
        p.ParseFromString(data)
    except Exception as e:
        raise Violation("profile: not a pprof protobuf: %s" % e)
    st = p.string_table
    if not st or st[0] != "":
        raise Violation("profile: string_table[0] is not the empty string")
    if not p.sample_type:
        raise Violation("profile: no sample types")
    types = []
    for vt in p.sample_type:
        if not (0 < vt.type < len(st)) or not (0 <= vt.unit < len(st)):
            raise Violation("profile: a sample type's string index is out of range")
        if "-" in st[vt.type]:
            raise Violation("profile: sample type %r has a '-' (Pyroscope refuses it)" % st[vt.type])
        types.append(st[vt.type])
    ids = set()
    for loc in p.location:
        if loc.id == 0:
            raise Violation("profile: a location has id 0")
        ids.add(loc.id)
    for fn in p.function:
        if fn.id == 0:
            raise Violation("profile: a function has id 0")
    sums = [0] * len(types)
    for s in p.sample:
        if len(s.value) != len(types):
            raise Violation("profile: a sample has %d values for %d types" % (len(s.value), len(types)))
        for loc in s.location_id:
            if loc not in ids:
                raise Violation("profile: a sample names location %d, which is not there" % loc)
        for i, v in enumerate(s.value):
            sums[i] += v
    return {"sample_types": types, "samples": len(p.sample), "sums": dict(zip(types, sums))}


def check_labels(pairs):
    names = [n for n, _ in pairs]
    if names != sorted(names):
        raise Violation("labels not sorted by name: %s" % names)
    if len(set(names)) != len(names):
        raise Violation("a label name given twice: %s" % names)
    if len(names) > MAX_LABELS:
        raise Violation("%d labels; Pyroscope's default limit is %d" % (len(names), MAX_LABELS))
    for n, v in pairs:
        if not LABEL_NAME.match(n):
            raise Violation("invalid label name %r" % n)
        if n.startswith("__") and n not in OWN_LABELS:
            raise Violation("label %r: names starting with '__' are Pyroscope's own" % n)
        if len(n) > 1024 or len(v) > 2048:
            raise Violation("label %r: name or value too long" % n)
        if v == "":
            raise Violation("label %r has an empty value" % n)
    labels = dict(pairs)
    if "__name__" not in labels or not METRIC_NAME.match(labels["__name__"]):
        raise Violation("__name__ missing or not a metric name: %r" % labels.get("__name__"))
    if not labels.get("service_name"):
        raise Violation("service_name missing")
    if "__delta__" in labels and labels["__delta__"] not in ("true", "false"):
        raise Violation("__delta__ is %r" % labels["__delta__"])
    return labels


def parse_ingest_name(name):
    """app{k=v,...} the way Pyroscope's labelset.Parse reads it, stricter."""
    m = re.match(r"^([^{}]*)\{(.*)\}$", name, re.S)
    if not m:
        raise Violation("ingest name %r is not app{k=v,...}" % name)
    app, inner = m.group(1), m.group(2)
    if not SERVICE_NAME.match(app):
        raise Violation("ingest name: app %r has characters a service name cannot" % app)
    labels = {}
    if inner:
        for part in inner.split(","):
            if "=" not in part:
                raise Violation("ingest name: %r is not k=v" % part)
            k, v = part.split("=", 1)
            if "}" in v or "{" in k:
                raise Violation("ingest name: %r holds a brace" % part)
            if not LABEL_NAME.match(k) or not INGEST_LABEL_NAME.match(k):
                raise Violation("ingest name: invalid label name %r" % k)
            if k.startswith("__"):
                raise Violation("ingest name: label %r is the server's to set" % k)
            if k in labels:
                raise Violation("ingest name: label %r given twice" % k)
            if v.strip() != v or v == "":
                raise Violation("ingest name: label %r has an empty or padded value" % k)
            labels[k] = v
    return app, labels


def parse_multipart(content_type, body):
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise Violation("multipart body does not parse as multipart/form-data")
    parts = {}
    for part in msg.iter_parts():
        disp = part.get("Content-Disposition", "")
        if not disp.startswith("form-data"):
            raise Violation("a part is not form-data: %r" % disp)
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        if not name:
            raise Violation("a part has no name")
        if name in parts:
            raise Violation("part %r given twice" % name)
        if not filename:
            # Pyroscope reads form.File only: a part without a filename is lost.
            raise Violation("part %r has no filename (Pyroscope would ignore it)" % name)
        parts[name] = part.get_payload(decode=True) or b""
    return parts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pyroscope-receiver"

    def log_message(self, fmt, *args):  # quiet: the logs are the files
        pass

    def do_GET(self):
        self.reject_method()

    def do_PUT(self):
        self.reject_method()

    def reject_method(self):
        st = self.server.state
        st.append(st.args.violations, {"violation": "method %s %s" % (self.command, self.path)})
        self.answer(405, b"method not allowed\n", "text/plain")

    def do_POST(self):
        st = self.server.state
        n = st.next_request()
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding"):
            st.append(st.args.violations, {"violation": "chunked body (no Content-Length)", "path": self.path})
        url = urllib.parse.urlsplit(self.path)
        record = {"n": n, "path": url.path}
        try:
            self.check_auth()
            if url.path == "/push.v1.PusherService/Push":
                accepted = self.push(body, record)
            elif url.path == "/ingest":
                accepted = self.ingest(url.query, body, record)
            else:
                raise Violation("unknown path %r" % self.path)
        except Violation as v:
            record["status"] = 400
            st.append(st.args.violations, {"violation": str(v), "path": self.path, "n": n})
            st.append(st.args.requests, record)
            self.error(400, str(v), url.path)
            return
        accepted["tenant"] = self.headers.get("X-Scope-OrgID")
        accepted["user_agent"] = self.headers.get("User-Agent")
        if n <= st.args.fail_first:
            record["status"] = st.args.fail_status
            st.append(st.args.requests, record)
            self.error(st.args.fail_status, "fault injected (request %d)" % n, url.path)
            return
        if n == st.args.stall_request and st.args.stall_first_s > 0:
            # Recorded on arrival (a test may stop the receiver mid-stall),
            # answered with --stall-status when the stall ends: by default 503,
            # so an answer the client may no longer be waiting for never
            # counts as an acknowledgment.
            record.update(stalled=True, status=st.args.stall_status)
            st.append(st.args.requests, record)
            time.sleep(st.args.stall_first_s)
            if st.args.stall_status == 200:
                st.append(st.args.log, accepted)
                self.answer(200, b"", "text/plain" if url.path == "/ingest" else "application/proto")
            else:
                self.error(st.args.stall_status, "stalled %g s" % st.args.stall_first_s, url.path)
            return
        record["status"] = 200
        st.append(st.args.requests, record)
        st.append(st.args.log, accepted)
        if url.path == "/ingest":
            self.answer(200, b"", "text/plain")
        else:
            self.answer(200, b"", "application/proto")  # an empty PushResponse

    def check_auth(self):
        a = self.server.state.args
        if a.expect_tenant is not None and self.headers.get("X-Scope-OrgID") != a.expect_tenant:
            raise Violation("X-Scope-OrgID is %r, not %r" % (self.headers.get("X-Scope-OrgID"), a.expect_tenant))
        if a.expect_authorization is not None and self.headers.get("Authorization") != a.expect_authorization:
            raise Violation("Authorization is %r, not the expected one" % self.headers.get("Authorization"))
        if a.expect_authorization is None and self.headers.get("Authorization") is not None:
            raise Violation("an Authorization header was sent with no credentials configured")

    def push(self, body, record):
        h = self.headers
        if h.get("Content-Type") != "application/proto":
            raise Violation("Content-Type is %r, not application/proto" % h.get("Content-Type"))
        if h.get("Connect-Protocol-Version") != "1":
            raise Violation("Connect-Protocol-Version is %r, not 1" % h.get("Connect-Protocol-Version"))
        timeout = h.get("Connect-Timeout-Ms")
        if timeout is None or not re.match(r"^[0-9]{1,10}$", timeout) or int(timeout) == 0:
            raise Violation("Connect-Timeout-Ms is %r, not a positive integer of at most 10 digits" % timeout)
        if h.get("Content-Encoding", "identity") != "identity":
            raise Violation("Content-Encoding %r was not asked for" % h.get("Content-Encoding"))
        push_pb2 = self.server.push_pb2
        req = push_pb2.PushRequest()
        try:
            req.ParseFromString(body)
        except Exception as e:
            raise Violation("body is not a PushRequest: %s" % e)
        if len(req.series) != 1:
            raise Violation("%d series; conan sends one per dump" % len(req.series))
        series = req.series[0]
        labels = check_labels([(lp.name, lp.value) for lp in series.labels])
        if len(series.samples) != 1:
            raise Violation("%d samples in the series; conan sends one per dump" % len(series.samples))
        sample = series.samples[0]
        try:
            parsed = uuid.UUID(sample.ID)
        except ValueError:
            raise Violation("sample ID %r is not a UUID" % sample.ID)
        if str(parsed) != sample.ID.lower():
            raise Violation("sample ID %r is not in the 8-4-4-4-12 form" % sample.ID)
        record["id"] = sample.ID
        summary = check_pprof(self.server.profile_pb2, sample.raw_profile, True)
        return dict(summary, api="push", labels=labels, name=labels["__name__"], id=sample.ID,
                    bytes=len(sample.raw_profile))

    def ingest(self, query, body, record):
        q = urllib.parse.parse_qs(query, keep_blank_values=True, strict_parsing=True)
        for k, v in q.items():
            if len(v) != 1:
                raise Violation("query parameter %r given %d times" % (k, len(v)))
        q = {k: v[0] for k, v in q.items()}
        for k in q:
            if k not in ("name", "from", "until", "format", "spyName", "sampleRate", "units", "aggregationType"):
                raise Violation("unknown query parameter %r" % k)
        if "name" not in q:
            raise Violation("no name parameter")
        app, labels = parse_ingest_name(q["name"])
        record["name"] = q["name"]
        for k in ("from", "until"):
            if not re.match(r"^[0-9]+$", q.get(k, "")):
                raise Violation("%s is %r, not Unix seconds" % (k, q.get(k)))
        start, end = int(q["from"]), int(q["until"])
        if start > end:
            raise Violation("from %d is after until %d" % (start, end))
        if abs(time.time() - end) > 7 * 86400:
            raise Violation("until %d is not near now" % end)
        ctype = self.headers.get("Content-Type", "")
        form = q.get("format")
        if form is not None:
            if form != "pprof":
                raise Violation("format is %r; conan sends pprof" % form)
            if "multipart/form-data" in ctype:
                raise Violation("format=pprof with a multipart body: Pyroscope would read the form as a pprof")
            summary = check_pprof(self.server.profile_pb2, body, True)
            body_form = "raw"
        else:
            if not ctype.startswith("multipart/form-data") or "boundary=" not in ctype:
                raise Violation("no format and Content-Type %r is not multipart/form-data" % ctype)
            parts = parse_multipart(ctype, body)
            if set(parts) != {"profile", "sample_type_config"}:
                raise Violation("form parts are %s, not profile and sample_type_config" % sorted(parts))
            summary = check_pprof(self.server.profile_pb2, parts["profile"], True)
            try:
                config = json.loads(parts["sample_type_config"])
            except ValueError as e:
                raise Violation("sample_type_config is not JSON: %s" % e)
            if not isinstance(config, dict) or set(config) != set(summary["sample_types"]):
                raise Violation("sample_type_config names %s, the profile has %s" %
                                (sorted(config) if isinstance(config, dict) else config, summary["sample_types"]))
            for t, c in config.items():
                if not isinstance(c, dict) or not set(c) <= {"units", "display-name", "aggregation", "cumulative",
                                                             "sampled"}:
                    raise Violation("sample_type_config[%r] is %r" % (t, c))
                if c.get("aggregation", "sum") not in ("sum", "average"):
                    raise Violation("sample_type_config[%r].aggregation is %r" % (t, c.get("aggregation")))
                if c.get("cumulative", False) is not False:
                    raise Violation("sample_type_config[%r] is cumulative: a dump is a whole profile" % t)
            body_form = "multipart"
        return dict(summary, api="ingest", body=body_form, app=app, labels=labels, start=start, end=end,
                    spy=q.get("spyName"))

    def error(self, status, message, path):
        headers = {}
        if status == 429:
            headers["Retry-After"] = "1"
        if path == "/push.v1.PusherService/Push":
            body = json.dumps({"code": CONNECT_CODES.get(status, "unknown"), "message": message}).encode()
            self.answer(status, body, "application/json", headers)
        else:
            self.answer(status, (message + "\n").encode(), "text/plain", headers)

    def answer(self, status, body, ctype, headers=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (a stalled answer)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--scratch", required=True, help="where protoc's Python modules go")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True, help="accepted profiles, one JSON line each")
    ap.add_argument("--violations", required=True)
    ap.add_argument("--requests", required=True, help="every request and its answer")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=500)
    ap.add_argument("--stall-first-s", type=float, default=0)
    ap.add_argument("--stall-request", type=int, default=1, help="which request --stall-first-s holds (1 = the first)")
    ap.add_argument("--stall-status", type=int, default=503, help="the stalled request's answer")
    ap.add_argument("--down-until-file")
    ap.add_argument("--expect-tenant")
    ap.add_argument("--expect-authorization")
    args = ap.parse_args()
    for path in (args.log, args.violations, args.requests):
        open(path, "a").close()
    push_pb2, profile_pb2 = compile_protos(args.source_root, args.scratch)
    server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.server_bind()  # bound, not listening: connections are refused
    server.state = State(args)
    server.push_pb2, server.profile_pb2 = push_pb2, profile_pb2
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    while args.down_until_file and not os.path.exists(args.down_until_file):
        time.sleep(0.05)
    server.server_activate()
    server.serve_forever()


if __name__ == "__main__":
    main()
