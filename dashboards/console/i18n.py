"""The console's words in Vietnamese and English, chosen per user; times shown in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Trung tâm giám sát an toàn thông tin", "login": "Đăng nhập", "logout": "Đăng xuất",
        "user": "Tên đăng nhập", "password": "Mật khẩu", "bad_login": "Sai tên đăng nhập hoặc mật khẩu",
        "too_many": "Quá nhiều lần thử, vui lòng đợi một phút", "queue": "Sự cố", "level": "Mức độ",
        "status": "Trạng thái", "agency": "Cơ quan", "rule": "Quy tắc", "host": "Máy", "last": "Lần cuối",
        "count": "Số cảnh báo", "filter": "Lọc", "group_by": "Nhóm theo", "search": "Tìm kiếm", "none": "—",
        "acknowledge": "Xác nhận", "assign": "Giao cho", "set_status": "Đổi trạng thái", "verdict": "Kết luận",
        "comment": "Ghi chú", "note": "Ghi chú", "apply": "Thực hiện", "history": "Lịch sử xử lý",
        "conflict": "Sự cố vừa được người khác thay đổi: hãy tải lại trang", "next": "Trang sau",
        "forbidden": "Không có quyền", "detected": "Phát hiện", "alerts": "Cảnh báo", "total": "Tổng",
        "group": "Nhóm", "system": "Hệ thống", "tags": "Kỹ thuật ATT&CK", "bulk_close": "Đóng các sự cố đã chọn",
        "first": "Lần đầu", "events": "Sự kiện", "suppress": "Loại bỏ cảnh báo như thế này",
        "would_remove": "Số cảnh báo đã lưu sẽ bị loại bỏ", "write_filter": "Ghi bộ lọc",
        "cancel": "Hủy", "suppress_written": "Đã ghi bộ lọc", "filter_name": "Tên bộ lọc",
        "save_filter": "Lưu bộ lọc", "system_level": "Cấp độ hệ thống", "tag": "Thẻ ATT&CK", "since": "Từ",
        "until": "Đến", "close_all": "Đóng tất cả sự cố khớp bộ lọc",
        "acknowledge_all": "Xác nhận tất cả sự cố khớp bộ lọc", "bulk_confirm": "Xác nhận thao tác hàng loạt",
        "incidents_matching": "sự cố khớp bộ lọc (mọi trang)", "bulk_done": "Đã thực hiện",
        "bulk_conflicts": "Bỏ qua vì người khác vừa thay đổi", "what_happened": "Chuyện gì đã xảy ra",
        "falsepositives": "Có thể là cảnh báo nhầm khi", "contacts": "Người liên hệ", "timeline": "Diễn biến",
        "notices": "Thông báo và xác nhận", "related": "Cảnh báo liên quan", "same_host": "Cùng máy",
        "same_source": "Cùng địa chỉ nguồn", "same_rule": "Cùng quy tắc (mọi cơ quan)",
        "base_events": "Các sự kiện gốc của tương quan", "open_incidents": "Sự cố chưa đóng", "source": "Địa chỉ nguồn",
        "ack_due": "Hạn xác nhận", "close_due": "Hạn xử lý xong", "reports": "Báo cáo kiểm tra",
        "no_reports": "Chưa có báo cáo nào (socpipe audit)",
    },
    "en": {
        "title": "Security monitoring centre", "login": "Sign in", "logout": "Sign out", "user": "User name",
        "password": "Password", "bad_login": "Wrong user name or password",
        "too_many": "Too many attempts, please wait a minute", "queue": "Incidents", "level": "Level",
        "status": "Status", "agency": "Agency", "rule": "Rule", "host": "Host", "last": "Last seen",
        "count": "Alerts", "filter": "Filter", "group_by": "Group by", "search": "Search", "none": "—",
        "acknowledge": "Acknowledge", "assign": "Assign to", "set_status": "Set status", "verdict": "Verdict",
        "comment": "Comment", "note": "Note", "apply": "Apply", "history": "Handling history",
        "conflict": "Someone else changed this incident: reload the page", "next": "Next page",
        "forbidden": "Not allowed", "detected": "Detected", "alerts": "Alerts", "total": "Total",
        "group": "Group", "system": "System", "tags": "ATT&CK techniques", "bulk_close": "Close selected incidents",
        "first": "First seen", "events": "Events", "suppress": "Suppress alerts like this",
        "would_remove": "Stored alerts it would have removed", "write_filter": "Write the filter",
        "cancel": "Cancel", "suppress_written": "Filter written", "filter_name": "Filter name",
        "save_filter": "Save filter", "system_level": "System level", "tag": "ATT&CK tag", "since": "From",
        "until": "To", "close_all": "Close all matching incidents",
        "acknowledge_all": "Acknowledge all matching incidents", "bulk_confirm": "Confirm the bulk action",
        "incidents_matching": "incidents match the filter (every page)", "bulk_done": "Done",
        "bulk_conflicts": "Skipped, changed meanwhile by someone else", "what_happened": "What happened",
        "falsepositives": "Possible false positives", "contacts": "Contacts", "timeline": "Timeline",
        "notices": "Notifications and acknowledgements", "related": "Related alerts", "same_host": "Same host",
        "same_source": "Same source address", "same_rule": "Same rule (every agency)",
        "base_events": "The correlation's base events", "open_incidents": "Open incidents", "source": "Source address",
        "ack_due": "Acknowledge by", "close_due": "Close by", "reports": "Audit reports",
        "no_reports": "No reports yet (socpipe audit)",
    },
}


def local_time(stamp: str | None) -> str:
    if not stamp:
        return "—"
    return datetime.fromisoformat(stamp).astimezone(ZONE).strftime("%d/%m/%Y %H:%M:%S")
