"""Many predictions and updates over one connection, with the standard library only.

POST /api/stream takes newline-delimited JSON operations in a chunked request body and
answers with one JSON line per operation, in order, as soon as each chunk is processed.
A writer thread sends while the main thread reads, so neither side ever waits on the other.

    python examples/ndjson_client.py --url http://localhost:5000 --n 10000
"""

import argparse
import json
import socket
import threading
import time
import urllib.parse


def stream(url, operations, chunk_size=500, token=None):
    """Send ``operations`` (dicts) over one connection; yield one answer dict per operation."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=30)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    sock.sendall((f"POST /api/stream HTTP/1.1\r\nHost: {parts.netloc}\r\n{auth}"
                  "Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n").encode())

    def write():
        batch = []
        for op in operations:
            batch.append(json.dumps(op))
            if len(batch) == chunk_size:
                send(batch)
                batch = []
        if batch:
            send(batch)
        sock.sendall(b"0\r\n\r\n")  # the zero-length chunk ends the request body

    def send(batch):
        data = ("\n".join(batch) + "\n").encode()
        sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    reader = sock.makefile("rb")
    status = reader.readline()
    if not status.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the server refused the stream: {status.decode().strip()}")
    while reader.readline() not in (b"\r\n", b""):
        pass  # response headers: chunked NDJSON
    while True:
        size = int(reader.readline(), 16)
        if size == 0:
            break
        for line in reader.read(size).splitlines():
            yield json.loads(line)
        reader.readline()  # CRLF after each chunk
    writer.join()
    sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:5000")
    parser.add_argument("--n", type=int, default=10_000, help="predict+learn pairs to send")
    parser.add_argument("--token", default=None)
    args = parser.parse_args()

    def operations():
        for i in range(args.n):
            x = {"x": i % 100 / 100, "y": (i * 7) % 13 / 13}
            yield {"op": "predict", "id": i, "features": x}
            yield {"op": "learn", "id": i, "ground_truth": 2 * x["x"] - x["y"]}

    started = time.perf_counter()
    errors = answered = 0
    for answer in stream(args.url, operations(), token=args.token):
        answered += 1
        if "status" in answer:  # an operation that failed: {"status": 4xx, "message": ...}
            errors += 1
            print(answer["message"])
    elapsed = time.perf_counter() - started
    print(f"{answered} answers ({errors} errors) in {elapsed:.2f} s: {answered / elapsed:,.0f} operations/s")


if __name__ == "__main__":
    main()
