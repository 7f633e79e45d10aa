#!/usr/bin/env python3
"""Save a guest Chromium's chrome://webrtc-internals dumps, the way a guest would (lab/deploy-lab.sh, DUMP=1).

    webrtc-dump.py PORT CALL_URL OUTDIR SAVE_AFTER_SECONDS

Runs in the guest's namespace beside a headless Chromium started with
--remote-debugging-port=PORT (it listens on the namespace's loopback only). Through the
DevTools protocol it opens chrome://webrtc-internals first, then the call page in a window of
its own (so the internals tab stays visible and keeps polling getStats), waits, and clicks the
page's two download buttons, exactly as a guest following the Cisco guides would:

  - "Download the PeerConnection updates and stats data" -> webrtc_internals_dump.gz (or .txt
    when the page's compression checkbox is off),
  - the RTCStats dump button -> rtcstats_dump.gz.

The files land in OUTDIR. Nothing is made up here: the bytes are what the page writes.
Needs the websocket-client package (PyPI `websocket-client`, Debian `python3-websocket`).
"""
import json
import os
import sys
import time
import urllib.request

import websocket

PORT, CALL_URL, OUTDIR, SAVE_AFTER = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
START = time.monotonic()
# The buttons of chrome://webrtc-internals (ids of its page, Chromium 120 and later).
BUTTONS = ("dump-click-target", "dump-click-target-rtcstats")


def log(msg):
    print(f"webrtc-dump: {msg}", file=sys.stderr, flush=True)


def browser_endpoint():
    """The browser's DevTools websocket, once Chromium listens (it may take seconds)."""
    url = f"http://127.0.0.1:{PORT}/json/version"
    for _ in range(150):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.load(r)["webSocketDebuggerUrl"]
        except OSError:
            time.sleep(0.2)
    sys.exit(f"webrtc-dump: no DevTools endpoint on 127.0.0.1:{PORT}")


class Cdp:
    """A minimal DevTools client: one command at a time, events are skipped."""

    def __init__(self, endpoint):
        # Chromium refuses websocket clients that send an Origin it does not allow.
        self.ws = websocket.create_connection(endpoint, suppress_origin=True, timeout=30)
        self.next_id = 0

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            answer = json.loads(self.ws.recv())
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def evaluate(self, session, expression):
        result = self.call("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating {expression!r}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")


def open_internals(cdp):
    target = cdp.call("Target.createTarget", {"url": "chrome://webrtc-internals"})["targetId"]
    session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for _ in range(100):
        if cdp.evaluate(session, "document.readyState === 'complete' && "
                                 "typeof window.peerConnectionDataStore === 'object'"):
            return session
        time.sleep(0.1)
    sys.exit("webrtc-dump: chrome://webrtc-internals did not load")


def wait_for_files(names, seconds=10):
    """The downloads are written asynchronously; a partial one ends in .crdownload."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        present = os.listdir(OUTDIR)
        done = [n for n in present if any(n.startswith(p) for p in names)]
        if len(done) >= len(names) and not any(n.endswith(".crdownload") for n in present):
            return done
        time.sleep(0.2)
    return [n for n in os.listdir(OUTDIR) if any(n.startswith(p) for p in names)]


def main():
    os.makedirs(OUTDIR, exist_ok=True)
    cdp = Cdp(browser_endpoint())
    session = open_internals(cdp)
    cdp.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": os.path.abspath(OUTDIR)})
    # A window of its own: the internals tab stays the visible tab of the first window.
    cdp.call("Target.createTarget", {"url": CALL_URL, "newWindow": True})
    log("webrtc-internals open, call page opened")
    time.sleep(max(0.0, SAVE_AFTER - (time.monotonic() - START)))
    for button in BUTTONS:
        clicked = cdp.evaluate(session, "(() => { const b = document.getElementById('%s');"
                                        " if (!b) return false; b.click(); return true; })()" % button)
        if not clicked:
            log(f"no button #{button} on this Chromium's webrtc-internals")
    saved = wait_for_files(["webrtc_internals_dump", "rtcstats_dump"])
    log("saved " + (", ".join(sorted(saved)) or "nothing"))


main()
