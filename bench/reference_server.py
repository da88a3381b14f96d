"""Minimal reference server for bench/bench.py.

The least a Python stdlib HTTP server can do to serve a creme/river model:
ThreadingHTTPServer, HTTP/1.1 keep-alive, POST /api/predict and POST /api/learn,
json in / json out, the model behind one lock, headers and body sent with one write.
No persistence, no metrics, no logging.  chantilly's numbers are reported as ratios
against this server measured in the same run.

    python bench/reference_server.py MODEL.dill [--host 127.0.0.1] [--port 0]

prints `reference serving on http://HOST:PORT/` (flushed) once it listens.
"""

import argparse
import http.server
import json
import sys
import threading

import dill


def make_handler(model):
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # no logging
            pass

        def _send(self, status, payload):
            body = json.dumps(payload).encode()
            head = (
                "HTTP/1.1 %d %s\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: %d\r\n"
                "Connection: keep-alive\r\n\r\n"
                % (status, "OK" if status == 200 else "Error", len(body))
            ).encode()
            self.wfile.write(head + body)

        def do_POST(self):
            try:
                n = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(n))
            except ValueError:
                self._send(400, {"message": "invalid JSON"})
                return
            if self.path == "/api/predict":
                with lock:
                    y = model.predict_one(payload["features"])
                self._send(200, {"prediction": y})
            elif self.path == "/api/learn":
                x = payload["features"]
                with lock:
                    y = model.predict_one(x)
                    model.fit_one(x, payload["ground_truth"])
                self._send(200, {"prediction": y})
            else:
                self._send(404, {"message": "not found"})

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="path of a dill file holding the model")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    with open(args.model, "rb") as f:
        model = dill.load(f)
    server = Server((args.host, args.port), make_handler(model))
    host, port = server.server_address[:2]
    print("reference serving on http://%s:%d/" % (host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
