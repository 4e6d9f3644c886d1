"""orjson where it is faster: JSON records read and event identities computed exactly as the standard
library's json module would, on awkward input too."""

from __future__ import annotations

import json
import random

import pytest

from ingest import files, parsers
from socpipe import events

AWKWARD = ["", "é", "\u2028", "\x00", "\x1f", "\x7f", '"', "\\", "\n", "😀", "a\tb", "Ｃ:\\ñ"]


def _careful(monkeypatch, origin, lines):
    """The documents as the careful path alone reads them (orjson made to refuse everything)."""
    def refuse(_):
        raise files.orjson.JSONDecodeError("off", "", 0)

    with monkeypatch.context() as m:
        m.setattr(files.orjson, "loads", refuse)
        return list(files._json_documents(origin, lines, 1, 0))


def test_json_records_read_fast_equal_the_careful_path(monkeypatch):
    rng = random.Random(3)
    chunks = ["\n\n"]  # leading blank lines: the first record's line number counts them
    for n in range(400):
        doc = {"n": n, "s": rng.choice(AWKWARD) * rng.randrange(3), "f": rng.random() * 10 ** rng.randrange(-5, 30),
               "big": 2 ** rng.choice([10, 70]), "nested": {"a": [1, None, "x"]}, "b": rng.random() < 0.5}
        roll = rng.random()
        if roll < 0.05:
            chunks.append('{"broken": \n')
        elif roll < 0.1:
            chunks.append('{"nan": NaN}\n')  # the json module reads NaN; orjson does not
        elif roll < 0.2:
            chunks.append(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        elif roll < 0.25:
            chunks.append(json.dumps(doc) + " " + json.dumps(doc) + "\n")  # two values on one line
        else:
            chunks.append(json.dumps(doc, ensure_ascii=rng.random() < 0.5) + "  \r\n")
    lines = "".join(chunks).encode("utf-8").splitlines(keepends=True)
    lines.insert(50, b'{"bad utf-8": "\xff"}\n')
    fast = list(files._json_documents("f", lines, 1, 0))
    careful = _careful(monkeypatch, "f", lines)
    assert fast == careful
    assert [type(x).__name__ for x in fast].count("DeadLetter") >= 5


@pytest.mark.parametrize("value", AWKWARD + ["\ud800"])  # a lone surrogate: orjson refuses, json writes it
def test_event_identity_bytes_are_the_standard_librarys(value):
    fields = {"Image": value, "CommandLine": value * 2, "z": "1"}
    canonical = json.dumps(["windows", sorted(fields.items())], ensure_ascii=False, separators=(",", ":"))
    try:
        expected = events.hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            events.event_identity("windows", fields)
        return
    assert events.event_identity("windows", fields) == expected


def test_an_unpaired_surrogate_is_a_dead_letter_with_its_bytes_and_a_pair_is_text():
    """JSON's \\u escapes can spell half a surrogate pair, which no UTF-8 store can hold: the record is a
    dead letter (before, `socpipe detect` crashed on it and the stream failed its micro-batch again and again)."""
    lone = b'{"EventID": 1, "Image": "a\\udc80b"}'
    pair = b'{"EventID": 2, "Image": "\\ud83d\\ude00"}'
    dead, frame = files.frame_json("f", [lone + b"\n", pair + b"\n"])
    assert isinstance(dead, events.DeadLetter)
    assert (dead.raw, dead.position) == (lone, "line 1")
    assert dead.reason == "invalid JSON: unpaired surrogate U+DC80 in a string"
    assert frame.fields()["Image"] == "😀"
    with pytest.raises(parsers.ParseError, match=r"U\+DC80"):
        parsers.parse_flat_json(lone)  # the stream's path: a Kafka record parsed on its own
    assert parsers.parse_flat_json(pair)["Image"] == "😀"
