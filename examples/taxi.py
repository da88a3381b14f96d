"""Predict taxi trip durations while the trips happen: the original chantilly's example, on river.

Start a server (``make run``), then, with the virtualenv's Python::

    python examples/taxi.py                     # 1,000 trips against http://localhost:5000
    python examples/taxi.py --trips 5000 --speed 600 --url http://127.0.0.1:5000

The script uploads a river pipeline as the model named ``taxis`` (``--model`` picks another
name; a model of that name is replaced, and kept as a past version), which becomes the
server's default model. The pipeline parses each trip's pickup time, computes the
distances and the day and hour of the trip, scales them and fits a linear regression. Then it
replays a day of taxi trips in time order: when a trip departs it asks for a predicted duration
under the trip's id, and when the trip arrives (trips end in another order than they began) it
sends the true duration for that id. The server scores each prediction against its label
before the model learns from it. At the end the script prints the mean absolute error.

The trips are synthetic, with the fields of river's ``datasets.Taxis`` (New York, 2016), whose
real data needs a download. Their durations depend on the distance and on the hour, so the model
has something to learn. ``--speed`` replays that many simulated seconds per real second, to
watch it on the dashboard; the default, 0, runs as fast as the server answers.
"""

import argparse
import datetime as dt
import heapq
import os
import random
import sys
import time

# The model's steps import what they use inside themselves: dill sends these functions by
# value, and the server that runs them has none of this script's imports.


def parse(trip):
    """Turn the pickup time into a datetime, in the dict it is given (as the original did)."""
    import datetime as dt

    trip["pickup_datetime"] = dt.datetime.fromisoformat(trip["pickup_datetime"])
    return trip


def distances(trip):
    import math

    lat_dist = trip["dropoff_latitude"] - trip["pickup_latitude"]
    lon_dist = trip["dropoff_longitude"] - trip["pickup_longitude"]
    return {
        "manhattan_distance": abs(lat_dist) + abs(lon_dist),
        "euclidean_distance": math.sqrt(lat_dist ** 2 + lon_dist ** 2),
    }


def datetime_info(trip):
    import calendar

    day_name = calendar.day_name[trip["pickup_datetime"].weekday()]
    return {day_name: True, "hour": trip["pickup_datetime"].hour}


def make_model():
    """The original's pipeline: parse | (distances + datetime_info) | scaler | regression."""
    from river import compose, linear_model, preprocessing

    model = compose.FuncTransformer(parse)
    model |= compose.FuncTransformer(distances) + compose.FuncTransformer(datetime_info)
    model |= preprocessing.StandardScaler()
    model |= linear_model.LinearRegression()
    return model


def trips(n, seed=42, start="2016-01-01T00:00:00"):
    """``n`` synthetic trips in pickup order: (trip, duration in seconds) pairs.

    A trip leaves every 40 s on average from around Midtown Manhattan. Traffic slows down
    as the day goes on, from 2 minutes per km at midnight to about 4 at 23:00.
    """
    rng = random.Random(seed)
    pickup = dt.datetime.fromisoformat(start)
    for _ in range(n):
        pickup += dt.timedelta(seconds=round(rng.expovariate(1 / 40)))
        lat, lon = 40.754 + rng.gauss(0, 0.02), -73.984 + rng.gauss(0, 0.02)
        dlat, dlon = rng.gauss(0, 0.02), rng.gauss(0, 0.02)
        trip = {
            "vendor_id": rng.choice((1, 2)),
            "pickup_datetime": pickup.isoformat(),
            "passenger_count": rng.choice((1, 1, 1, 2, 3, 5)),
            "pickup_longitude": round(lon, 6),
            "pickup_latitude": round(lat, 6),
            "dropoff_longitude": round(lon + dlon, 6),
            "dropoff_latitude": round(lat + dlat, 6),
            "store_and_fwd_flag": "N",
        }
        km = 111 * abs(dlat) + 84 * abs(dlon)  # along the street grid
        minutes_per_km = 2 + 2 * pickup.hour / 23
        duration = 60 + 60 * km * minutes_per_km + rng.gauss(0, 30)
        yield trip, max(60, round(duration))


