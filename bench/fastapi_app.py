"""The FastAPI service a user would write instead of chantilly: an anchor for bench/bench.py.

The seed's core calls and nothing else: upload a dill'ed model, predict (with an id, the
features and the prediction are kept until the label arrives), learn by id or by features.
A dict for the stored ids, one threading lock around the model (the `def` routes run in
FastAPI's thread pool), FastAPI's own validation (pydantic), no durability, no metrics.

    cd bench && uvicorn fastapi_app:app --host 127.0.0.1 --port P --workers 1 \
        --loop uvloop --http httptools --no-access-log

It runs from bench/.venv-fastapi (creme 0.6.1, dill, fastapi, uvicorn[standard]), built by
bench/anchors.py.  BENCH_FASTAPI_ASYNC=1 serves the same routes as `async def` (on the event
loop, no thread pool): the variant bench.py measures with --fastapi-variant async.
"""

import os
import threading
from typing import Optional, Union

import dill
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

app = FastAPI()
lock = threading.Lock()
state = {"model": None}
stored = {}  # id -> (features, prediction)


class Predict(BaseModel):
    features: dict
    id: Optional[Union[str, int]] = None


class Learn(BaseModel):
    ground_truth: Union[float, int, bool, str]
    features: Optional[dict] = None
    id: Optional[Union[str, int]] = None


@app.post("/api/model", status_code=201)
async def upload(request: Request):
    model = dill.loads(await request.body())
    with lock:
        state["model"] = model
    return {"model": type(model).__name__}


def predict(p: Predict):
    with lock:
        if state["model"] is None:
            raise HTTPException(404, "no model")
        y = state["model"].predict_one(p.features)
        if p.id is not None:
            stored[p.id] = (p.features, y)
    return {"prediction": y}


def learn(p: Learn):
    with lock:
        if state["model"] is None:
            raise HTTPException(404, "no model")
        if p.features is None:
            if p.id not in stored:
                raise HTTPException(404, "unknown id")
            x, y = stored.pop(p.id)
        else:
            x, y = p.features, state["model"].predict_one(p.features)
        state["model"].fit_one(x, p.ground_truth)
    return {"prediction": y}


if os.environ.get("BENCH_FASTAPI_ASYNC") == "1":
    async def predict_async(p: Predict):
        return predict(p)

    async def learn_async(p: Learn):
        return learn(p)

    app.post("/api/predict")(predict_async)
    app.post("/api/learn")(learn_async)
else:
    app.post("/api/predict")(predict)
    app.post("/api/learn")(learn)
