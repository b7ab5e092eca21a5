"""The service under uvicorn, with every connection bounded in time.

- ``keep_alive_s``: an idle connection between requests is closed (uvicorn's ``timeout_keep_alive``).
- ``read_timeout_s``, headers: a connection that has not sent a complete request head within this long of
  opening (or of its previous response) gets a 408 and is closed. uvicorn has no such limit: its keep-alive
  timer only starts after a first response and restarts on every byte received, so a client that connects
  and says nothing, or trickles its headers, would hold a connection for ever.
- ``read_timeout_s``, body: enforced by the handler (``ocdr.serve.upload.read_body``), 408 as well.
"""
from __future__ import annotations

import json

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ocdr.config.serve import ServeSpec

__all__ = ["HeadDeadlineProtocol", "server_config"]


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps({"error": f"no complete request within read_timeout_s = {seconds} s",
                       "status": 408}).encode()
    head = (f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode()
    return head + body


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus the request-head deadline. ``read_timeout_s`` is set per server, on
    a subclass made by :func:`server_config`."""

    read_timeout_s = 30.0
    _deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        waiting = self.cycle  # a request head that arrives in time starts a new cycle
        self._deadline = self.loop.call_later(self.read_timeout_s, self._expire, waiting)

    def _expire(self, waiting) -> None:
        if self.cycle is waiting and not self.transport.is_closing():
            self.transport.write(_timeout_response(self.read_timeout_s))
            self.transport.close()


def server_config(app, spec: ServeSpec, log_level: str = "info") -> uvicorn.Config:
    """The uvicorn config ``ocdr serve`` runs ``app`` with."""
    protocol = type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"read_timeout_s": spec.read_timeout_s})
    return uvicorn.Config(app, host=spec.host, port=spec.port, http=protocol, timeout_keep_alive=spec.keep_alive_s,
                          log_level=log_level)
