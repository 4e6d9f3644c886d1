"""The plain forms a national centre may ask for: a JSON record, an RFC 5424 syslog line, and the
Circular 20/2017 incident report forms rendered in Vietnamese: Mẫu 03 (initial report) and Mẫu 04
(closing report), with the computed 24 h / 72 h deadlines and the times sent."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "informational": 6}
FACILITY = 13  # log audit
SD_ID = "socpipe@32473"  # enterprise number 32473 is reserved for documentation (RFC 5612)
MISSING = "(chưa có trong hồ sơ)"


@dataclass
class Report:
    """Everything a form needs about one incident and stage."""

    incident: Mapping[str, Any]
    stage: str
    reasons: list[str]
    deadlines: dict[str, datetime]
    sent: dict[str, datetime | None]
    reporter: Mapping[str, Any]
    agency: Mapping[str, Any]
    system: Mapping[str, Any] | None
    indicators: list[str] = field(default_factory=list)
    closed: datetime | None = None
    bundle_id: str = ""

    def record(self) -> dict[str, Any]:
        """The JSON form."""
        inc = self.incident
        return {"incident_id": inc["incident_id"], "stage": self.stage, "detected": inc["@timestamp"],
                "level": inc.get("level"), "rule": inc.get("rule"), "reasons": self.reasons,
                "agency": dict(self.agency), "system": dict(self.system) if self.system else None,
                "deadlines": {k: v.isoformat() for k, v in self.deadlines.items()},
                "sent": {k: v.isoformat() if v else None for k, v in self.sent.items()},
                "closed": self.closed.isoformat() if self.closed else None, "indicators": self.indicators,
                "reporter": dict(self.reporter), "stix_bundle": self.bundle_id}


def json_line(report: Report) -> str:
    return json.dumps(report.record(), ensure_ascii=False, sort_keys=True)


def _sd_value(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_line(report: Report, hostname: str = "socpipe") -> str:
    """One RFC 5424 message: structured data with the incident's key facts, the JSON form as the message."""
    inc = report.incident
    pri = FACILITY * 8 + SEVERITY.get(str(inc.get("level")), 6)
    params = {"incident": inc["incident_id"], "stage": report.stage, "level": inc.get("level"),
              "agency": inc.get("agency.id"), "system": inc.get("system.id"), "detected": inc["@timestamp"],
              "deadline": report.deadlines[report.stage].isoformat()}
    sd = "[" + SD_ID + "".join(f' {k}="{_sd_value(v)}"' for k, v in params.items() if v is not None) + "]"
    when = datetime.fromisoformat(inc["@timestamp"]).isoformat().replace("+00:00", "Z")
    return f"<{pri}>1 {when} {hostname} socpipe - national-{report.stage} {sd} \ufeff{json_line(report)}"


REASONS_VI = (("level ", "mức độ cảnh báo "), ("system level ", "hệ thống cấp độ "), ("tag ", "nhãn luật "),
              ("verdict ", "kết luận của chuyên viên: "), ("escalated by an analyst", "chuyên viên chuyển báo cáo"))


def _reason_vi(reason: str) -> str:
    """A selection reason (layers/national/select.py) in Vietnamese."""
    for english, vietnamese in REASONS_VI:
        if reason.startswith(english):
            return vietnamese + reason[len(english):]
    return reason


def _minute(value: datetime | str | None) -> str:
    if value is None:
        return "chưa gửi"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.strftime("%H giờ %M phút, ngày %d/%m/%Y (UTC)")


