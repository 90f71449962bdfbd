#!/usr/bin/env python3
"""A toy replicated key-value store for faultline's `external` target (Python stdlib only).

Every node listens on --listen for line-delimited JSON requests. The first node of --peers
is the leader: it applies every op under one lock and appends it to a log in --data, so a
restarted leader keeps what it acknowledged. Other nodes forward each request to the leader
and relay its answer, so all ops are ordered by one node: the store is linearizable, and a
node cut off from the leader fails (connect refused) or times out (info) instead of
answering from stale state.

Request:  {"f": "read"|"write"|"cas", "key": K, "value": V}
Reply:    {"type": "ok", "value": V} | {"type": "fail", "error": E} | {"type": "info", "error": E}
"""
import argparse
import json
import os
import socket
import socketserver
import threading

lock = threading.Lock()
state = {}
log_file = None


def apply(op):
    f, key, value = op.get("f"), str(op.get("key")), op.get("value")
    if f == "read":
        return {"type": "ok", "value": state.get(key)}
    if f == "write":
        state[key] = value
        return {"type": "ok", "value": value}
    if f == "cas":
        old, new = value
        if state.get(key) != old:
            return {"type": "fail", "error": "cas-mismatch"}
        state[key] = new
        return {"type": "ok", "value": value}
    return {"type": "fail", "error": "unknown-f"}


def lead(op):
    with lock:
        reply = apply(op)
        if op.get("f") in ("write", "cas") and reply["type"] == "ok":
            log_file.write(json.dumps({"key": str(op["key"]), "value": state[str(op["key"])]}) + "\n")
            log_file.flush()
            os.fsync(log_file.fileno())
        return reply


def forward(leader, line):
    host, port = leader.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=1.0)
    except OSError as e:
        return {"type": "fail", "error": "leader-unreachable: %s" % e}
    try:
        s.settimeout(1.5)
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                return {"type": "info", "error": "leader-closed"}
            buf += chunk
        return json.loads(buf)
    except (OSError, ValueError) as e:
        return {"type": "info", "error": "leader: %s" % e}
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--peers", required=True, help="n1=ip:port,n2=ip:port,...")
    p.add_argument("--data", required=True)
    a = p.parse_args()
    peers = [x.split("=", 1) for x in a.peers.split(",")]
    leader_name, leader_addr = peers[0]
    is_leader = a.node == leader_name

    global log_file
    os.makedirs(a.data, exist_ok=True)
    path = os.path.join(a.data, "log.jsonl")
    if is_leader and os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    e = json.loads(line)
                    state[e["key"]] = e["value"]
                except ValueError:
                    break  # a torn last line: it was never acknowledged
    log_file = open(path, "a")

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for raw in self.rfile:
                line = raw.decode().strip()
                if not line:
                    continue
                try:
                    op = json.loads(line)
                except ValueError:
                    reply = {"type": "fail", "error": "bad-json"}
                else:
                    reply = lead(op) if is_leader else forward(leader_addr, line)
                self.wfile.write((json.dumps(reply) + "\n").encode())
                self.wfile.flush()

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    host, port = a.listen.rsplit(":", 1)
    with Server((host, int(port)), Handler) as srv:
        srv.serve_forever()


if __name__ == "__main__":
    main()
