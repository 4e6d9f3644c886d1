"""The file readers and record parsers, on real files written to tmp_path and on SigmaHQ regression data."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import struct
from pathlib import Path

import pytest
from conftest import SIGMAHQ

from ingest import PARSERS, ParseError, kind_of, parse_evtx_json, parse_syslog, read_file, read_paths
from socpipe.events import JSON, SYSLOG, WEBSERVER, WINDOWS, DeadLetter, Event

REGRESSION = SIGMAHQ / "regression_data"

# One Sysmon event (1 record) and one file-event sample with 7 records in one chunk.
REDSUN = (REGRESSION / "rules-emerging-threats/2026/Exploits/RedSun/file_event_win_exploit_redsun_indicators"
          / "f2e4b7d9-5c3a-4f8b-9e1d-7a6c2b3f4e5d.evtx")
SEVEN = (REGRESSION / "rules/windows/file/file_event/file_event_win_hktl_netexec_file_indicators"
         / "efc21479-9e83-41da-8cf1-122e06ba8db3.evtx")
HEADER, CHUNK = 4096, 65536


def read(path: Path) -> tuple[list[Event], list[DeadLetter]]:
    records = list(read_file(path))
    return ([r for r in records if isinstance(r, Event)], [r for r in records if isinstance(r, DeadLetter)])


def record_spans(chunk: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the records of an EVTX chunk, from its framing."""
    spans, offset = [], 512
    while chunk[offset : offset + 4] == b"**\x00\x00":
        size = struct.unpack_from("<I", chunk, offset + 4)[0]
        spans.append((offset, size))
        offset += size
    return spans


# ---- syslog ------------------------------------------------------------------------------------------

