#!/usr/bin/env python3
"""Write seed inputs for the turn_core fuzz target (format: see src/turn/fuzzing.rs)."""
import os, struct, sys

COOKIE = 0x2112A442
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "turn_core")
os.makedirs(out, exist_ok=True)
n = [0]

def txid():
    n[0] += 1
    return struct.pack(">I", n[0]) + b"seedseed"

def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack(">HH", t, len(v)) + v + b"\0" * pad

def msg(method, cls, attrs):
    m = method
    typ = (m & 0xF) | ((m & 0x70) << 1) | ((m & 0xF80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7)
    body = b"".join(attrs)
    return struct.pack(">HHI", typ, len(body), COOKIE) + txid() + body

def xaddr(ip, port):
    a = bytes(int(x) for x in ip.split("."))
    x = bytes(b ^ c for b, c in zip(a, struct.pack(">I", COOKIE)))
    return struct.pack(">BBH", 0, 1, port ^ 0x2112) + x

def rec(op, payload):
    assert len(payload) < 256
    return bytes([op, len(payload)]) + payload

REQ, IND = 0, 1
TRANSPORT = attr(0x19, bytes([17, 0, 0, 0]))
PEER = attr(0x12, xaddr("203.0.113.5", 3480))
alloc = msg(3, REQ, [TRANSPORT])
perm = msg(8, REQ, [PEER])
bind = msg(9, REQ, [attr(0x0C, b"\x40\x00\0\0"), PEER])
refresh0 = msg(4, REQ, [attr(0x0D, struct.pack(">I", 0))])
send = msg(6, IND, [PEER, attr(0x13, b"hello")])

def flow(sel):  # sel: client/transport selector bits (op >> 3)
    o = sel << 3
    return b"".join([
        rec(o | 0, alloc), rec(o | 2, alloc), rec(o | 2, perm), rec(o | 0, send),
        rec(o | 2, bind), rec(o | 7, b"\0\0ping"), rec(o | 3, b"pong"),
        rec(o | 4, b"\x10\x01"), rec(o | 2, refresh0),
    ])

even_r = msg(3, REQ, [TRANSPORT, attr(0x18, b"\x80")])
def token_alloc(tok):
    return msg(3, REQ, [TRANSPORT, attr(0x22, tok)])

seeds = {
    "even-port-reservation": rec(0, alloc) + rec(2, even_r) + rec(0x0a, token_alloc(b"\0" * 8))
        + rec(4, b"\x30\x01") + rec(0x12, token_alloc(b"\1" * 8)),
    "udp-flow": flow(0),
    "tcp-flow": flow(0x10),
    "two-clients": flow(0) + flow(1),
    "expiry": flow(0)[:-len(rec(2, refresh0))] + rec(4, b"\xff\xff") + rec(4, b"\xff\xff") + rec(3, b"late"),
    "binding": rec(0, msg(1, REQ, [])) + rec(0, b"\x00\x01\x00\x00" + b"\x07" * 16),
    "bind-failures": rec(0, alloc) + rec(5, b"") + rec(2, alloc) + rec(5, b"") + rec(0x0a, alloc),
    "garbage": rec(0, b"\x00\x03\x00\x08\x21\x12\xa4\x42" + b"\0" * 12 + b"\x00\x06\x00\xff"),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
