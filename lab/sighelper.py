#!/usr/bin/env python3
"""Tiny signaling helper for the deployment lab (lab/deploy-lab.sh).

One copy runs on the loopback of each browser's namespace. It serves the lab's page
(call.html) and a key/value store under /sig/ backed by a directory that both
namespaces share (namespaces share the filesystem), so the guest's offer and the
CMS stand-in's answer travel through files, never through the lab's networks.

    sighelper.py PAGE_DIR SIG_DIR PORT      (listens on 127.0.0.1:PORT only)
"""
import http.server
import os
import sys

PAGE_DIR, SIG_DIR, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=PAGE_DIR, **k)

    def _key(self):
        key = self.path.split("?", 1)[0][len("/sig/"):]
        return key if key.isalnum() else None

    def do_GET(self):
        if not self.path.startswith("/sig/"):
            return super().do_GET()
        key = self._key()
        path = os.path.join(SIG_DIR, key) if key else None
        if not path or not os.path.exists(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        key = self._key() if self.path.startswith("/sig/") else None
        if not key:
            self.send_error(400)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        tmp = os.path.join(SIG_DIR, "." + key)
        with open(tmp, "wb") as f:  # write then rename: the other side never reads half
            f.write(body)
        os.replace(tmp, os.path.join(SIG_DIR, key))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
