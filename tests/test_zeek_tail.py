"""`socpipe collect file` on Zeek TSV logs written as Zeek writes them, on the real dev Kafka: the header is
kept across polls and a restart mid-file, Zeek's rotation (#close, rename, a new file with a new header in
another field order) is followed, and every row reaches raw.zeek as the Zeek record of its log that the batch
reader gives for the same files, with the same alerts."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from conftest import SIGMAHQ
from test_collectors import consume, make_config, start_tail, stop_tail

from ingest.files import frame_file, read_file
from ingest.frame import Frame
from ingest.zeektsv import ZeekHeader
from layers.detect import EVENT_SCHEMA, alert_batch, event_row
from layers.matcher.engine import Detector
from layers.stream import parse_envelope
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK
from socpipe.envelope import Envelope
from socpipe.events import Event

SAMPLES = Path(__file__).resolve().parent / "data" / "network"
LOGS = ("conn", "dns", "http", "ssl", "files", "notice")


def zeek_type(name: str, value: object) -> str:
    """The #types entry Zeek's schema gives a field of this JSON value (the few types the samples hold)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "port" if name.endswith("_p") else "count"
    if isinstance(value, float):
        return "time" if name == "ts" else "interval"
    if isinstance(value, list):
        inner = {float: "interval", int: "count"}.get(type(value[0]), "string") if value else "string"
        return f"vector[{inner}]"
    return "string"


def zeek_value(value: object) -> str:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, list):
        return ",".join(map(zeek_value, value)) if value else "(empty)"
    return str(value) if value != "" else "(empty)"


def header(path: str, names: list[str], types: list[str], opened: str) -> bytes:
    return ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
            f"#path\t{path}\n#open\t{opened}\n#fields\t" + "\t".join(names) + "\n#types\t" + "\t".join(types)
            + "\n").encode()


def row(names: list[str], record: dict[str, object]) -> bytes:
    return ("\t".join(zeek_value(record[n]) if n in record else "-" for n in names) + "\n").encode()


def schema(records: list[dict[str, object]]) -> tuple[list[str], list[str]]:
    names = list(dict.fromkeys(name for record in records for name in record))
    types = [zeek_type(n, next(r[n] for r in records if n in r)) for n in names]
    return names, types


def samples(log: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (SAMPLES / f"{log}.log").read_text().splitlines() if line.strip()]


def conns(first: int, count: int) -> list[dict[str, object]]:
    """Distinct conn records after the samples': an outside host trying RDP on agency servers."""
    base = samples("conn")[1]
    return [{**base, "ts": 1773454000.25 + n, "uid": f"Cq{n:016d}", "id.orig_p": 40000 + n,
             "id.resp_h": f"10.20.1.{n % 250}"} for n in range(first, first + count)]


