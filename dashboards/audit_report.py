"""The auditor's report: one self-contained HTML file per language (Vietnamese first, English beside it).

Targets and results come first, then the charts (coverage per agency tier, silence per system and day,
handling times by level), then every query's details. Inline CSS and SVG only, no script and no network,
so the file opens anywhere and is archived as it is; its bytes depend only on the results (no clock), so
the same lake and --as-of give the same file. A PDF is made with WeasyPrint when it is installed.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from layers.audit.output import Result

LANGUAGES = ("vi", "en")
TEXT: dict[str, dict[str, str]] = {
    "title": {"vi": "Báo cáo đánh giá giám sát an toàn thông tin", "en": "Security monitoring assessment report"},
    "intro": {"vi": "Lớp 3 (kiểm tra, đánh giá độc lập): kết quả tính lại được từ kho dữ liệu (lake) tại ngày chốt.",
              "en": "Layer 3 (independent assessment): results reproducible from the lake as of the cut-off day."},
    "as_of": {"vi": "Ngày chốt số liệu", "en": "As of"},
    "period": {"vi": "Kỳ đánh giá", "en": "Period"},
    "manifest": {"vi": "Mã băm SHA-256 của danh mục tệp đã đọc (manifest.json)",
                 "en": "SHA-256 of the manifest of lake files read (manifest.json)"},
    "verify": {"vi": "Kiểm tra lại: socpipe audit verify report.json",
               "en": "Re-check: socpipe audit verify report.json"},
    "targets": {"vi": "Chỉ tiêu và kết quả", "en": "Targets and results"},
    "charts": {"vi": "Biểu đồ", "en": "Charts"},
    "details": {"vi": "Chi tiết", "en": "Details"},
    "chart_coverage": {"vi": "Tỷ lệ cơ quan được giám sát theo cấp (vạch: chỉ tiêu)",
                       "en": "Share of agencies monitored per tier (mark: target)"},
    "chart_silence": {"vi": "Số sự kiện theo hệ thống và ngày (đỏ: không có dữ liệu)",
                      "en": "Events per system and day (red: nothing received)"},
    "chart_handling": {"vi": "Thời gian tiếp nhận (trung vị, phút) theo mức độ",
                       "en": "Time to acknowledge (median, minutes) by level"},
    "pass": {"vi": "Đạt", "en": "Pass"}, "fail": {"vi": "Không đạt", "en": "Fail"},
    "n/a": {"vi": "Không áp dụng", "en": "Not applicable"},
    "other_language": {"vi": "English version: report.en.html", "en": "Bản tiếng Việt: report.vi.html"},
    "none": {"vi": "(không có)", "en": "(none)"},
}
TITLES: dict[str, dict[str, str]] = {
    "summary": {"vi": "Chỉ tiêu và kết quả", "en": "Targets and results"},
    "coverage": {"vi": "Độ bao phủ giám sát các cơ quan", "en": "Coverage of agencies"},
    "sources": {"vi": "Tình trạng gửi nhật ký của các nguồn", "en": "Log-source silence"},
    "retention": {"vi": "Lưu trữ nhật ký theo cấp độ", "en": "Retention by security level"},
    "handling": {"vi": "Xử lý sự cố so với thời hạn", "en": "Incident handling against deadlines"},
    "classification": {"vi": "Xác định và phân loại hệ thống theo cấp độ", "en": "Classification of systems"},
    "reporting": {"vi": "Báo cáo về cơ quan giám sát quốc gia (24 giờ / 72 giờ)",
                  "en": "Reports to the national centre (24 h / 72 h)"},
}
TARGETS_VI = {"coverage: provincial agencies monitored": "Cơ quan cấp tỉnh được giám sát",
              "coverage: district agencies monitored": "Cơ quan cấp huyện được giám sát (đến khi giải thể)",
              "coverage: commune agencies monitored": "Cơ quan cấp xã được giám sát",
              "classification: provincial and district systems": "Hệ thống cấp tỉnh, huyện được phân loại cấp độ",
              "sources: systems sending every day": "Hệ thống gửi nhật ký hằng ngày",
              "retention: systems holding their level's minimum": "Hệ thống lưu đủ thời hạn theo cấp độ",
              "handling: incidents within their deadlines": "Sự cố được xử lý đúng hạn",
              "reporting: initial report within 24 h": "Báo cáo ban đầu trong 24 giờ",
              "reporting: full report within 72 h": "Báo cáo đầy đủ trong 72 giờ"}
# The detail tables' columns and status words in the Vietnamese report (the CSV and JSON keep the names).
COLUMNS_VI = {
    "tier": "Cấp", "agencies": "Số cơ quan", "monitored": "Được giám sát", "share_percent": "Tỷ lệ (%)",
    "target_percent": "Chỉ tiêu (%)", "result": "Kết quả", "agency_id": "Mã cơ quan", "name": "Tên",
    "type": "Loại", "from": "Từ ngày", "to": "Đến ngày", "days_existing": "Số ngày tồn tại",
    "days_monitored": "Số ngày được giám sát", "reported_under": "Báo cáo dưới cơ quan", "measure": "Chỉ số",
    "systems": "Số hệ thống", "system_id": "Mã hệ thống", "level": "Cấp độ / mức độ",
    "last_event": "Sự kiện gần nhất", "longest_gap_days": "Khoảng trống dài nhất (ngày)",
    "days_silent": "Số ngày không có dữ liệu", "status": "Trạng thái", "minimum_months": "Thời hạn tối thiểu (tháng)",
    "ok": "Đạt", "short": "Thiếu", "no_data": "Không có dữ liệu", "required_since": "Cần lưu từ ngày",
    "oldest_held": "Dữ liệu cũ nhất", "days_held": "Số ngày đang lưu", "incidents": "Số sự cố",
    "acknowledged": "Đã tiếp nhận", "tta_median_min": "Tiếp nhận, trung vị (phút)",
    "tta_p90_min": "Tiếp nhận, P90 (phút)", "closed": "Đã đóng", "ttc_median_h": "Đóng, trung vị (giờ)",
    "over_ack_deadline": "Quá hạn tiếp nhận", "over_close_deadline": "Quá hạn đóng", "escalations": "Số lần chuyển cấp",
    "incident_id": "Mã sự cố", "detected": "Phát hiện lúc", "tta_min": "Tiếp nhận (phút)", "acknowledge": "Tiếp nhận",
    "ttc_h": "Đóng (giờ)", "close": "Đóng", "complete": "Đầy đủ", "problems": "Vấn đề", "stage": "Giai đoạn",
    "deadline": "Thời hạn", "due": "Đến hạn", "met": "Đúng hạn", "why_reported": "Lý do phải báo cáo",
    "initial_deadline": "Hạn báo cáo ban đầu", "initial_sent": "Gửi báo cáo ban đầu lúc", "initial": "Ban đầu",
    "initial_receipt": "Biên nhận ban đầu", "full_deadline": "Hạn báo cáo đầy đủ",
    "full_sent": "Gửi báo cáo đầy đủ lúc", "full": "Đầy đủ", "full_receipt": "Biên nhận đầy đủ",
}
VALUES_VI = {"pass": "đạt", "fail": "không đạt", "ok": "đạt", "silent": "im lặng", "never": "chưa từng gửi",
             "short": "thiếu", "no data": "không có dữ liệu", "met": "đúng hạn", "late": "trễ hạn",
             "overdue": "quá hạn", "open": "đang mở", "yes": "có", "no": "không", "complete": "đầy đủ",
             "no contacts": "không có đầu mối", "no security level": "chưa xác định cấp độ",
             "provincial": "cấp tỉnh", "district": "cấp huyện", "commune": "cấp xã"}
CSS = """body{font-family:'DejaVu Sans',Arial,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{border-bottom:2px solid #235;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.85em}td,th{border:1px solid #bbb;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#e8edf3}.pass{background:#d9f2d9}.fail{background:#f7d4d4}
.meta td{border:none;padding:.1em .6em .1em 0}code{font-size:.85em;word-break:break-all}figure{margin:1em 0}
figcaption{font-weight:bold;margin-bottom:.3em}@media print{h2{page-break-after:avoid}}
figure{break-inside:avoid}@page{size:A4 landscape;margin:1.2cm}"""


def write_reports(results: list[Result], out: Path, header: dict[str, Any], manifest_sha256: str) -> list[Path]:
    """report.vi.html, report.en.html and their PDFs in `out`."""
    import weasyprint

    paths = []
    for language in LANGUAGES:
        page = out / f"report.{language}.html"
        page.write_text(render(results, header, manifest_sha256, language), encoding="utf-8")
        pdf = page.with_suffix(".pdf")
        weasyprint.HTML(filename=str(page)).write_pdf(str(pdf))
        paths += [page, pdf]
    return paths


def render(results: list[Result], header: dict[str, Any], manifest_sha256: str, language: str) -> str:
    by = {r.name: r for r in results}
    t = {key: value[language] for key, value in TEXT.items()}
    parts = [f"<!DOCTYPE html><html lang=\"{language}\"><head><meta charset=\"utf-8\">",
             f"<title>{_e(t['title'])}</title><style>{CSS}</style></head><body>",
             f"<h1>{_e(t['title'])}</h1><p>{_e(t['intro'])}</p><table class=\"meta\">",
             f"<tr><td>{_e(t['as_of'])}</td><td>{_e(header['as_of'])}</td></tr>",
             f"<tr><td>{_e(t['period'])}</td><td>{_e(header['period'].replace('..', ' – '))}</td></tr>",
             f"<tr><td>{_e(t['manifest'])}</td><td><code>{manifest_sha256}</code></td></tr>",
             f"<tr><td colspan=\"2\">{_e(t['verify'])} · {_e(t['other_language'])}</td></tr></table>"]
    if "summary" in by:
        parts.append(f"<h2>{_e(t['targets'])}</h2>")
        parts.append(_targets(by["summary"], language, t))
        parts.append(f"<h2>{_e(t['charts'])}</h2>")
        parts.append(_figure(t["chart_coverage"], _coverage_chart(by["coverage"], language)))
        parts.append(_figure(t["chart_silence"], _silence_chart(by["sources"])))
        parts.append(_figure(t["chart_handling"], _handling_chart(by["handling"])))
    parts.append(f"<h2>{_e(t['details'])}</h2>")
    for r in results:
        if r.name == "summary":
            continue
        parts.append(f"<h3>{_e(TITLES[r.name][language])}</h3>")
        parts.append(_table(r.summary_columns, r.summary, t, language))
        parts.append(_table(r.columns, r.rows, t, language))
    parts.append("</body></html>\n")
    return "".join(parts)


def _targets(summary: Result, language: str, t: dict[str, str]) -> str:
    rows = []
    for target, goal, result, verdict, count in summary.rows:
        label = TARGETS_VI.get(target, target) if language == "vi" else target
        rows.append([label, _pct(goal), _pct(result), t.get(verdict, verdict), count])
    heads = (["Chỉ tiêu", "Mục tiêu", "Kết quả", "Đánh giá", "Số lượng"] if language == "vi"
             else ["Target", "Goal", "Result", "Verdict", "Count"])
    body = "".join("<tr" + _verdict_class(r[3], t) + ">" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{''.join(f'<th>{_e(h)}</th>' for h in heads)}</tr>{body}</table>"


def _verdict_class(verdict: str, t: dict[str, str]) -> str:
    return ' class="pass"' if verdict == t["pass"] else ' class="fail"' if verdict == t["fail"] else ""


def _pct(value: Any) -> str:
    return "" if value is None else f"{value:g} %"


def _table(columns: list[str], rows: list[list[Any]], t: dict[str, str], language: str) -> str:
    if not rows:
        return f"<p>{_e(t['none'])}</p>"
    names, words = (COLUMNS_VI, VALUES_VI) if language == "vi" else ({}, {})
    head = "".join(f"<th>{_e(names.get(c, c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(words.get(c, c) if isinstance(c, str) else c)}</td>" for c in row)
                   + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{_e(caption)}</figcaption>{svg}</figure>"


TIER_NAMES = {"vi": {"provincial": "cấp tỉnh", "district": "cấp huyện", "commune": "cấp xã"}}


def _coverage_chart(coverage: Result, language: str) -> str:
    bar_w, gap, height, top = 90, 50, 200, 25
    width = len(coverage.summary) * (bar_w + gap) + gap
    base = top + height
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{base + 30}" role="img">',
             f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#444"/>']
    for i, (tier, agencies, monitored, share, target, verdict) in enumerate(coverage.summary):
        x = gap + i * (bar_w + gap)
        value = share or 0.0
        h = height * value / 100
        colour = "#3a7d44" if verdict == "pass" else "#b03a2e" if verdict == "fail" else "#999"
        ty = base - height * target / 100
        label = TIER_NAMES.get(language, {}).get(tier, tier)
        parts += [f'<rect x="{x}" y="{base - h:.1f}" width="{bar_w}" height="{h:.1f}" fill="{colour}"/>',
                  f'<line x1="{x - 8}" y1="{ty:.1f}" x2="{x + bar_w + 8}" y2="{ty:.1f}" stroke="#000" '
                  'stroke-width="3" stroke-dasharray="6,3"/>',
                  f'<text x="{x + bar_w / 2}" y="{base - h - 8:.1f}" text-anchor="middle" font-size="13">'
                  f'{value:g}% ({monitored}/{agencies})</text>',
                  f'<text x="{x + bar_w / 2}" y="{base + 20}" text-anchor="middle" font-size="13">{_e(label)}</text>']
    parts.append("</svg>")
    return "".join(parts)


def _silence_chart(sources: Result) -> str:
    grid: dict[str, list[int]] = sources.notes["heatmap"]
    cell, label_w = 12, 160
    days = sources.notes["days"]
    width, height = label_w + days * cell + 90, len(grid) * cell + 24
    first, last = sources.notes["period"].split("..")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             f'<text x="{label_w}" y="{height - 4}" font-size="10">{first}</text>',
             f'<text x="{label_w + days * cell}" y="{height - 4}" font-size="10" text-anchor="end">{last}</text>']
    peak = max((n for counts in grid.values() for n in counts), default=0) or 1
    for row, (system, counts) in enumerate(grid.items()):
        y = row * cell
        parts.append(f'<text x="{label_w - 6}" y="{y + cell - 2}" text-anchor="end" font-size="10">{_e(system)}</text>')
        for col, n in enumerate(counts):
            colour = "#c0392b" if n == 0 else f"hsl(140,55%,{75 - 45 * n / peak:.0f}%)"
            parts.append(f'<rect x="{label_w + col * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                         f'fill="{colour}"><title>{_e(system)} #{col + 1}: {n}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _handling_chart(handling: Result) -> str:
    medians: dict[str, float | None] = handling.notes["tta_median_min_by_level"]
    bar_h, label_w, width = 22, 110, 520
    peak = max((v for v in medians.values() if v is not None), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + label_w + 80}" '
             f'height="{len(medians) * (bar_h + 6) + 6}" role="img">']
    for i, (level, value) in enumerate(medians.items()):
        y = 4 + i * (bar_h + 6)
        w = width * (value or 0) / peak
        parts += [f'<text x="{label_w - 6}" y="{y + bar_h - 6}" text-anchor="end" font-size="12">{_e(level)}</text>',
                  f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#2e6da4"/>',
                  f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h - 6}" font-size="12">'
                  f'{"-" if value is None else f"{value:g}"}</text>']
    parts.append("</svg>")
    return "".join(parts)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))