def form_html(report: Report) -> str:
    """Mẫu 03 (initial report) or, for the full stage, Mẫu 04 (closing report), in Vietnamese."""
    inc, agency, system, rep = report.incident, report.agency, report.system or {}, report.reporter
    closing = report.stage == "full"
    number, title = ("04", "BÁO CÁO KẾT THÚC ỨNG CỨU SỰ CỐ AN TOÀN THÔNG TIN MẠNG") if closing else (
        "03", "BÁO CÁO BAN ĐẦU SỰ CỐ AN TOÀN THÔNG TIN MẠNG")

    def v(value: Any) -> str:
        return html.escape(MISSING if value in (None, "", []) else
                           ", ".join(map(str, value)) if isinstance(value, list) else str(value))

    status = {"new": "Mới phát hiện", "acknowledged": "Đã tiếp nhận", "in_progress": "Đang xử lý",
              "closed": "Đã kết thúc", "escalated": "Đã báo cáo lên cấp trên"}
    rows = [
        ("1. Đơn vị báo cáo", v(rep.get("name"))),
        ("Người liên hệ", v(rep.get("contact"))), ("Điện thoại / thư điện tử", v(rep.get("phone_email"))),
        ("2. Đơn vị vận hành hệ thống", v(agency.get("name"))),
        ("Cơ quan chủ quản", v(agency.get("owner") or agency.get("parent_name"))),
        ("3. Tên hệ thống", v(system.get("name"))),
        ("Tên miền / địa chỉ IP", v(system.get("hosts", []) + system.get("networks", []))),
        ("Cấp độ an toàn hệ thống (1-5)", v(system.get("level") or inc.get("system.level"))),
        ("Đơn vị cung cấp dịch vụ an toàn, kết nối", v(system.get("providers"))),
        ("4. Mô tả sơ bộ sự cố", v(f"{(inc.get('rule') or {}).get('title', '')}: {inc.get('count', 1)} cảnh báo "
                                  f"từ {inc.get('first')} đến {inc.get('last')}; máy {inc.get('host.name')}, "
                                  f"địa chỉ nguồn {inc.get('source.ip')}")),
        ("Lý do phải báo cáo", v("; ".join(_reason_vi(r) for r in report.reasons))),
        ("5. Thời điểm phát hiện", html.escape(_minute(inc["@timestamp"]))),
        ("Hạn thông báo ban đầu (24 giờ)", html.escape(_minute(report.deadlines["initial"]))),
        ("Đã gửi thông báo ban đầu lúc", html.escape(_minute(report.sent.get("initial")))),
        ("Hạn báo cáo đầy đủ (72 giờ)", html.escape(_minute(report.deadlines["full"]))),
        ("Đã gửi báo cáo đầy đủ lúc", html.escape(_minute(report.sent.get("full")))),
        ("6. Tình trạng sự cố", v(status.get(str(inc.get("status")), inc.get("status")))),
        ("7. Cách thức phát hiện", "Hệ thống giám sát tự động (SOC tỉnh, luật phát hiện Sigma)"),
        ("8. Đã thông báo cho", v(rep.get("notified"))),
        ("9. Hệ điều hành, dịch vụ, biện pháp bảo vệ", v(system.get("services"))),
        ("Địa chỉ IP công cộng, tên miền, mục đích hệ thống", v(system.get("purpose"))),
        ("Dấu hiệu (IP, tên miền, URL, mã băm)", v(report.indicators)),
        ("10. Thông tin mật", "Không" if not rep.get("confidential") else "Có"),
        ("11. Đề nghị hỗ trợ", v(rep.get("support_requested"))),
    ]
    if closing:
        rows += [("12. Kết quả xử lý", v(f"Kết thúc lúc {_minute(report.closed)}; kết luận: {inc.get('verdict')}"
                                         if report.closed else None)),
                 ("Tài liệu kèm theo", html.escape(f"Gói STIX 2.1 {report.bundle_id}"))]
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    signature = ("<p class=\"sign\">ĐẠI DIỆN THEO PHÁP LUẬT CỦA ĐƠN VỊ<br><i>(Ký, ghi rõ họ tên, đóng dấu)</i></p>"
                 if closing else "<p class=\"sign\">NGƯỜI BÁO CÁO<br><i>(Ký, ghi rõ họ tên)</i></p>")
    return ("<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
            f"<title>Mẫu {number}: {html.escape(inc['incident_id'])}</title><style>"
            "body{font-family:'DejaVu Serif','Times New Roman',serif;max-width:900px;margin:2em auto}"
            "th{text-align:left;width:38%;vertical-align:top}td,th{border:1px solid #999;padding:.35em}"
            "table{border-collapse:collapse;width:100%}h1{font-size:1.2em;text-align:center}"
            ".sign{text-align:right;margin-top:3em}.head{text-align:center}</style></head><body>"
            "<p class=\"head\"><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br>Độc lập - Tự do - Hạnh phúc</p>"
            f"<p><b>Mẫu {number}</b> (Thông tư 20/2017/TT-BTTTT)</p><h1>{title}</h1>"
            f"<p>Kính gửi: Trung tâm Giám sát an toàn không gian mạng quốc gia. Mã sự cố: "
            f"{html.escape(inc['incident_id'])}</p><table>{body}</table>{signature}</body></html>\n")
