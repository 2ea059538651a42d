"""The intake_post_rate baseline: a bare FastAPI endpoint that only produces the body to
Kafka (send_and_wait, acks=all) and answers 202, served by uvicorn exactly as
`leadrelay serve` serves a service. Run: python -m bench.baseline_app --port P --bootstrap B."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def create_app(bootstrap: str, topic: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2
        )
        await producer.start()
        app.state.producer = producer
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(title="bench baseline", lifespan=lifespan)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/leads", status_code=202)
    async def submit_lead(request: Request) -> JSONResponse:
        lead_id = str(uuid.uuid4())
        await request.app.state.producer.send_and_wait(
            topic, await request.body(), key=lead_id.encode()
        )
        return JSONResponse({"lead_id": lead_id, "status": "accepted"}, status_code=202)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", default="bench.baseline")
    args = parser.parse_args()
    # The settings of services/serve.py: uvicorn's defaults (uvloop, httptools), no logs.
    uvicorn.run(
        create_app(args.bootstrap, args.topic),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
    )


if __name__ == "__main__":
    main()
