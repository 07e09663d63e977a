"""Opaque page cursors: signed with HMAC-SHA256 and bound to the query they came from."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from .errors import InvalidCursor

MAX_CURSOR_LENGTH = 4096


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("cursor:" + secret).encode()).digest()

    @staticmethod
    def query_id(kind: str, **params: Any) -> str:
        """A stable identifier of a query: its kind and every parameter that shapes it."""
        canonical = json.dumps({"kind": kind, **params}, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def encode(self, query_id: str, last_key: dict[str, Any]) -> str:
        payload = json.dumps({"q": query_id, "k": last_key}, sort_keys=True, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def decode(self, token: str, query_id: str) -> dict[str, Any]:
        """The LastEvaluatedKey inside `token`; InvalidCursor if tampered or from another query."""
        if not isinstance(token, str) or not token or len(token) > MAX_CURSOR_LENGTH or token.count(".") != 1:
            raise InvalidCursor("The page cursor is malformed.")
        body, signature = token.split(".")
        try:
            payload = _unb64(body)
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("The page cursor is malformed.") from exc
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCursor("The page cursor has been tampered with.")
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise InvalidCursor("The page cursor is malformed.") from exc
        if not isinstance(data, dict) or data.get("q") != query_id or not isinstance(data.get("k"), dict):
            raise InvalidCursor("The page cursor belongs to a different query.")
        last_key: dict[str, Any] = data["k"]
        return last_key
