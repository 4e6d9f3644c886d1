"""A record framed out of its container (file, socket) but not parsed yet.

Batch reading and the collectors share this step: the batch reader parses each frame at once, a collector
sends the frame's bytes to Kafka and the streaming job parses them there with the same parser. Because
both call PARSERS[frame.parser] on the same bytes, a record gives the same fields on either path.
"""

from __future__ import annotations

from typing import NamedTuple

from ingest.parsers import (
    PARSERS,
    ParseError,
    eve_fields,
    flat_fields,
    flow_fields,
    kind_of,
    windows_fields,
    zeek_fields,
)
from socpipe.envelope import PARSER_OF_SOURCE
from socpipe.events import DeadLetter, Event

SOURCE_OF_PARSER = {parser: source for source, parser in PARSER_OF_SOURCE.items()}
# Parsers of decoded JSON documents, for frames whose framing already decoded the document.
_FIELDS_OF_DOCUMENT = {"evtx_json": windows_fields, "json": flat_fields, "flow": flow_fields, "eve": eve_fields,
                       "zeek": zeek_fields}
_NOT_DECODED = object()


class Frame(NamedTuple):
    """One record: the parser that reads it, where it is ("line N", "record N"), its exact bytes."""

    parser: str
    position: str
    raw: bytes
    document: object = _NOT_DECODED  # JSON framing decodes to find the record's end: kept to decode once

    @property
    def source(self) -> str:
        """The source type, which names the Kafka topic raw.<source>."""
        return SOURCE_OF_PARSER[self.parser]

    def fields(self) -> dict[str, str]:
        """Parsed fields, exactly what PARSERS[parser](raw) gives; raises ParseError."""
        if self.document is _NOT_DECODED:
            return PARSERS[self.parser](self.raw)
        return _FIELDS_OF_DOCUMENT[self.parser](self.document)


def parse_frame(origin: str, frame: Frame) -> Event | DeadLetter:
    """The event, or the dead letter holding the frame's bytes when the record does not parse."""
    try:
        fields = frame.fields()
    except ParseError as err:
        return DeadLetter(origin, frame.position, err.reason, frame.raw)
    return Event(fields, kind_of(frame.parser, fields), f"{origin}:{frame.position}")
