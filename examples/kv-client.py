#!/usr/bin/env python3
"""A faultline client program (Python stdlib only): one JSON op per line on stdin, one
completion per line on stdout, as the `external` target expects.

    in:  {"f": "write", "key": "r1", "value": 3}
    out: {"type": "ok", "value": 3} | {"type": "fail", "error": ...} | {"type": "info", "error": ...}

It talks to one node of examples/toy-kv.py at the address given as its argument. The rule
for outcomes: `fail` only when the op certainly did not happen (could not connect, or the
store said so); `info` when a request was sent and no answer came (it may have happened).
"""
import json
import socket
import sys

TIMEOUT = 1.8


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    conn = None
    reader = None
    for line in sys.stdin:
        if not line.strip():
            continue
        if conn is None:
            try:
                conn = socket.create_connection((host, int(port)), timeout=TIMEOUT)
                conn.settimeout(TIMEOUT)
                reader = conn.makefile("rb")
            except OSError as e:
                conn = None
                print(json.dumps({"type": "fail", "error": "connect: %s" % e}), flush=True)
                continue
        try:
            conn.sendall(line.strip().encode() + b"\n")
            reply = reader.readline()
            if not reply:
                raise OSError("connection closed")
            out = json.loads(reply)
        except (OSError, ValueError) as e:
            conn.close()
            conn = None
            out = {"type": "info", "error": str(e)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
