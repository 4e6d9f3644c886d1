"""Messages to agency contacts in Vietnamese or English: subject, plain-text body, links.

Contacts in communes are not security staff: the body says what happened in plain words, where (host,
system, its security level), when in local time, what to do next, and how to acknowledge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerting.routing import value

LEVEL_NAMES = {
    "vi": {"critical": "NGHIÊM TRỌNG", "high": "CAO", "medium": "TRUNG BÌNH", "low": "THẤP",
           "informational": "THÔNG TIN"},
    "en": {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW", "informational": "INFO"},
}
# The national reports by stage (layers/national/select.py STAGES) and the form each is filed on.
REPORT_NAMES = {
    "vi": {"initial": "báo cáo ban đầu (Mẫu 03)", "full": "báo cáo đầy đủ (Mẫu 04)"},
    "en": {"initial": "initial report (Mẫu 03)", "full": "full report (Mẫu 04)"},
}
TEXT = {
    "vi": {
        "firing": "[{level}] {agency}: {title}",
        "repeat": "[Nhắc lại][{level}] {agency}: {title}",
        "escalation": "[Chuyển cấp][{level}] {agency}: {title} chưa được xác nhận",
        "resolved": "[Đã xử lý] {agency}: {title}",
        "digest": "[Tổng hợp ngày {day}] {agency}: {count} sự cố",
        "national_overdue": "[Quá hạn báo cáo cơ quan giám sát quốc gia ({hours} giờ)] {agency}: {title}",
        "greeting": "Kính gửi {name},",
        "intro": "Hệ thống giám sát an toàn thông tin phát hiện {count} sự cố trên hệ thống của {agency}:",
        "former": "(trước đây: {former})",
        "what": "Quy tắc phát hiện: {title} (mức {level}). {description}",
        "where": "Máy: {host} | Hệ thống: {system} (cấp độ {system_level}) | Địa chỉ nguồn: {ip}",
        "when": "Thời điểm phát hiện: {when} (giờ Việt Nam), {count} cảnh báo",
        "falsepositives": "Có thể là báo động nhầm khi: {fp}",
        "next": "Việc cần làm: kiểm tra máy nêu trên, ngắt kết nối mạng nếu nghi bị xâm nhập, và báo cho "
                "SOC tỉnh. Xác nhận đã tiếp nhận trong thời hạn quy định, nếu không sự cố sẽ được chuyển cấp.",
        "ack": "Xác nhận đã tiếp nhận: {link}",
        "escalated": "Sự cố này chưa được xác nhận đúng hạn nên được chuyển đến Anh/Chị (bước {step}).",
        "resolved_body": "Sự cố đã được đóng lúc {when}. Không cần thao tác thêm.",
        "digest_intro": "Tổng hợp các sự cố mức thấp của {agency} trong ngày {day}: {count} sự cố.",
        "held": "{held} sự cố bị tạm giữ do đang trong thời gian bảo trì.",
        "national": "Sự cố {incident} của {agency} phải báo cáo cơ quan giám sát quốc gia: hạn gửi {report} là "
                    "{deadline} (giờ Việt Nam, {hours} giờ sau khi phát hiện), nhưng đến nay chưa gửi.",
        "national_next": "Việc cần làm: lập và gửi ngay {report} (Nghị định 331/2026, Điều 31.2.d) bằng "
                         "`socpipe national` hoặc qua hệ thống quản lý văn bản, ghi rõ lý do chậm; thủ trưởng "
                         "cơ quan ký báo cáo.",
        "footer": "Thư này được gửi tự động bởi SOC tỉnh; không trả lời thư này.",
    },
    "en": {
        "firing": "[{level}] {agency}: {title}",
        "repeat": "[Reminder][{level}] {agency}: {title}",
        "escalation": "[Escalated][{level}] {agency}: {title} not acknowledged",
        "resolved": "[Resolved] {agency}: {title}",
        "digest": "[Daily digest {day}] {agency}: {count} incidents",
        "national_overdue": "[National report overdue ({hours} h)] {agency}: {title}",
        "greeting": "Dear {name},",
        "intro": "Security monitoring detected {count} incident(s) on systems of {agency}:",
        "former": "(formerly: {former})",
        "what": "Detection rule: {title} (level {level}). {description}",
        "where": "Host: {host} | System: {system} (security level {system_level}) | Source address: {ip}",
        "when": "Detected at: {when} (Vietnam time), {count} alert(s)",
        "falsepositives": "Possible false positives: {fp}",
        "next": "What to do: check the host above, disconnect it from the network if you suspect an intrusion, "
                "and inform the provincial SOC. Acknowledge within the deadline, or the incident is escalated.",
        "ack": "Acknowledge: {link}",
        "escalated": "This incident was not acknowledged in time and is escalated to you (step {step}).",
        "resolved_body": "The incident was closed at {when}. Nothing more to do.",
        "digest_intro": "Low-level incidents of {agency} on {day}: {count}.",
        "held": "{held} incident(s) held by a maintenance window.",
        "national": "Incident {incident} of {agency} must be reported to the national monitoring centre: its "
                    "{report} was due at {deadline} (Vietnam time, {hours} h after detection) and has not been "
                    "sent.",
        "national_next": "What to do: prepare and send the {report} now (Decree 331/2026, Art 31.2.d) with "
                         "`socpipe national` or through the document-management system, stating the reason for "
                         "the delay; the head of the agency signs it.",
        "footer": "Sent automatically by the provincial SOC; do not reply to this message.",
    },
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def local_time(iso: str | None, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%d/%m/%Y %H:%M") if iso else "-"


def render(kind: str, language: str, contact_name: str, agency_name: str, former: str | None,
           incidents: list[Mapping[str, Any]], links: Mapping[str, str], zone: ZoneInfo,
           rules: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Any]) -> Rendered:
    """One message about some incidents of one agency. `links`: incident id -> acknowledgement link;
    `rules`: rule id -> {description, falsepositives}; `extra`: step, day, held, closed time, and for a national
    report gone overdue its stage, hours and deadline."""
    text, levels = TEXT[language], LEVEL_NAMES[language]
    first = incidents[0] if incidents else {}
    level = levels.get(str(value(first, "level") or value(first, "rule.level")), "?")
    head = {"level": level, "agency": agency_name, "title": value(first, "rule.title") or "-",
            "count": len(incidents), "day": extra.get("day", ""), "hours": extra.get("hours", "")}
    subject = text[kind].format(**head)
    lines = [text["greeting"].format(name=contact_name), ""]
    if kind == "digest":
        lines.append(text["digest_intro"].format(**head))
        if extra.get("held"):
            lines.append(text["held"].format(held=extra["held"]))
    elif kind == "national_overdue":
        report = REPORT_NAMES[language].get(str(extra.get("stage")), str(extra.get("stage")))
        lines.append(text["national"].format(incident=first.get("incident_id"), agency=agency_name, report=report,
                                             deadline=local_time(extra.get("deadline"), zone), hours=head["hours"]))
    else:
        lines.append(text["intro"].format(**head))
    if former:
        lines.append(text["former"].format(former=former))
    if kind == "escalation":
        lines.append(text["escalated"].format(step=extra.get("step", "")))
    for incident in incidents:
        rule = rules.get(str(value(incident, "rule.id")), {})
        lines += ["", "- " + text["what"].format(title=value(incident, "rule.title"),
                                                 level=levels.get(str(value(incident, "level")), "?"),
                                                 description=rule.get("description") or "").rstrip(),
                  "  " + text["where"].format(host=value(incident, "host.name") or "-",
                                              system=value(incident, "system.id") or "-",
                                              system_level=value(incident, "system.level") or "-",
                                              ip=value(incident, "source.ip") or "-"),
                  "  " + text["when"].format(when=local_time(incident.get("@timestamp"), zone),
                                             count=incident.get("count", 1))]
        if rule.get("falsepositives"):
            lines.append("  " + text["falsepositives"].format(fp="; ".join(rule["falsepositives"])))
        if kind == "resolved":
            lines.append("  " + text["resolved_body"].format(when=local_time(incident.get("closed_at"), zone)))
        elif incident.get("incident_id") in links:
            lines.append("  " + text["ack"].format(link=links[incident["incident_id"]]))
    if kind in ("firing", "repeat", "escalation"):
        lines += ["", text["next"]]
    elif kind == "national_overdue":
        lines += ["", text["national_next"].format(report=report)]
    lines += ["", "--", text["footer"]]
    return Rendered(subject, "\n".join(lines) + "\n")
