#!/usr/bin/env python3
"""A small TAXII 2.1 server for the tests (python3 standard library only).

Follows the TAXII 2.1 OASIS Standard for what a pushing client uses:

  GET  /taxii2/                                discovery
  GET  {api-root}                              api root (versions, max_content_length)
  GET  {api-root}collections/                  collections
  GET  {api-root}collections/{id}/             one collection
  GET  {api-root}collections/{id}/objects/     the stored objects (an envelope)
  POST {api-root}collections/{id}/objects/     add objects: 202 + a status resource
  GET  {api-root}status/{status-id}/           the status (pending, then complete)

Checks: Accept (406) and Content-Type (415) are application/taxii+json;
version=2.1, credentials (401: HTTP Basic or a bearer token), the envelope
shape and every object's type and id (422; a bundle is refused), the size
(413). Every object received is appended to --store (one JSON object per
line, fsynced) before the 202, and statuses are kept beside it, so the
server can be stopped and started again mid-run without losing anything.

    taxii_server.py serve --port 0 --port-file P --store S [options]
    taxii_server.py check --store S --expect IDS     # ids: one per line
"""

import argparse
import base64
import hmac
import json
import os
import re
import signal
import ssl
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MEDIA = "application/taxii+json"
VERSION = "2.1"
ID_RE = re.compile(r"^([a-z0-9][a-z0-9-]*[a-z0-9])--"
                   r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def now_ts():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def media_ok(value, allow_any=False):
    """Whether a header lists application/taxii+json;version=2.1 (Accept may
    have several types; parameters are case-insensitive, spaces allowed)."""
    if value is None:
        return False
    for item in value.split(","):
        parts = [p.strip() for p in item.split(";")]
        mtype = parts[0].lower()
        params = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip().lower()] = v.strip().strip('"')
        if allow_any and mtype in ("*/*", "application/*"):
            return True
        if mtype == MEDIA and params.get("version") == VERSION:
            return True
    return False


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.store_path = args.store
        self.status_path = args.store + ".status.json"
        self.statuses = {}
        self.posts = 0
        if os.path.exists(self.status_path):
            with open(self.status_path) as f:
                self.statuses = json.load(f)
        self.objects = []
        if os.path.exists(self.store_path):
            with open(self.store_path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        self.objects.append(json.loads(line))

    def save_statuses(self):
        tmp = self.status_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.statuses, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.status_path)

    def add(self, objs):
        with open(self.store_path, "a") as f:
            for o in objs:
                f.write(json.dumps(o, sort_keys=True, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.objects.extend(objs)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "taxii-test/1.0"

    # -- plumbing --
    def log_message(self, fmt, *a):
        if self.server.state.args.verbose:
            sys.stderr.write("taxii_server: " + (fmt % a) + "\n")

    def send_json(self, code, body, ctype=MEDIA + ";version=" + VERSION, extra=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, title, desc="", extra=None):
        self.send_json(code, {"title": title, "description": desc,
                              "http_status": str(code)}, extra=extra)

    def authorized(self):
        a = self.server.state.args
        got = self.headers.get("Authorization", "")
        if a.token:
            ok = hmac.compare_digest(got.encode(), ("Bearer " + a.token).encode())
        elif a.user:
            want = "Basic " + base64.b64encode(("%s:%s" % (a.user, a.password)).encode()).decode()
            ok = hmac.compare_digest(got.encode(), want.encode())
        else:
            ok = True
        if not ok:
            self.server.state.unauthorized = getattr(self.server.state, "unauthorized", 0) + 1
            scheme = "Bearer" if a.token else "Basic"
            self.error(401, "Unauthorized", "missing or wrong credentials",
                       {"WWW-Authenticate": '%s realm="taxii"' % scheme})
        return ok

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def route(self):
        a = self.server.state.args
        path = self.path.split("?", 1)[0]
        root = a.api_root
        coll = root + "collections/" + a.collection + "/"
        if path == "/taxii2/":
            return "discovery", None
        if path == root:
            return "api_root", None
        if path == root + "collections/":
            return "collections", None
        if path == coll:
            return "collection", None
        if path == coll + "objects/":
            return "objects", None
        if path.startswith(root + "status/") and path.endswith("/"):
            return "status", path[len(root + "status/"):-1]
        return None, None

    def collection_resource(self):
        return {"id": self.server.state.args.collection, "title": "vigil test collection",
                "can_read": True, "can_write": True,
                "media_types": ["application/stix+json;version=2.1"]}

    # -- methods --
    def do_GET(self):
        st = self.server.state
        what, arg = self.route()
        if what is None:
            return self.error(404, "Not Found", self.path)
        if not self.authorized():
            return
        if not media_ok(self.headers.get("Accept"), allow_any=False):
            return self.error(406, "Not Acceptable", "Accept must be %s;version=%s" % (MEDIA, VERSION))
        a = st.args
        if what == "discovery":
            base = "%s://%s" % ("https" if a.cert else "http", self.headers.get("Host", ""))
            return self.send_json(200, {"title": "vigil test", "default": base + a.api_root,
                                        "api_roots": [base + a.api_root]})
        if what == "api_root":
            return self.send_json(200, {"title": "api root", "versions": [MEDIA + ";version=" + VERSION],
                                        "max_content_length": a.max_content_length})
        if what == "collections":
            return self.send_json(200, {"collections": [self.collection_resource()]})
        if what == "collection":
            return self.send_json(200, self.collection_resource())
        if what == "objects":
            with st.lock:
                objs = list(st.objects)
            return self.send_json(200, {"more": False, "objects": objs})
        if what == "status":
            with st.lock:
                s = st.statuses.get(arg)
                if s is None:
                    return self.error(404, "Not Found", "no status " + arg)
                if s["status"] == "pending":
                    s["_polls"] = s.get("_polls", 0) + 1
                    if s["_polls"] >= a.pending_polls:
                        s["status"] = "complete"
                        s["success_count"] = s["total_count"] - s["failure_count"]
                        s["successes"] = s.pop("pendings", [])
                        s["pending_count"] = 0
                    st.save_statuses()
                out = {k: v for k, v in s.items() if not k.startswith("_")}
            return self.send_json(200, out)
        return self.error(405, "Method Not Allowed")

    def do_POST(self):
        st = self.server.state
        a = st.args
        what, _ = self.route()
        data = self.body()
        if what != "objects":
            return self.error(405 if what else 404, "Not allowed", self.path)
        if not self.authorized():
            return
        if not media_ok(self.headers.get("Accept")):
            return self.error(406, "Not Acceptable", "Accept must be %s;version=%s" % (MEDIA, VERSION))
        ctype = self.headers.get("Content-Type")
        if not media_ok(ctype) or "," in (ctype or ""):
            return self.error(415, "Unsupported Media Type",
                              "Content-Type must be %s;version=%s" % (MEDIA, VERSION))
        if len(data) > a.max_content_length:
            return self.error(413, "Payload Too Large", "max_content_length %d" % a.max_content_length)
        with st.lock:
            st.posts += 1
            nth = st.posts
        if a.delay_ms:
            time.sleep(a.delay_ms / 1000.0)
        if nth <= a.fail_first:
            return self.error(a.fail_status, "Injected failure", "request %d" % nth)
        try:
            env = json.loads(data)
        except ValueError as e:
            return self.error(400, "Bad Request", "not JSON: %s" % e)
        problem = check_envelope(env)
        if problem:
            return self.error(422, "Unprocessable Entity", problem)
        objs = env["objects"]
        if a.reject_id and any(a.reject_id in o["id"] for o in objs):
            return self.error(422, "Unprocessable Entity", "object refused by policy")
        with st.lock:
            st.add(objs)
            sid = str(uuid.uuid4())
            versions = [{"id": o["id"], "version": o.get("modified", o.get("created", now_ts()))}
                        for o in objs]
            s = {"id": sid, "status": "complete", "request_timestamp": now_ts(),
                 "total_count": len(objs), "success_count": len(objs), "failure_count": 0,
                 "pending_count": 0, "successes": versions}
            if a.pending_polls > 0:
                s.update({"status": "pending", "success_count": 0, "pending_count": len(objs),
                          "pendings": versions})
                del s["successes"]
            st.statuses[sid] = s
            st.save_statuses()
            out = {k: v for k, v in s.items() if not k.startswith("_")}
        return self.send_json(202, out)


def check_envelope(env):
    """Why env is not a TAXII 2.1 envelope of STIX objects (None if it is)."""
    if not isinstance(env, dict):
        return "the body must be an envelope object"
    if env.get("type") == "bundle":
        return "TAXII 2.1 takes an envelope {\"objects\": [...]}, not a STIX bundle"
    extra = set(env) - {"objects", "more", "next"}
    if extra:
        return "unexpected envelope properties: %s" % ", ".join(sorted(extra))
    objs = env.get("objects")
    if not isinstance(objs, list) or not objs:
        return "objects must be a non-empty list"
    for o in objs:
        if not isinstance(o, dict):
            return "every object must be a JSON object"
        t, i = o.get("type"), o.get("id")
        if not isinstance(t, str) or not isinstance(i, str):
            return "every object needs a type and an id"
        m = ID_RE.match(i)
        if not m or m.group(1) != t:
            return "bad id %r for type %r" % (i, t)
    return None


def serve(args):
    st = State(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = st
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    if args.verbose:
        sys.stderr.write("taxii_server: listening on 127.0.0.1:%d\n" % port)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()


def check(args):
    seen = {}
    with open(args.store if os.path.exists(args.store) else os.devnull) as f:
        for line in f:
            line = line.strip()
            if line:
                o = json.loads(line)
                seen[o["id"]] = seen.get(o["id"], 0) + 1
    want = [l.strip() for l in open(args.expect) if l.strip()]
    missing = [i for i in want if i not in seen]
    dups = sum(1 for i in want if seen.get(i, 0) > 1)
    print("expected %d received %d missing %d duplicated %d" %
          (len(set(want)), len(seen), len(missing), dups))
    for i in missing[:5]:
        print("missing " + i)
    return 1 if missing else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--store", required=True)
    s.add_argument("--api-root", default="/api1/")
    s.add_argument("--collection", default="91a7b528-80eb-42ed-a74d-c6fbd5a26116")
    s.add_argument("--user")
    s.add_argument("--password", default="")
    s.add_argument("--token")
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--max-content-length", type=int, default=10 << 20)
    s.add_argument("--pending-polls", type=int, default=1,
                   help="status GETs that still answer pending (0: complete at once)")
    s.add_argument("--delay-ms", type=int, default=0, help="slow every POST down")
    s.add_argument("--fail-first", type=int, default=0, help="answer the first N POSTs with --fail-status")
    s.add_argument("--fail-status", type=int, default=503)
    s.add_argument("--reject-id", help="422 for any POST with an object id containing this")
    s.add_argument("--verbose", action="store_true")
    c = sub.add_parser("check")
    c.add_argument("--store", required=True)
    c.add_argument("--expect", required=True)
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
