"""Many predictions and updates over one connection, with the standard library only.

POST /api/stream takes newline-delimited JSON operations in a chunked request body and
answers with one JSON line per operation, in order, as soon as each chunk is processed.
A writer thread sends while the main thread reads, so neither side ever waits on the other.

Run it by path, from anywhere::

    python examples/ndjson_client.py --url http://localhost:5000 --n 10000

or import ``stream`` from your own code: this file needs nothing but the standard library,
so copy it next to your code, or put its folder on ``sys.path`` first::

    import sys
    sys.path.insert(0, "/path/to/chantilly/examples")
    from ndjson_client import stream
"""

import argparse
import json
import socket
import sys
import threading
import time
import urllib.parse


def stream(url, operations, chunk_size=500, token=None, timeout=30):
    """Send ``operations`` (dicts) over one connection; yield one answer dict per operation.

    Raises ConnectionError when the server cannot be reached or closes the connection early,
    and RuntimeError when it refuses the stream (a wrong token, say). Each socket operation
    waits at most ``timeout`` seconds.
    """
    parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    try:
        sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
    except OSError as e:
        raise ConnectionError(f"cannot reach chantilly at {url} ({e.strerror or e})") from None
    try:
        yield from _exchange(sock, parts.netloc, operations, chunk_size, token)
    finally:
        sock.close()


def _exchange(sock, host, operations, chunk_size, token):
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    sock.sendall((f"POST /api/stream HTTP/1.1\r\nHost: {host}\r\n{auth}"
                  "Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
    failures = []  # what stopped the writer, re-raised by the reader
    writer = threading.Thread(target=_write, args=(sock, operations, chunk_size, failures),
                              daemon=True)
    writer.start()
    reader = sock.makefile("rb")
    status, message = _read_head(reader)
    if status != 200:
        raise RuntimeError(f"the server refused the stream: {status} {message}")
    while True:
        size_line = reader.readline()
        if not size_line:
            if failures and not isinstance(failures[0], OSError):
                raise failures[0]  # the operations themselves failed, e.g. a bad generator
            raise ConnectionError("the server closed the stream before answering every operation")
        size = int(size_line, 16)
        if size == 0:
            break
        for line in reader.read(size).splitlines():
            yield json.loads(line)
        reader.readline()  # CRLF after each chunk
    writer.join()


def _write(sock, operations, chunk_size, failures):
    """Send the operations as chunks of ``chunk_size`` lines, then the end of the body."""
    try:
        batch = []
        for op in operations:
            batch.append(json.dumps(op))
            if len(batch) == chunk_size:
                _send_chunk(sock, batch)
                batch = []
        if batch:
            _send_chunk(sock, batch)
        sock.sendall(b"0\r\n\r\n")  # the zero-length chunk ends the request body
    except BaseException as e:  # the reader reports it: a thread's traceback would go unseen
        failures.append(e)
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the reader, which then raises
        except OSError:
            pass  # already closed: the reader has stopped anyway


def _send_chunk(sock, lines):
    data = ("\n".join(lines) + "\n").encode()
    sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))


def _read_head(reader):
    """The status of the answer, and its JSON message when it is an error."""
    status_line = reader.readline().decode("latin-1")
    if not status_line:
        raise ConnectionError("the server closed the connection without answering")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if status == 200:
        return status, ""  # the answers follow, chunked NDJSON
    try:
        return status, json.loads(reader.read(length))["message"]
    except (ValueError, KeyError, TypeError):
        return status, status_line.strip()


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
    try:
        for answer in stream(args.url, operations(), token=args.token):
            answered += 1
            if "status" in answer:  # an operation that failed: {"status": 4xx, "message": ...}
                errors += 1
                print(answer["message"])
    except (OSError, RuntimeError) as e:
        print(f"ndjson_client.py: {e}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"{answered} answers ({errors} errors) in {elapsed:.2f} s: {answered / elapsed:,.0f} operations/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
