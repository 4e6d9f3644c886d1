"""`socpipe collect file`: tail log files into Kafka, surviving restarts and log rotation.

Each poll reads what was appended up to the last complete line (a line still being written waits),
frames it with the batch reader's code (ingest.files), and queues the records. The offset is saved
only after the records are in the spool, so a restart goes on exactly where the spool left off.
Rotation: a file renamed away is read to its end before the new file at the path is started; a
file truncated in place (copytruncate) is read again from its start as a new generation. A Zeek TSV log's
header (ingest/zeektsv.py) is saved with the offset, so its lines are framed as the batch reader frames
them after a restart too; Zeek's rotation (the log renamed, a new file with a new header) is a new
generation like any other. Record ids
name the path, the file's device:inode and generation, and the line, so a line sent again after a
crash has the same id.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.files import _SNIFF_BYTES, _SNIFF_LINES, frame_json, frame_lines, sniff_format, unknown_format
from ingest.frame import Frame
from ingest.producer import Producer
from ingest.stamp import AgencyHints, deadletter_message, envelope_message, received_now
from ingest.zeektsv import ZeekHeader
from socpipe.envelope import Envelope
from socpipe.events import DeadLetter

log = logging.getLogger(__name__)

READ_BYTES = 1 << 20  # at most this much of one file per poll, so one busy file does not starve the rest
_ENVELOPE_BYTES = 512  # room reserved in the spool per record for key and headers


@dataclass
class TailState:
    """Where a file was read up to; saved in the state folder."""

    device: int = 0
    inode: int = 0
    generation: int = 0  # files seen at this path: rotations and truncations
    offset: int = 0
    line: int = 1  # number of the line at offset
    format: str = ""  # sniff_format's answer once decided: json, zeek_tsv, syslog or access
    parser: str = ""  # the parser of a JSON file, decided by its first document
    zeek: dict[str, object] = field(default_factory=dict)  # a Zeek TSV log's header so far (ZeekHeader)


class TailedFile:
    """One path: its open file, and what of it was sent."""

    def __init__(self, path: Path, state: TailState, tailer: FileTailer) -> None:
        self.path, self.state, self._tailer = path, state, tailer
        self._file: io.BufferedReader | None = None
        self._stopped_generation = -1  # a generation that cannot be tailed (unknown format, EVTX)
        self.last_error = ""  # logged once, not at every poll

    def poll(self) -> bool:
        """Read what is new; True when the state changed."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            stat = None
        changed = False
        if self._file is None:
            if stat is None:
                return False
            changed = self._open(stat)
        elif stat is None or (stat.st_dev, stat.st_ino) != (self.state.device, self.state.inode):
            changed = self._read(final=True)  # renamed away: its last lines first
            self._file.close()
            self._file = None
            if stat is None:
                return changed
            self._next_generation(stat)
            self._open(stat)
            changed = True
        elif stat.st_size < self.state.offset:
            log.warning("%s was truncated (copytruncate rotation): reading it again from the start", self.path)
            self._next_generation(stat)
            changed = True
        return self._read(final=False) or changed

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self, stat: os.stat_result) -> bool:
        """Open the file at the path, first finishing the file read last time if it was rotated meanwhile."""
        state, changed = self.state, False
        if state.inode and (stat.st_dev, stat.st_ino) != (state.device, state.inode):
            rotated = _find_inode(self.path.parent, state.device, state.inode)
            if rotated is not None:
                log.warning("%s was rotated while the collector was down: finishing %s first", self.path, rotated)
                self._file = rotated.open("rb")
                self._read(final=True)
                self._file.close()
            self._next_generation(stat)
            changed = True
        elif state.inode and stat.st_size < state.offset:
            log.warning("%s is shorter than where reading stopped: truncated, reading from the start", self.path)
            self._next_generation(stat)
            changed = True
        elif not state.inode:
            state.device, state.inode = stat.st_dev, stat.st_ino
            changed = True
        self._file = self.path.open("rb")
        return changed

    def _next_generation(self, stat: os.stat_result) -> None:
        self.state = TailState(stat.st_dev, stat.st_ino, self.state.generation + 1)

    def _read(self, final: bool) -> bool:
        """Send the complete lines after the offset (with `final`, a last line without newline too)."""
        assert self._file is not None
        state = self.state
        if state.generation == self._stopped_generation:
            return False
        changed = False
        while True:
            self._file.seek(state.offset)
            data = self._file.read(READ_BYTES)
            complete = data if final or len(data) == READ_BYTES and b"\n" not in data else \
                data[: data.rfind(b"\n") + 1]
            if not complete:
                return changed
            if not state.format and not self._decide_format(complete, len(data) < READ_BYTES):
                return changed
            if self._tailer.room() < len(complete) + _ENVELOPE_BYTES * (complete.count(b"\n") + 1):
                self._tailer.spool_full(self.path)
                return changed
            self._send(complete)
            state.offset += len(complete)
            state.line += complete.count(b"\n") + (0 if complete.endswith(b"\n") else 1)
            changed = True
            if len(data) < READ_BYTES:
                return changed

    def _decide_format(self, complete: bytes, at_end: bool) -> bool:
        """Sniff the format from the first complete lines, as the batch reader does; False to wait."""
        state = self.state
        if not complete.strip():
            return False
        kind = sniff_format(self.path, complete[:_SNIFF_BYTES])
        enough = complete.count(b"\n") >= _SNIFF_LINES or len(complete) >= _SNIFF_BYTES or not at_end
        if kind is None and not enough:
            return False  # maybe the next lines say
        if kind in (None, "evtx", "pcap"):
            self._stopped_generation = state.generation
            what = "packet captures" if kind == "pcap" else "EVTX files"
            why = (f"{what} are read with `socpipe collect import`" if kind else
                   "unknown format: not JSON, Zeek TSV, syslog or a web access log")
            log.error("%s: not tailed: %s", self.path, why)
            if kind is None:
                self._tailer.deadletter(self, unknown_format(str(self.path), complete))
            return False
        state.format = kind
        return True

    def _send(self, data: bytes) -> None:
        state = self.state
        lines = io.BytesIO(data)
        header = None
        if state.format == "json":
            frames = frame_json(str(self.path), lines, state.line, state.offset, state.parser)
        elif state.format == "zeek_tsv":
            header = ZeekHeader(**state.zeek)
            frames = header.frames(str(self.path), lines, state.line)
        else:
            frames = frame_lines(lines, state.format, state.line)
        for item in frames:
            if isinstance(item, DeadLetter):
                self._tailer.deadletter(self, item)
            else:
                state.parser = state.parser or item.parser
                self._tailer.send(self, item)
        if header is not None:
            state.zeek = asdict(header)

    def record_id(self, position: str) -> str:
        s = self.state
        return f"{self._tailer.collector}|{self.path}|{s.device}:{s.inode}|{s.generation}|{position}"