@pytest.mark.slow
def test_tailed_zeek_tsv_survives_restart_and_rotation_as_the_batch_reads_it(dev_servers, tmp_path: Path) -> None:
    config = make_config(tmp_path, dev_servers.kafka)
    logs = tmp_path / "logs"
    logs.mkdir()
    records = {log: samples(log) for log in LOGS}
    records["conn"] += conns(0, 40)
    schemas = {log: schema(found) for log, found in records.items()}
    paths = {log: logs / f"{log}.log" for log in LOGS}
    for log, path in paths.items():
        names, types = schemas[log]
        path.write_bytes(header(log, names, types, "2026-03-14-02-00-00") + row(names, records[log][0]))
    conn_names = schemas["conn"][0]
    conn_rows = [row(conn_names, r) for r in records["conn"]]
    with paths["conn"].open("ab") as file:
        file.write(b"".join(conn_rows[1:10]) + conn_rows[10][:25])  # a row still being written
    sent = len(LOGS) + 9

    tail = start_tail(config, *paths.values())
    consume(config, ["raw.zeek"], sent, timeout=30)
    with paths["conn"].open("ab") as file:
        file.write(conn_rows[10][25:] + b"".join(conn_rows[11:20]))
    sent += 10
    assert len(consume(config, ["raw.zeek"], sent, timeout=30)) == sent
    err = stop_tail(tail)
    assert f"sent {sent}," in err

    # While it is down, the logs grow: the restarted tail starts after the header, from its saved offset.
    with paths["conn"].open("ab") as file:
        file.write(b"".join(conn_rows[20:30]))
    for log in ("dns", "http"):
        with paths[log].open("ab") as file:
            file.write(b"".join(row(schemas[log][0], r) for r in records[log][1:]))
    sent += 10 + len(records["dns"]) - 1 + len(records["http"]) - 1
    tail = start_tail(config, *paths.values())
    consume(config, ["raw.zeek"], sent, timeout=30)

    # Zeek's rotation while it runs: #close, the log renamed, a new log whose header lists the fields in
    # another order (rows read with the old header would be garbled).
    with paths["conn"].open("ab") as file:
        file.write(b"".join(conn_rows[30:]) + b"#close\t2026-03-14-03-00-00\n")
    rotated = logs / "conn.2026-03-14-02-00-00-03-00-00.log"
    paths["conn"].rename(rotated)
    new_names, new_types = conn_names[::-1], schemas["conn"][1][::-1]
    fresh = conns(100, 12)
    paths["conn"].write_bytes(header("conn", new_names, new_types, "2026-03-14-03-00-00")
                              + b"".join(row(new_names, r) for r in fresh[:5]))
    sent += len(conn_rows) - 30 + 5
    consume(config, ["raw.zeek"], sent, timeout=30)
    with paths["conn"].open("ab") as file:
        file.write(b"".join(row(new_names, r) for r in fresh[5:]))
    sent += 7
    found = consume(config, ["raw.zeek", "deadletter"], sent, timeout=30)
    stop_tail(tail)

    assert Counter(r.topic for r in found) == {"raw.zeek": sent}  # no dead letter, each row once
    assert len({r.key for r in found}) == sent
    # Each file's rows as the batch reader frames the same files (the rotated one under its new name).
    for log, files in {**{log: [paths[log]] for log in LOGS}, "conn": [rotated, paths["conn"]]}.items():
        streamed = [(r.headers["position"], r.value) for r in found if r.headers["origin"] == str(paths[log])]
        batch = [(f.position, f.raw) for file in files for f in frame_file(file) if isinstance(f, Frame)]
        assert streamed == batch, log
    events = [parse_envelope(Envelope.from_message(r.topic, r.key.encode(), r.value,
                                                   [(k, v.encode()) for k, v in r.headers.items()])) for r in found]
    assert all(isinstance(e, Event) for e in events)
    assert Counter(e.kind for e in events) == Counter({f"zeek_{log}": len(records[log]) for log in LOGS}) + \
        Counter({"zeek_conn": len(fresh)})
    # The rows after the rotation are the records Zeek's JSON writer gives, read with the new header.
    json_log = tmp_path / "fresh.json"
    json_log.write_bytes(b"".join(orjson.dumps({"_path": "conn", **r}) + b"\n" for r in fresh))
    assert [e.fields for e in events[-len(fresh):]] == [e.fields for e in read_file(json_log)]

    # Same alerts as detecting on the files: the starter pack and SigmaHQ's network rules.
    detector = Detector(load_rules([STARTER_PACK, SIGMAHQ / "rules" / "network"]).rules)
    batch_events = [e for file in [rotated, *paths.values()] for e in read_file(file)]

    def alerts(items: list[Event]) -> Counter[tuple[str, str]]:
        rows = [event_row(e, None, (), None) for e in items]
        docs = alert_batch(detector, pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)).column("document")
        return Counter((d["rule"]["title"], d["alert_id"]) for d in map(json.loads, docs.to_pylist()))

    streamed_alerts = alerts(events)
    assert streamed_alerts == alerts(batch_events)
    assert any("Mining Pools" in title for title, _ in streamed_alerts), streamed_alerts


def test_a_header_kept_as_the_tail_saves_it_frames_the_rest_of_the_file() -> None:
    """The header saved after the first part (as plain JSON) frames the rest as the whole file is framed."""
    lines = (SAMPLES / "conn.tsv.log").read_bytes().splitlines(keepends=True)
    whole = [f.raw for f in ZeekHeader().frames("conn.log", lines) if isinstance(f, Frame)]
    first = ZeekHeader()
    head = [f.raw for f in first.frames("conn.log", lines[:9]) if isinstance(f, Frame)]
    saved = json.loads(json.dumps(asdict(first)))
    rest = [f.raw for f in ZeekHeader(**saved).frames("conn.log", lines[9:], 10) if isinstance(f, Frame)]
    assert head + rest == whole and len(whole) == 3
    orphan = list(ZeekHeader().frames("conn.log", lines[9:], 10))
    assert [f.reason for f in orphan] == ["a Zeek TSV line before its #fields header"] * 2
