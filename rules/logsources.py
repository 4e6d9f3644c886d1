"""Which events a rule's `logsource` (product / category / service) applies to.

Detection runs on native field names, so a log source only selects events: by the kind of reader
that produced them and a few equalities (Windows Channel and EventID, syslog program or facility).
Security 4688 events carry Sysmon's process-creation field names too (enrich/normalise.py), so
process_creation is one rule body over both. Network records have a kind per record type (flow,
zeek_<log>, suricata_<event_type>): product zeek selects by service, and the categories firewall, dns and
proxy select flows, Zeek and Suricata records alike. Flat JSON events of unknown source are matched by every
rule: whoever feeds them vouches for their fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules import ir
from socpipe.events import FLOW, JSON, SURICATA, SYSLOG, SYSTEM_PREFIX, WEBSERVER, WINDOWS, ZEEK, ZEEK_LOGS

SYSMON = "Microsoft-Windows-Sysmon/Operational"
POWERSHELL = "Microsoft-Windows-PowerShell/Operational"
POWERSHELL_CLASSIC = "Windows PowerShell"


@dataclass(frozen=True, slots=True)
class Source:
    """One kind of event: a reader kind plus required field values (any of the listed values)."""

    kind: str
    channel: str | None = None
    event_ids: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    facilities: tuple[str, ...] = ()

    def condition(self) -> list[ir.Node]:
        """The field equalities of this source as IR (the kind is checked apart, it is no field). Windows
        Channel and EventID are the System values: "System.<name>" where the event's own data used the
        name too (ingest/parsers.py windows_fields), else the plain field."""
        terms: list[ir.Node] = []
        if self.channel:
            terms.append(system_equals("Channel", (self.channel,)))
        if self.event_ids:
            terms.append(system_equals("EventID", self.event_ids))
        for field, values in (("program", self.programs), ("facility", self.facilities)):
            if values:
                terms.append(ir.or_([ir.Str(field, ir.EQ, v.lower()) for v in values]))
        return terms


def system_equals(name: str, values: tuple[str, ...]) -> ir.Node:
    """The System value of `name` is one of `values` (case-insensitively), as socpipe.events.system_value
    reads it: "System.<name>" when present, else the plain field."""
    kept = SYSTEM_PREFIX + name
    return ir.or_([ir.or_([ir.Str(kept, ir.EQ, v.lower()) for v in values]),
                   ir.and_([ir.Null(kept), ir.or_([ir.Str(name, ir.EQ, v.lower()) for v in values])])])


def _sysmon(*event_ids: int) -> tuple[Source, ...]:
    return (Source(WINDOWS, SYSMON, tuple(str(i) for i in event_ids)),)


def _channel(name: str, *event_ids: int) -> tuple[Source, ...]:
    return (Source(WINDOWS, name, tuple(str(i) for i in event_ids)),)


def _programs(*names: str) -> tuple[Source, ...]:
    return (Source(SYSLOG, programs=names),)


# Windows categories (Sysmon event ids and the PowerShell channels).
WINDOWS_CATEGORIES: dict[str, tuple[Source, ...]] = {
    "process_creation": _sysmon(1) + _channel("Security", 4688),
    "file_change": _sysmon(2),
    "network_connection": _sysmon(3),
    "sysmon_status": _sysmon(4, 16),
    "process_termination": _sysmon(5),
    "driver_load": _sysmon(6),
    "image_load": _sysmon(7),
    "create_remote_thread": _sysmon(8),
    "raw_access_thread": _sysmon(9),
    "process_access": _sysmon(10),
    "file_event": _sysmon(11),
    "registry_add": _sysmon(12),
    "registry_delete": _sysmon(12),
    "registry_set": _sysmon(13),
    "registry_rename": _sysmon(14),
    "registry_event": _sysmon(12, 13, 14),
    "create_stream_hash": _sysmon(15),
    "pipe_created": _sysmon(17, 18),
    "wmi_event": _sysmon(19, 20, 21),
    "dns_query": _sysmon(22),
    "file_delete": _sysmon(23, 26),
    "clipboard_capture": _sysmon(24),
    "process_tampering": _sysmon(25),
    "file_block_executable": _sysmon(27),
    "file_block_shredding": _sysmon(28),
    "file_executable_detected": _sysmon(29),
    "sysmon_error": _sysmon(255),
    "ps_module": _channel(POWERSHELL, 4103),
    "ps_script": _channel(POWERSHELL, 4104),
    "ps_classic_start": _channel(POWERSHELL_CLASSIC, 400),
    "ps_classic_provider_start": _channel(POWERSHELL_CLASSIC, 600),
    "ps_classic_script": _channel(POWERSHELL_CLASSIC, 800),
}

# Windows services: the event log channel they name.
WINDOWS_SERVICES: dict[str, str] = {
    "security": "Security",
    "system": "System",
    "application": "Application",
    "sysmon": SYSMON,
    "powershell": POWERSHELL,
    "powershell-classic": POWERSHELL_CLASSIC,
    "taskscheduler": "Microsoft-Windows-TaskScheduler/Operational",
    "wmi": "Microsoft-Windows-WMI-Activity/Operational",
    "dns-server": "DNS Server",
    "dns-client": "Microsoft-Windows-DNS Client Events/Operational",
    "driver-framework": "Microsoft-Windows-DriverFrameworks-UserMode/Operational",
    "windefend": "Microsoft-Windows-Windows Defender/Operational",
    "firewall-as": "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
    "bits-client": "Microsoft-Windows-Bits-Client/Operational",
    "codeintegrity-operational": "Microsoft-Windows-CodeIntegrity/Operational",
    "msexchange-management": "MSExchange Management",
    "printservice-admin": "Microsoft-Windows-PrintService/Admin",
    "printservice-operational": "Microsoft-Windows-PrintService/Operational",
    "smbclient-security": "Microsoft-Windows-SmbClient/Security",
    "smbclient-connectivity": "Microsoft-Windows-SmbClient/Connectivity",
    "smbserver-connectivity": "Microsoft-Windows-SMBServer/Connectivity",
    "terminalservices-localsessionmanager":
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    "ntlm": "Microsoft-Windows-NTLM/Operational",
    "openssh": "OpenSSH/Operational",
    "appxdeployment-server": "Microsoft-Windows-AppXDeploymentServer/Operational",
    "appxpackaging-om": "Microsoft-Windows-AppxPackaging/Operational",
    "appmodel-runtime": "Microsoft-Windows-AppModel-Runtime/Admin",
    "lsa-server": "Microsoft-Windows-LSA/Operational",
    "capi2": "Microsoft-Windows-CAPI2/Operational",
    "certificateservicesclient-lifecycle-system":
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    "diagnosis-scripted": "Microsoft-Windows-Diagnosis-Scripted/Operational",
    "shell-core": "Microsoft-Windows-Shell-Core/Operational",
    "microsoft-servicebus-client": "Microsoft-ServiceBus-Client",
    "ldap": "Microsoft-Windows-LDAP-Client/Debug",
}

# Windows services spread over several channels.
WINDOWS_MULTI_CHANNEL: dict[str, tuple[str, ...]] = {
    "applocker": (
        "Microsoft-Windows-AppLocker/MSI and Script",
        "Microsoft-Windows-AppLocker/EXE and DLL",
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
    ),
    "security-mitigations": (
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "Microsoft-Windows-Security-Mitigations/User Mode",
    ),
}

AUTH_PROGRAMS = ("sshd", "sudo", "su", "login", "passwd", "useradd", "usermod", "groupadd",
                 "chpasswd", "systemd-logind", "polkitd", "unix_chkpwd")

# Linux services read from syslog.
LINUX_SERVICES: dict[str, tuple[Source, ...]] = {
    "syslog": (Source(SYSLOG),),
    "auth": (Source(SYSLOG, facilities=("4", "10")),) + _programs(*AUTH_PROGRAMS),
    "sshd": _programs("sshd"),
    "sudo": _programs("sudo"),
    "cron": _programs("cron", "crond", "CRON", "anacron"),
    "vsftpd": _programs("vsftpd"),
    "clamav": _programs("clamd", "freshclam", "clamav"),
    "guacamole": _programs("guacd", "guacamole"),
}


# Network categories, as pySigma's zeek pipelines map them (firewall -> conn, dns -> dns, proxy -> http), plus
# the same records from Suricata EVE and the NetFlow/IPFIX collector. The readers add the generic names these
# rules use (src_ip, dst_port, query, answer, record_type, c-uri, cs-host, ...: ingest/parsers.py).
NETWORK_CATEGORIES: dict[str, tuple[Source, ...]] = {
    "firewall": (Source(FLOW), Source(f"{ZEEK}_conn"), Source(f"{SURICATA}_flow")),
    "dns": (Source(f"{ZEEK}_dns"), Source(f"{SURICATA}_dns")),
    "proxy": (Source(f"{ZEEK}_http"), Source(f"{SURICATA}_http")),
}


@dataclass(frozen=True, slots=True)
class Mapping:
    """The sources a rule applies to; `exact` is False when only the product could be mapped."""

    sources: tuple[Source, ...]
    exact: bool


def resolve(product: str | None, category: str | None, service: str | None) -> Mapping:
    """Map a Sigma logsource to the events it selects (flat JSON events always count too)."""
    json = (Source(JSON),)
    if category == "webserver":
        return Mapping((Source(WEBSERVER),) + json, True)
    if category in NETWORK_CATEGORIES and product in (None, "zeek"):
        return Mapping(NETWORK_CATEGORIES[category] + json, not service)
    if product == "zeek" and not category:
        if service:  # each Zeek log is a kind of its own: zeek_conn, zeek_dns, zeek_smb_files, ...
            return Mapping((Source(f"{ZEEK}_{service}"),) + json, True)
        return Mapping(tuple(Source(f"{ZEEK}_{log}") for log in ZEEK_LOGS) + (Source(ZEEK),) + json, True)
    if product == "windows":
        if category:
            found = WINDOWS_CATEGORIES.get(category)
            return Mapping((found or (Source(WINDOWS),)) + json, found is not None and not service)
        if service in WINDOWS_SERVICES:
            return Mapping(_channel(WINDOWS_SERVICES[service]) + json, True)
        if service in WINDOWS_MULTI_CHANNEL:
            channels = WINDOWS_MULTI_CHANNEL[service]
            return Mapping(tuple(Source(WINDOWS, c) for c in channels) + json, True)
        return Mapping((Source(WINDOWS),) + json, service is None)
    if product == "linux" and not category:
        if service in LINUX_SERVICES:
            return Mapping(LINUX_SERVICES[service] + json, True)
        if service is None:
            return Mapping((Source(SYSLOG),) + json, True)
    return Mapping(json, product is None and category is None and service is None)