def test_rfc3164_with_and_without_pri(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    path.write_bytes(
        b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8\n"
        b"\n"
        b"Oct  1 02:14:15 web1 sshd[4242]: Failed password for root from 203.0.113.9 port 22 ssh2\r\n"
        b"Oct 11 22:14:16 web1 kernel: [ 12.5] eth0: link up\n"
        b"2024-04-26T10:15:01.123456+07:00 web1 sudo: pam_unix(sudo:session): session opened\n"
    )
    events, dead = read(path)
    assert dead == []
    assert [e.fields for e in events] == [
        {"timestamp": "Oct 11 22:14:15", "host": "mymachine", "program": "su", "pid": "123",
         "message": "'su root' failed for lonvick on /dev/pts/8", "facility": "4", "severity": "2"},
        {"timestamp": "Oct  1 02:14:15", "host": "web1", "program": "sshd", "pid": "4242",
         "message": "Failed password for root from 203.0.113.9 port 22 ssh2"},
        {"timestamp": "Oct 11 22:14:16", "host": "web1", "program": "kernel", "message": "[ 12.5] eth0: link up"},
        {"timestamp": "2024-04-26T10:15:01.123456+07:00", "host": "web1", "program": "sudo",
         "message": "pam_unix(sudo:session): session opened"},
    ]
    assert {e.kind for e in events} == {SYSLOG}
    assert [e.origin for e in events] == [f"{path}:line {n}" for n in (1, 3, 4, 5)]


def test_rfc5424_with_structured_data_bom_and_nil_fields(tmp_path: Path) -> None:
    path = tmp_path / "syslog.log"
    path.write_bytes(
        b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        b'eventSource="Appl\\"ication"][examplePriority@32473 class="high"] \xef\xbb\xbfAn application event\n'
        b"<13>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time\n"
        b"<14>1 - - - - - -\n"
    )
    events, dead = read(path)
    assert dead == []
    assert [e.fields for e in events] == [
        {"timestamp": "2003-10-11T22:14:15.003Z", "host": "mymachine.example.com", "program": "evntslog",
         "msgid": "ID47", "message": "An application event", "facility": "20", "severity": "5",
         "structured_data": '[exampleSDID@32473 iut="3" eventSource="Appl\\"ication"]'
                            '[examplePriority@32473 class="high"]'},
        {"timestamp": "2003-08-24T05:14:15.000003-07:00", "host": "192.0.2.1", "program": "myproc",
         "pid": "8710", "message": "%% It's time", "facility": "1", "severity": "5"},
        {"facility": "1", "severity": "6"},
    ]


def test_syslog_bad_lines_become_dead_letters(tmp_path: Path) -> None:
    path = tmp_path / "messages.log"
    path.write_bytes(b"Oct 11 22:14:15 h p[1]: ok\n<999>Oct 11 22:14:15 h p: bad pri\nnot syslog at all\n"
                     b"Oct 11 22:14:17 h p[2]: still read\n")
    events, dead = read(path)
    assert [e.fields["pid"] for e in events] == ["1", "2"]
    assert [(d.position, d.raw) for d in dead] == [("line 2", b"<999>Oct 11 22:14:15 h p: bad pri"),
                                                   ("line 3", b"not syslog at all")]
    assert "out of range" in dead[0].reason
    assert all(d.origin == str(path) for d in dead)


# ---- access logs -------------------------------------------------------------------------------------

def test_access_log_combined_common_and_garbage_request(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(
        b'192.0.2.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.php?x=1&y=%27 HTTP/1.1" 200 2326 '
        b'"http://ref/" "Mozilla/5.0 (X11)"\n'
        b'192.0.2.8 - - [10/Oct/2000:13:55:37 -0700] "POST /login HTTP/1.0" 302 -\n'
        b'198.51.100.1 - - [10/Oct/2000:13:55:38 -0700] "\\x16\\x03\\x01\\x02\\x00" 400 157 "-" "-"\n'
    )
    events, dead = read(path)
    assert dead == []
    assert {e.kind for e in events} == {WEBSERVER}
    assert [e.fields for e in events] == [
        {"c-ip": "192.0.2.7", "cs-username": "frank", "date": "10/Oct/2000:13:55:36 -0700",
         "cs-method": "GET", "c-uri": "/a.php?x=1&y=%27", "cs-uri-stem": "/a.php", "cs-uri-query": "x=1&y=%27",
         "cs-version": "HTTP/1.1", "sc-status": "200", "sc-bytes": "2326", "cs-referer": "http://ref/",
         "cs-user-agent": "Mozilla/5.0 (X11)", "c-useragent": "Mozilla/5.0 (X11)"},
        {"c-ip": "192.0.2.8", "date": "10/Oct/2000:13:55:37 -0700", "cs-method": "POST", "c-uri": "/login",
         "cs-uri-stem": "/login", "cs-version": "HTTP/1.0", "sc-status": "302"},
        {"c-ip": "198.51.100.1", "date": "10/Oct/2000:13:55:38 -0700", "c-uri": "\\x16\\x03\\x01\\x02\\x00",
         "sc-status": "400", "sc-bytes": "157"},
    ]


# ---- JSON --------------------------------------------------------------------------------------------

def test_flat_json_lines_nesting_and_kinds(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        json.dumps({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\x.exe",
                    "Hashes": {"SHA256": "AB", "MD5": None}, "Elevated": True, "Empty": ""}) + "\n"
        + json.dumps({"c-uri": "/a?b", "sc-status": 404}) + "\n"
        + json.dumps({"user": {"name": "bob", "id": 7}, "tags": ["a", 2], "ratio": 0.5}) + "\n",
        encoding="utf-8",
    )
    events, dead = read(path)
    assert dead == []
    assert [(e.kind, e.fields) for e in events] == [
        (WINDOWS, {"EventID": "1", "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\x.exe",
                   "Hashes.SHA256": "AB", "Elevated": "true", "Empty": ""}),
        (WEBSERVER, {"c-uri": "/a?b", "sc-status": "404"}),
        (JSON, {"user.name": "bob", "user.id": "7", "tags": "a\n2", "ratio": "0.5"}),
    ]


def test_corrupted_json_line_in_the_middle(tmp_path: Path) -> None:
    bad = b'{"EventID": 2, "Image": "C:\\\\y.exe"'  # missing closing brace
    path = tmp_path / "events.json"
    path.write_bytes(b"[1, 2]\n" + b'{"EventID": 1}\n' + bad + b"\r\n" + b'{"EventID": 3}\n'
                     + b'{"Image": "caf\xe9"}\n' + b'{"EventID": 4}\n')
    events, dead = read(path)
    assert [e.fields["EventID"] for e in events] == ["1", "3", "4"]
    assert [e.origin for e in events] == [f"{path}:line {n}" for n in (2, 4, 6)]
    assert [(d.position, d.raw) for d in dead] == [
        ("line 1", b"[1, 2]"),
        ("line 3", bad),
        ("line 5", b'{"Image": "caf\xe9"}'),
    ]
    assert dead[0].reason == "expected a JSON object, got list"
    assert dead[1].reason.startswith("invalid JSON at byte 57 (line 3, column 36)")
    assert dead[2].reason == "invalid UTF-8 at byte 88"


def test_nested_event_json_pretty_printed_concatenated_with_resync(tmp_path: Path) -> None:
    def event(record_id: int, data: dict[str, object]) -> str:
        document = {"Event": {"#attributes": {"xmlns": "x"}, "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "G"}},
            "EventID": 1, "EventRecordID": record_id, "Correlation": None, "Channel": "Sysmon",
            "Computer": "pc1"}, "EventData": data}}
        return json.dumps(document, indent=2)

    broken = '{\n  "Event": {\n    "System": {"EventID": \n'
    path = tmp_path / "export"  # no extension: sniffed as JSON
    first, second, third = (event(n, {"Image": f"{name}.exe"}) for n, name in ((1, "a"), (2, "b"), (3, "c")))
    path.write_text(first + "\n" + broken + second + "\n" + third, encoding="utf-8")
    events, dead = read(path)
    assert [e.fields for e in events] == [
        {"Image": f"{name}.exe", "EventID": "1", "EventRecordID": str(n), "Channel": "Sysmon",
         "Computer": "pc1", "Provider_Name": "Microsoft-Windows-Sysmon"}
        for n, name in ((1, "a"), (2, "b"), (3, "c"))
    ]
    assert {e.kind for e in events} == {WINDOWS}
    lines = first.count("\n") + 1  # each document's line count
    assert [e.origin for e in events] == [f"{path}:line {n}" for n in (1, lines + 4, 2 * lines + 4)]
    assert len(dead) == 1
    assert dead[0].position == f"line {lines + 1}"
    assert dead[0].raw == broken.rstrip().encode()  # trailing JSON whitespace is not kept
    end_column = len(broken.rstrip().splitlines()[-1]) + 1  # the error is where the cut record ends
    assert f"at byte {len(first) + 1 + len(broken.rstrip())} (line {lines + 3}, column {end_column})" in dead[0].reason


def test_windows_flattening_of_the_shapes_found_in_exports() -> None:
    document = {"Event": {
        "System": {"Provider": {"#attributes": {"Name": "MSDTC", "EventSourceName": "MSDTC"}},
                   "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 4111}, "Level": 4, "Task": None,
                   "Keywords": "0x80000000000000",
                   "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}},
                   "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}},
                   "Security": {"#attributes": {"UserID": "S-1-5-18"}}, "Channel": "Application"},
        "EventData": {"#attributes": {"Name": "TaskDisabled"},
                      "Data": [{"#attributes": {"Name": "TargetUserName"}, "#text": "bob"},
                               {"#attributes": {"Name": "Empty"}}, "first", {"#text": ["second", 3]}],
                      "Binary": "4D00", "Blank": ""},
        "UserData": {"LogFileCleared": {"#attributes": {"xmlns": "ns"}, "SubjectUserName": "admin",
                                        "Nested": {"Inner": True}}},
    }}
    assert parse_evtx_json(json.dumps(document).encode()) == {
        "TargetUserName": "bob", "Data": "first\nsecond\n3", "Binary": "4D00", "SubjectUserName": "admin",
        "Nested.Inner": "true", "EventID": "4111", "Level": "4", "Keywords": "0x80000000000000",
        "Channel": "Application", "Provider_Name": "MSDTC", "TimeCreated": "2024-01-01T00:00:00Z",
        "Execution_ProcessID": "4", "Execution_ThreadID": "8", "Security_UserID": "S-1-5-18",
        "Empty": "", "Blank": "", "Task": "",  # present and empty, not missing: Sigma's '' and null differ
    }
    single_unnamed = {"Event": {"System": {"EventID": 400}, "EventData": {"Data": {"#text": "HostName=x"}}}}
    assert parse_evtx_json(json.dumps(single_unnamed).encode()) == {"Data": "HostName=x", "EventID": "400"}
    with pytest.raises(ParseError, match="no Event/System"):
        parse_evtx_json(b'{"Event": {"EventData": {}}}')


def test_parser_registry_and_kinds() -> None:
    assert set(PARSERS) == {"syslog", "access", "evtx_json", "json", "flow", "eve", "zeek"}
    line = b"Oct 11 22:14:15 h sshd[1]: Accepted publickey for bob\n"
    assert PARSERS["syslog"](line)["message"] == "Accepted publickey for bob"
    assert kind_of("syslog", {}) == SYSLOG
    assert kind_of("access", {}) == WEBSERVER
    assert kind_of("evtx_json", {}) == WINDOWS
    assert kind_of("json", {"Channel": "Security"}) == WINDOWS
    assert kind_of("json", {"cs-method": "GET"}) == WEBSERVER
    assert kind_of("json", {"msg": "x"}) == JSON
    assert kind_of("flow", {}) == "flow"
    assert kind_of("eve", {"event_type": "dns"}) == "suricata_dns"
    assert kind_of("eve", {"event_type": "stats"}) == "suricata"
    assert kind_of("zeek", {"_path": "conn"}) == "zeek_conn"
    assert kind_of("zeek", {"query": "example.org"}) == "zeek_dns"
    with pytest.raises(ValueError, match="unknown parser"):
        kind_of("csv", {})
    for name in PARSERS:
        with pytest.raises(ParseError):
            PARSERS[name](b"\x00garbage")
    with pytest.raises(ParseError, match="not a syslog line"):
        parse_syslog(b"")


# ---- EVTX --------------------------------------------------------------------------------------------

def test_evtx_happy_path() -> None:
    events, dead = read(REDSUN)
    assert dead == []
    assert [(e.kind, e.origin) for e in events] == [(WINDOWS, f"{REDSUN}:record 1")]
    assert events[0].fields == {
        "RuleName": "EXE", "UtcTime": "2026-04-17 05:24:53.079", "ProcessGuid": "0197231E-C424-69E1-C922-000000000800",
        "ProcessId": "15596", "Image": "C:\\Users\\xodih\\Downloads\\RedSun.exe",
        "TargetFilename": "C:\\Users\\xodih\\AppData\\Local\\Temp\\RS-{05A3207F-23AB-432D-BDAF-69A8306619CF}"
                          "\\TieringEngineService.exe",
        "CreationUtcTime": "2026-04-17 05:24:53.079", "User": "swachchhanda\\xodih", "EventID": "11",
        "Version": "2", "Level": "4", "Task": "11", "Opcode": "0", "Keywords": "0x8000000000000000",
        "EventRecordID": "83239", "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "swachchhanda",
        "Provider_Name": "Microsoft-Windows-Sysmon", "TimeCreated": "2026-04-17T05:24:53.092051Z",
        "Execution_ProcessID": "3208", "Execution_ThreadID": "1724", "Security_UserID": "S-1-5-18",
    }


def test_truncated_evtx_gives_complete_records_and_a_dead_letter(tmp_path: Path) -> None:
    source = SEVEN.read_bytes()
    spans = record_spans(source[HEADER:])
    assert len(spans) == 7
    fourth_start, fourth_size = spans[3]
    cut = HEADER + fourth_start + fourth_size // 2
    path = tmp_path / "cut.evtx"
    path.write_bytes(source[:cut])
    events, dead = read(path)
    assert [e.origin.rsplit(":", 1)[1] for e in events] == ["record 1", "record 2", "record 3"]
    assert [e.fields for e in events] == [e.fields for e in read(SEVEN)[0][:3]]
    assert len(dead) == 1
    assert dead[0].position == f"byte {HEADER + fourth_start}"
    assert dead[0].raw == source[HEADER + fourth_start : cut]
    assert "truncated EVTX file: chunk 0" in dead[0].reason


def test_evtx_with_flipped_record_bytes_loses_only_that_record(tmp_path: Path) -> None:
    source = bytearray(SEVEN.read_bytes())
    second_start, second_size = record_spans(bytes(source[HEADER:]))[1]
    source[HEADER + second_start + 24] = 0xFF  # the record's first BinXML token
    path = tmp_path / "flipped.evtx"
    path.write_bytes(bytes(source))
    events, dead = read(path)
    assert [e.origin.rsplit(":", 1)[1] for e in events] == [f"record {n}" for n in (1, 3, 4, 5, 6, 7)]
    assert [(d.position, d.raw) for d in dead] == [
        ("record 2", bytes(source[HEADER + second_start : HEADER + second_start + second_size]))]
    assert "invalid byte" in dead[0].reason


def test_evtx_bad_chunk_between_good_ones(tmp_path: Path) -> None:
    source = SEVEN.read_bytes()
    chunk = source[HEADER:]
    broken = b"BadMagic" + chunk[8:]
    path = tmp_path / "three_chunks.evtx"
    path.write_bytes(source[:HEADER] + chunk + broken + chunk)
    events, dead = read(path)
    assert len(events) == 14
    assert [(d.position, d.raw) for d in dead] == [(f"chunk 1 (byte {HEADER + CHUNK})", broken)]
    assert "chunk header magic" in dead[0].reason


def test_evtx_cut_at_a_chunk_boundary_is_reported(tmp_path: Path) -> None:
    header = bytearray(SEVEN.read_bytes()[:HEADER])
    struct.pack_into("<H", header, 42, 2)  # the header announces two chunks
    path = tmp_path / "boundary.evtx"
    path.write_bytes(bytes(header) + SEVEN.read_bytes()[HEADER:])
    events, dead = read(path)
    assert len(events) == 7
    assert [d.reason for d in dead] == ["truncated EVTX file: the header announces 2 chunks, the file holds 1"]


def test_evtx_with_random_damage_never_raises(tmp_path: Path) -> None:
    source = SEVEN.read_bytes()
    path = tmp_path / "damaged.evtx"
    dead_letters = 0
    for seed in range(200):
        rng = random.Random(seed)
        damaged = bytearray(source)
        for _ in range(rng.choice([1, 8, 64])):  # file header, chunk header or records
            damaged[rng.choice([rng.randrange(128), HEADER + rng.randrange(512), HEADER + rng.randrange(8000)])] ^= 0xFF
        path.write_bytes(bytes(damaged[: rng.choice([len(damaged), rng.randrange(HEADER, len(damaged))])]))
        records = list(read_file(path))
        assert records and all(isinstance(r, Event | DeadLetter) for r in records), seed
        dead_letters += sum(isinstance(r, DeadLetter) for r in records)
    assert dead_letters > 100


def test_non_evtx_and_unknown_binary_files_give_one_dead_letter(tmp_path: Path) -> None:
    junk = bytes(range(256)) * 64
    (tmp_path / "fake.evtx").write_bytes(junk)
    (tmp_path / "blob").write_bytes(b"\x89PNG\r\n\x1a\n" + junk)
    (tmp_path / "short.evtx").write_bytes(b"ElfFile\x00" + bytes(100))
    for name, reason in (("fake.evtx", "not an EVTX file"), ("blob", "unknown format"),
                         ("short.evtx", "truncated EVTX file: header has 108 of 4096 bytes")):
        records = list(read_file(tmp_path / name))
        assert len(records) == 1 and isinstance(records[0], DeadLetter), name
        assert records[0].reason.startswith(reason) and records[0].position == "byte 0"
        assert records[0].raw == (tmp_path / name).read_bytes()[:4096]


# ---- files, directories, sniffing --------------------------------------------------------------------

SYSLOG_LINE = b"Oct 11 22:14:15 h sshd[1]: Accepted password for bob\n"
ACCESS_LINE = b'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5\n'


def test_format_sniffing_without_extensions(tmp_path: Path) -> None:
    shutil.copy(REDSUN, tmp_path / "a")
    (tmp_path / "b").write_bytes(b"\xef\xbb\xbf  " + json.dumps({"Event": {"System": {"EventID": 4624}}}).encode())
    (tmp_path / "c").write_bytes(b'{"msg": "hello"}\n')
    (tmp_path / "d.log").write_bytes(b"\n" + SYSLOG_LINE)
    (tmp_path / "e.1").write_bytes(ACCESS_LINE)
    (tmp_path / "f.log").write_bytes(b"")
    (tmp_path / "g.txt").write_bytes(b"just some notes\n")
    kinds = {name: [(r.kind if isinstance(r, Event) else "dead") for r in read_file(tmp_path / name)]
             for name in ["a", "b", "c", "d.log", "e.1", "f.log", "g.txt"]}
    assert kinds == {"a": [WINDOWS], "b": [WINDOWS], "c": [JSON], "d.log": [SYSLOG], "e.1": [WEBSERVER],
                     "f.log": [], "g.txt": ["dead"]}
    assert next(read_file(tmp_path / "d.log")).origin == f"{tmp_path / 'd.log'}:line 2"


def test_directory_recursion_sorted_and_skipping_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.log").write_bytes(SYSLOG_LINE)
    (tmp_path / "b" / "y.log").write_bytes(ACCESS_LINE)
    (tmp_path / "b" / "z" / "x.jsonl").write_bytes(b'{"k": 1}\n')
    (tmp_path / "b" / ".hidden.log").write_bytes(SYSLOG_LINE)
    (tmp_path / ".git" / "config.log").write_bytes(SYSLOG_LINE)
    single = tmp_path / "single.log"
    single.write_bytes(ACCESS_LINE)
    records = list(read_paths([tmp_path / "b", tmp_path / "a.log"]))
    assert [r.origin for r in records] == [
        f"{tmp_path}/b/y.log:line 1", f"{tmp_path}/b/z/x.jsonl:line 1", f"{tmp_path}/a.log:line 1"]
    everything = [r.origin.rsplit(":", 1)[0] for r in read_paths([tmp_path])]
    assert everything == [f"{tmp_path}/{name}" for name in ("a.log", "single.log", "b/y.log", "b/z/x.jsonl")]


def test_gzip_files_are_read_transparently_and_truncation_is_a_dead_letter(tmp_path: Path) -> None:
    body = b"".join(SYSLOG_LINE.replace(b"sshd[1]", f"sshd[{n}]".encode()) for n in range(2000))
    path = tmp_path / "auth.log.2.gz"
    path.write_bytes(gzip.compress(body))
    events, dead = read(path)
    assert (len(events), dead) == (2000, [])
    cut = tmp_path / "cut.gz"
    cut.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    events, dead = read(cut)
    assert 0 < len(events) < 2000
    assert len(dead) == 1 and dead[0].position == f"after line {len(events)}"
    assert "cannot read the file further" in dead[0].reason


def test_missing_file_is_a_dead_letter(tmp_path: Path) -> None:
    records = list(read_paths([tmp_path / "nope.log"]))
    assert len(records) == 1 and isinstance(records[0], DeadLetter)
    assert "No such file" in records[0].reason


# ---- SigmaHQ regression data -------------------------------------------------------------------------

# The .json export of this sample was not made from the same rendering as its .evtx: it has a
# 9-digit SystemTime and "Explorer.exe" where the .evtx says "Explorer.EXE".
KNOWN_EXPORT_DIFFERENCES = {"ad691d92-15f2-4181-9aa4-723c74f9ddc3": {"TimeCreated", "ParentCommandLine"}}


def test_regression_evtx_and_json_exports_give_the_same_fields() -> None:
    """Every .evtx and .json reads without dead letters, and each pair gives the same events.

    The JSON exports were made with trailing whitespace trimmed from values, the .evtx files keep it
    (Sigma rules rely on it, e.g. CommandLine|endswith: 'chcp '), so values compare after rstrip.
    """
    pairs = sorted(REGRESSION.rglob("*.json"))
    assert len(pairs) >= 200
    trimmed = 0
    for json_path in pairs:
        from_evtx, dead_evtx = read(json_path.with_suffix(".evtx"))
        from_json, dead_json = read(json_path)
        assert dead_evtx == [] and dead_json == [], json_path
        assert len(from_evtx) == len(from_json) > 0, json_path
        for a, b in zip(from_evtx, from_json, strict=True):
            assert a.kind == b.kind == WINDOWS
            trimmed += a.fields != b.fields
            a_fields = {k: v.rstrip() for k, v in a.fields.items()}
            differing = {k for k in a_fields.keys() | b.fields.keys() if a_fields.get(k) != b.fields.get(k)}
            assert differing == KNOWN_EXPORT_DIFFERENCES.get(json_path.stem, set()), json_path
    assert trimmed > 0  # the whitespace difference is real: values are not trimmed by the reader
