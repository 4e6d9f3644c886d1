"""Layer 1 in the embedded demo: the demo's incidents routed to the agency contacts of the demo registry,
written as .eml files to DIR/outbox (no SMTP server needed), one message per notification."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from alerting.channels import EmailChannel
from alerting.notify import Notifier
from alerting.notify_store import ActionLog, SqliteStore
from socpipe.config import load_config
from socpipe.registry import Registry


def write_outbox(registry: Registry, out: Path) -> list[str]:
    """Notify every demo incident once, as the scheduler would after group_wait; returns summary lines."""
    incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text(encoding="utf-8").splitlines()]
    timed = [i for i in incidents if i.get("@timestamp")]
    if not timed:
        return ["layer 1: no incidents to notify"]
    outbox = out / "outbox"
    for old in outbox.glob("*.eml"):
        old.unlink()
    # The demo's own settings, whatever the configuration names: it never sends real mail.
    demo = load_config(environ={"SOCPIPE__NOTIFY__OUTBOX_DIR": str(outbox.resolve()),
                                "SOCPIPE__NOTIFY__ACK_SECRET": "demo-only-secret"})
    home = out / "notify"  # the scheduler's state and its action log (demo-out/lake is the events table)
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    state = home / "state.sqlite"
    store = SqliteStore(state)
    store.put_many("incident", [(i["incident_id"], i) for i in timed])
    notifier = Notifier(demo, registry, store, ActionLog(home / "lake"), {"email": EmailChannel(demo)})
    last = max(datetime.fromisoformat(i["@timestamp"]) for i in timed)
    sent = sum(notifier.tick(last + timedelta(seconds=wait)).sent for wait in (0, 31))
    mails = sorted(outbox.glob("*.eml"))
    return [f"layer 1: {sent} notifications to agency contacts, {len(mails)} messages in {outbox}/"]