def events(trips):
    """The trips as they happen: (time, "depart", trip id, trip) when a trip starts and
    (time, "arrive", trip id, duration) when it ends, in time order."""
    arrivals = []  # a heap of (arrival time, trip id, duration)
    for number, (trip, duration) in enumerate(trips):
        departs = dt.datetime.fromisoformat(trip["pickup_datetime"])
        while arrivals and arrivals[0][0] <= departs:
            arrives, trip_id, seconds = heapq.heappop(arrivals)
            yield arrives, "arrive", trip_id, seconds
        trip_id = f"{number:07d}"
        heapq.heappush(arrivals, (departs + dt.timedelta(seconds=duration), trip_id, duration))
        yield departs, "depart", trip_id, trip
    while arrivals:
        arrives, trip_id, seconds = heapq.heappop(arrivals)
        yield arrives, "arrive", trip_id, seconds


class Failure(Exception):
    """Something the user has to fix; main() prints the message and exits."""


class Client:
    """JSON calls to one chantilly server over a keep-alive session."""

    def __init__(self, url, token=None):
        import requests

        self.requests = requests
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method, path, **kwargs):
        try:
            response = self.session.request(method, self.url + path, timeout=30, **kwargs)
        except self.requests.ConnectionError as e:
            while e.__context__ is not None:  # the socket's own words, not urllib3's retries
                e = e.__context__
            raise Failure(f"cannot reach chantilly at {self.url} ({getattr(e, 'strerror', None) or e}): "
                          "start it with `make run`") from None
        if response.status_code >= 400:
            try:
                message = response.json()["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise Failure(f"{method} {path} answered {response.status_code}: {message}")
        return response.json()


def simulate(client, n, seed, speed, name="taxis"):
    """Upload the model as ``name``, replay ``n`` trips; return the server's final metrics."""
    import dill

    info = client.call("POST", f"/api/model/{name}", data=dill.dumps(make_model()))
    print(f"uploaded {info['class']} ({info['library']}, {info['flavor']}) as {name!r}, version {info['version']}")
    predictions = {}  # trip id -> predicted duration, until the trip arrives
    errors, arrived = 0.0, 0
    started, first = time.monotonic(), None
    for moment, kind, trip_id, payload in events(trips(n, seed)):
        if speed > 0:  # wait for the moment this happens, speed times faster than life
            first = first or moment
            time.sleep(max(0.0, (moment - first).total_seconds() / speed
                           - (time.monotonic() - started)))
        if kind == "depart":
            answer = client.call("POST", "/api/predict", json={"id": trip_id, "features": payload, "model": name})
            predictions[trip_id] = answer["prediction"]
            continue
        client.call("POST", "/api/learn", json={"id": trip_id, "ground_truth": payload, "model": name})
        errors += abs(payload - predictions.pop(trip_id))
        arrived += 1
        if arrived % max(1, n // 10) == 0:
            print(f"#{trip_id} arrives at {moment}: {arrived} trips done, "
                  f"mean error {dt.timedelta(seconds=round(errors / arrived))}")
    return client.call("GET", f"/api/metrics?model={name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:5000", help="server (default: %(default)s)")
    parser.add_argument("--trips", type=int, default=1000, help="trips to replay (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic trips")
    parser.add_argument("--model", default="taxis",
                        help="name to upload the model as; a model of that name is replaced (default: %(default)s)")
    parser.add_argument("--speed", type=float, default=0,
                        help="simulated seconds per real second, 0 for no waiting (default: 0)")
    parser.add_argument("--token", default=os.environ.get("CHANTILLY_TOKEN"),
                        help="API token, sent as Authorization: Bearer (env CHANTILLY_TOKEN)")
    args = parser.parse_args()
    try:
        metrics = simulate(Client(args.url, args.token), args.trips, args.seed, args.speed, args.model)
    except Failure as e:
        print(f"taxi.py: {e}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        print(f"taxi.py: {e}: it needs river, dill and requests, as in the virtualenv of "
              "`make run` (run it with .venv/bin/python)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("taxi.py: interrupted", file=sys.stderr)
        return 1
    print(f"final MAE: {metrics['MAE']!r} s ({dt.timedelta(seconds=round(metrics['MAE']))}) "
          f"over {args.trips} trips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
