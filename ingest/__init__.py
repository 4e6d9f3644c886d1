"""File readers and record parsers: log files in, Event and DeadLetter records out."""

from ingest.files import read_file, read_paths
from ingest.parsers import (
    PARSERS,
    ParseError,
    kind_of,
    parse_access,
    parse_evtx_json,
    parse_flat_json,
    parse_syslog,
)

__all__ = [
    "PARSERS",
    "ParseError",
    "kind_of",
    "parse_access",
    "parse_evtx_json",
    "parse_flat_json",
    "parse_syslog",
    "read_file",
    "read_paths",
]
