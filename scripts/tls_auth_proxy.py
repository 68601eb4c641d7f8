#!/usr/bin/env python3
"""A TLS + HTTP-auth reverse proxy in front of a real plain-HTTP service, for
tests of clients that reach a Schema Registry or Kafka Connect behind TLS and
basic/bearer auth (what managed services put in front of them).

  tls_auth_proxy.py --cert C.pem --key K.pem --upstream http://127.0.0.1:8083 \
      --basic user:password [--bearer TOKEN] --port-file FILE

Listens on 127.0.0.1 (a free port, written to --port-file), answers 401 to a
request without the right Authorization header, and forwards everything
else — method, path, query, body, content headers — to the upstream. Standard
library only. Stops on SIGTERM.
"""
import argparse
import base64
import http.server
import ssl
import sys
import urllib.error
import urllib.request

FORWARDED = ("Content-Type", "Accept")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--basic")
    ap.add_argument("--bearer")
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    allowed = set()
    if a.basic:
        allowed.add("Basic " + base64.b64encode(a.basic.encode()).decode())
    if a.bearer:
        allowed.add("Bearer " + a.bearer)
    upstream = a.upstream.rstrip("/")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body, ctype="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.headers.get("Authorization") not in allowed:
                self.answer(401, b'{"error_code": 401, "message": "Unauthorized (proxy)"}')
                return
            req = urllib.request.Request(upstream + self.path, data=body, method=self.command)
            for h in FORWARDED:
                if self.headers.get(h):
                    req.add_header(h, self.headers[h])
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    self.answer(r.status, r.read(), r.headers.get("Content-Type", "application/json"))
            except urllib.error.HTTPError as e:
                self.answer(e.code, e.read(), e.headers.get("Content-Type", "application/json"))
            except OSError as e:
                self.answer(502, str(e).encode(), "text/plain")

        do_GET = do_POST = do_PUT = do_DELETE = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(a.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
