"""Refuses bodies over the limit before they are read into memory (Starlette sets none).

A pure ASGI middleware: a declared Content-Length over the limit is refused at once; a
chunked body is counted as it streams and refused as soon as it crosses the limit.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.ingest.problems import PROBLEM_JSON


class BodyTooLargeError(Exception):
    """Raised inside ``receive`` once a streamed body crosses the limit."""


def _problem_413(limit: int) -> bytes:
    return json.dumps({
        "type": "about:blank", "title": "Body too large", "status": 413,
        "detail": f"the body exceeds {limit} bytes", "limit": limit,
    }).encode()


class BodyLimitMiddleware:
    """Answer 413 (problem+json) for request bodies larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, send: Send) -> None:
        body = _problem_413(self.limit)
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Frameworks turn a failed body read into their own 400; once the limit was
            # crossed, whatever the app answers is replaced by the 413 it deserves.
            if exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLargeError:
            if not started:
                await self._refuse(send)
