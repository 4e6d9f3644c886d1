"""Threat-intel feeds over HTTP(S): conditional requests, so a feed that did not change is not downloaded again.

A Fetcher lives as long as the refresher and remembers each URL's last body with its ETag and Last-Modified,
sends them back (If-None-Match, If-Modified-Since) and reuses the body on 304 Not Modified. A MISP event file
whose manifest timestamp is the one it was fetched at is not requested at all. Failures are FeedErrors naming
the source and the URL without user, password or query; the token (a header value from the environment) is
sent only to the feed's own host and never put in a message.
"""

from __future__ import annotations

import http.client
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from socpipe.config import DEFAULTS

HTTP_DEFAULTS: dict[str, Any] = DEFAULTS["enrich"]["intel"]["http"]


class FeedError(OSError):
    """A feed that could not be fetched; the message is safe to log."""


@dataclass(frozen=True)
class FeedSettings:
    """How one source is fetched: enrich.intel.http, overridden by the source's own keys."""

    timeout: float
    ca_file: str | None
    auth_header: str
    token: str | None  # the value of the environment variable the source's token_env names

    @classmethod
    def of(cls, source: dict[str, Any], name: str) -> FeedSettings:
        settings = {**HTTP_DEFAULTS, **{k: v for k, v in source.items() if v is not None}}
        token = None
        if settings.get("token_env"):
            token = os.environ.get(settings["token_env"])
            if not token:
                raise ValueError(f"intel source {name}: token_env names {settings['token_env']}, which is not set "
                                 "in the environment")
        return cls(float(settings["timeout"]), settings["ca_file"], settings["auth_header"], token)


@dataclass
class _Held:
    body: bytes
    etag: str | None
    modified: str | None
    version: str  # a MISP event's manifest timestamp when it was fetched


class Fetcher:
    """GETs of feed URLs, each remembered for the next refresh."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}

    def get(self, url: str, name: str, settings: FeedSettings, version: str = "",
            missing_ok: bool = False) -> bytes | None:
        """The body at `url` (the remembered one when the server answers 304, or when `version` is the one it
        was fetched at); None for 404 when `missing_ok`. Raises FeedError."""
        held = self._held.get(url)
        if held is not None and version and held.version == version:
            return held.body
        headers = {"Accept-Encoding": "identity", "User-Agent": "socpipe"}
        if held is not None and held.etag:
            headers["If-None-Match"] = held.etag
        if held is not None and held.modified:
            headers["If-Modified-Since"] = held.modified
        if settings.token:
            headers[settings.auth_header] = settings.token
        request = urllib.request.Request(url, headers=headers)
        try:
            with _opener(settings).open(request, timeout=settings.timeout) as response:
                body = response.read()
                self._held[url] = _Held(body, response.headers.get("ETag"), response.headers.get("Last-Modified"),
                                        version)
                return body
        except urllib.error.HTTPError as error:
            if error.code == 304 and held is not None:
                held.version = version or held.version
                return held.body
            if error.code == 404 and missing_ok:
                self._held.pop(url, None)
                return None
            reason = f"HTTP {error.code} {error.reason}"
        except urllib.error.URLError as error:
            reason = str(error.reason)
        except (OSError, ValueError, http.client.HTTPException) as error:
            reason = f"{type(error).__name__}: {error}"
        raise FeedError(f"intel source {name}: GET {shown(url)}: {reason}".replace(settings.token or "\0", "***"))


def is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme in ("http", "https")


def shown(url: str) -> str:
    """The URL as it may be logged: scheme, host, port and path (a key may sit in the user or the query)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def _opener(settings: FeedSettings) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=settings.ca_file)
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                       _SameHostAuth(settings.auth_header))


class _SameHostAuth(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but the token goes no further than the host it was configured for."""

    def __init__(self, auth_header: str) -> None:
        self.auth_header = auth_header

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header(self.auth_header.capitalize())
        return new
