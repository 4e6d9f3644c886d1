"""The Matrix channel: one message per agency room, over the client-server API with an access token.

Each message is a PUT with a transaction id derived from the notification id, so when a notifier stops
after the server accepted a message but before logging it, the re-send after the restart is recognised
by the home server as the same transaction and not posted twice. The access token comes from
SOCPIPE__NOTIFY__MATRIX__TOKEN and appears in no log, error or repr.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any

from alerting.channels import Message, SendError
from socpipe.config import Config

EVENT_KEY = "org.socpipe.notification"  # the notification's ids in the event's content, for bots and audits


def is_room(handle: str | None) -> bool:
    """A room id (!id:server, or !id alone since room version 12) or an alias (#name:server); a user id
    (@user:server) is not a room."""
    return bool(handle) and (str(handle).startswith("!") or str(handle).startswith("#") and ":" in str(handle))


def agency_rooms(rooms: Mapping[str, str], agency: str, handles: Iterable[str | None]) -> list[str]:
    """The agency's room: notify.matrix.rooms[agency], else the rooms among its recipients' chat handles
    (one message per room however many contacts share it)."""
    if agency in rooms:
        return [str(rooms[agency])]
    return sorted({str(h) for h in handles if is_room(h)})


class MatrixChannel:
    """Posts m.text events to rooms (joining each once: an invitation is accepted by the join)."""

    def __init__(self, config: Config) -> None:
        settings: Mapping[str, Any] = config.get("notify", "matrix")
        self.homeserver = str(settings.get("homeserver") or "").rstrip("/")
        self.timeout = float(settings.get("timeout") or 10)
        self._token = settings.get("token") or ""
        self._room_ids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"MatrixChannel(homeserver={self.homeserver!r})"  # never the token

    def send(self, message: Message, at: Any) -> None:
        if not self.homeserver or not self._token:
            raise SendError("matrix: notify.matrix.homeserver or SOCPIPE__NOTIFY__MATRIX__TOKEN is not set")
        room = self._room_ids.get(message.address) or self._join(message.address)
        content = {"msgtype": "m.text", "body": f"{message.subject}\n\n{message.body}",
                   EVENT_KEY: {"notification_id": message.notification_id, **message.payload}}
        path = f"/rooms/{_quote(room)}/send/m.room.message/{_quote(message.notification_id)}"
        self._call("PUT", path, content)

    def _join(self, handle: str) -> str:
        room = str(self._call("POST", f"/join/{_quote(handle)}", {})["room_id"])
        self._room_ids[handle] = room
        return room

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.homeserver}/_matrix/client/v3{path}"
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json; charset=utf-8"}
        request = urllib.request.Request(url, json.dumps(body, ensure_ascii=False).encode(), headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return dict(json.loads(answer.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise SendError(f"matrix {method} {path.split('/')[1]}: HTTP {exc.code} {detail}") from None
        except OSError as exc:
            raise SendError(f"matrix {self.homeserver}: {exc}") from None


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")
