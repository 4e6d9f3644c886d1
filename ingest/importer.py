"""`socpipe collect import`: send whole files (.evtx, JSON, syslog and access logs, pcap) to Kafka once.

The files are framed by the batch reader's code (ingest.files.frame_file), so every record reaches
Kafka as exactly the bytes the batch reader parses: the streaming job's parser then gives the same
fields, and the same alert ids, as `socpipe detect`. Records that cannot be framed (a corrupt EVTX
chunk, a broken JSON block) go to the dead-letter topic with their original bytes.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ingest.files import frame_file, walk_paths
from ingest.producer import Producer
from ingest.stamp import AgencyHints, deadletter_message, envelope_message, received_now
from socpipe.envelope import Envelope
from socpipe.events import DeadLetter

log = logging.getLogger(__name__)
_ENVELOPE_BYTES = 512  # room reserved in the spool per record for key and headers


def import_paths(paths: Iterable[Path], producer: Producer, collector: str, hints: AgencyHints) -> Counter[str]:
    """Queue every record of the files (directories recursively); returns records queued per topic."""
    queued: Counter[str] = Counter()
    for path in walk_paths(paths):
        path = path.absolute()
        try:
            stat = path.stat()
        except OSError:  # gone, or a dangling link: frame_file reports it as a dead letter
            stat = None
        identity = f"{stat.st_dev}:{stat.st_ino}" if stat else "-"
        agency = hints.for_path(path)
        for item in frame_file(path):
            record_id = f"{collector}|{path}|{identity}|{item.position}"
            _wait_for_room(producer, len(item.raw))
            if isinstance(item, DeadLetter):
                log.error("%s %s: %s (sent to the dead-letter topic)", item.origin, item.position, item.reason)
                message = deadletter_message(item, collector, received_now(), record_id)
            else:
                message = envelope_message(Envelope(
                    raw=item.raw, source=item.source, collector=collector, origin=str(path),
                    position=item.position, received_at=received_now(), record_id=record_id, agency=agency))
            if producer.send(message):
                queued[message.topic] += 1
    return queued


def _wait_for_room(producer: Producer, size: int) -> None:
    """Files can wait: while the spool is full (Kafka away), reading pauses instead of dropping."""
    if producer.room() >= size + _ENVELOPE_BYTES:
        return
    log.warning("spool full: the import waits until Kafka takes the backlog")
    while producer.room() < size + _ENVELOPE_BYTES and producer.pending:
        time.sleep(0.1)