class FileTailer:
    """All tailed paths of one collector, and their saved state."""

    def __init__(self, paths: list[Path], producer: Producer, collector: str, hints: AgencyHints,
                 state_dir: Path) -> None:
        self.collector = collector
        self._producer, self._hints = producer, hints
        self._state_file = state_dir / "offsets.json"
        saved = json.loads(self._state_file.read_text(encoding="utf-8")) if self._state_file.exists() else {}
        self.files = [TailedFile(path, TailState(**saved.get(str(path), {})), self)
                      for path in (p.absolute() for p in paths)]
        self._full_logged = False

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        """Poll until `stop` is set; the state is saved after every poll that sent something."""
        while not stop.is_set():
            self.poll()
            stop.wait(poll_seconds)

    def poll(self) -> None:
        changed = False
        for tailed in self.files:
            try:
                changed = tailed.poll() or changed
            except OSError as err:
                if str(err) != tailed.last_error:
                    log.error("%s: %s (tried again at every poll)", tailed.path, err)
                tailed.last_error = str(err)
                tailed.close()
            else:
                tailed.last_error = ""
        if changed:
            self.save()

    def save(self) -> None:
        temporary = self._state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({str(t.path): asdict(t.state) for t in self.files}, indent=1),
                             encoding="utf-8")
        temporary.replace(self._state_file)

    def close(self) -> None:
        for tailed in self.files:
            tailed.close()
        self.save()

    def room(self) -> int:
        return self._producer.room()

    def spool_full(self, path: Path) -> None:
        if not self._full_logged:
            self._full_logged = True
            log.warning("spool full: tailing %s waits until Kafka takes the backlog", path)

    def send(self, tailed: TailedFile, frame: Frame) -> None:
        self._full_logged = False
        envelope = Envelope(raw=frame.raw, source=frame.source, collector=self.collector, origin=str(tailed.path),
                            position=frame.position, received_at=received_now(),
                            record_id=tailed.record_id(frame.position), agency=self._hints.for_path(tailed.path))
        self._producer.send(envelope_message(envelope))

    def deadletter(self, tailed: TailedFile, letter: DeadLetter) -> None:
        log.error("%s %s: %s (sent to the dead-letter topic)", letter.origin, letter.position, letter.reason)
        self._producer.send(deadletter_message(letter, self.collector, received_now(),
                                               tailed.record_id(letter.position)))


def _find_inode(folder: Path, device: int, inode: int) -> Path | None:
    """The file in `folder` with this device and inode (where a rotated file went), if any."""
    for candidate in folder.iterdir():
        try:
            stat = candidate.stat()
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) == (device, inode) and candidate.is_file():
            return candidate
    return None
