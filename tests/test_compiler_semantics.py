"""Sigma semantics of the compiler, checked on both targets: Python predicates and Spark SQL.

Each case is a detection, events and the expected verdict per event. The Spark side runs with ANSI
mode on and off, so a cast that could raise would fail here.
"""

from __future__ import annotations

import textwrap

import pytest
from sigma.collection import SigmaCollection

from rules.compiler import compile_rule, placeholder_pipeline
from rules.python_code import EventView, compile_predicate
from rules.sigma_ir import IRBackend
from rules.spark_sql import SparkBackend, SparkSQL

CASES: list[tuple[str, str, list[tuple[dict[str, str], bool]]]] = [
    ("case-insensitive by default", "sel:\n  Image: 'C:\\Windows\\System32\\cmd.exe'\ncondition: sel", [
        ({"Image": "c:\\windows\\system32\\CMD.EXE"}, True),
        ({"Image": "C:\\Windows\\System32\\cmd.exe.bak"}, False),
        ({}, False),
    ]),
    ("cased", "sel:\n  Image|cased: 'CMD.exe'\ncondition: sel", [
        ({"Image": "CMD.exe"}, True),
        ({"Image": "cmd.exe"}, False),
    ]),
    ("wildcards * and ?", "sel:\n  CommandLine: 'who?mi*/all'\ncondition: sel", [
        ({"CommandLine": "WHOAMI.exe /all"}, True),
        ({"CommandLine": "whomi /all"}, False),
        ({"CommandLine": "whoXmi\nline2 /all"}, True),
    ]),
    ("escaped wildcards are literal", "sel:\n  CommandLine: 'a\\*b\\?'\ncondition: sel", [
        ({"CommandLine": "a*b?"}, True),
        ({"CommandLine": "aXbY"}, False),
        ({"CommandLine": "a*bY"}, False),
    ]),
    ("like specials % and _ are literal", "sel:\n  CommandLine: '*100%_done?'\ncondition: sel", [
        ({"CommandLine": "x 100%_done!"}, True),
        ({"CommandLine": "x 100XXdone!"}, False),
    ]),
    ("contains startswith endswith", textwrap.dedent("""\
        a:
          CommandLine|contains: 'mimikatz'
        b:
          Image|startswith: 'C:\\Users\\'
        c:
          Image|endswith: '\\rundll32.exe'
        condition: a or (b and c)"""), [
        ({"CommandLine": "run MimiKatz now"}, True),
        ({"Image": "c:\\users\\bob\\RUNDLL32.EXE"}, True),
        ({"Image": "C:\\Windows\\rundll32.exe"}, False),
    ]),
    ("contains all", "sel:\n  CommandLine|contains|all: ['-nop', 'hidden']\ncondition: sel", [
        ({"CommandLine": "powershell -NoP -w Hidden"}, True),
        ({"CommandLine": "powershell -nop"}, False),
    ]),
    ("re is case-sensitive", "sel:\n  CommandLine|re: 'Invoke-[A-Z]ime'\ncondition: sel", [
        ({"CommandLine": "x Invoke-Mime y"}, True),
        ({"CommandLine": "x invoke-mime y"}, False),
    ]),
    ("re i flag", "sel:\n  CommandLine|re|i: 'invoke-[a-z]ime'\ncondition: sel", [
        ({"CommandLine": "x INVOKE-MIME y"}, True),
    ]),
    ("re m flag", "sel:\n  CommandLine|re|m: '^second'\ncondition: sel", [
        ({"CommandLine": "first\nsecond"}, True),
        ({"CommandLine": "first second"}, False),
    ]),
    ("re s flag", "sel:\n  CommandLine|re|s: 'a.b'\ncondition: sel", [
        ({"CommandLine": "a\nb"}, True),
    ]),
    ("re without s: dot stops at newline only", "sel:\n  CommandLine|re: 'a.b'\ncondition: sel", [
        ({"CommandLine": "a\nb"}, False),
        ({"CommandLine": "a\rb"}, True),
    ]),
    ("cidr ipv4", "sel:\n  IpAddress|cidr: '10.0.0.0/8'\ncondition: sel", [
        ({"IpAddress": "10.1.2.3"}, True),
        ({"IpAddress": "10.255.255.255"}, True),
        ({"IpAddress": "11.0.0.1"}, False),
        ({"IpAddress": "9.255.255.255"}, False),
        ({"IpAddress": "10.1.2.300"}, False),
        ({"IpAddress": "010.1.2.3"}, False),
        ({"IpAddress": "10.1.2.3\n"}, False),
        ({"IpAddress": "not an ip"}, False),
        ({"IpAddress": "-"}, False),
    ]),
    ("cidr ipv4 odd prefix", "sel:\n  IpAddress|cidr: '192.168.4.0/22'\ncondition: sel", [
        ({"IpAddress": "192.168.7.255"}, True),
        ({"IpAddress": "192.168.8.0"}, False),
        ({"IpAddress": "192.168.3.255"}, False),
    ]),
    ("cidr ipv6", "sel:\n  IpAddress|cidr: '2001:db8::/32'\ncondition: sel", [
        ({"IpAddress": "2001:db8::1"}, True),
        ({"IpAddress": "2001:0DB8:0000:0000:0000:0000:0000:0001"}, True),
        ({"IpAddress": "2001:db8:ffff:1::"}, True),
        ({"IpAddress": "2001:db9::1"}, False),
        ({"IpAddress": "::1"}, False),
        ({"IpAddress": "10.0.0.1"}, False),
        ({"IpAddress": "2001:db8:1:2:3:4:5:6:7"}, False),
        ({"IpAddress": "2001:db8::1::2"}, False),
    ]),
    ("cidr ipv6 odd prefix", "sel:\n  IpAddress|cidr: 'fe80::/10'\ncondition: sel", [
        ({"IpAddress": "febf::1"}, True),
        ({"IpAddress": "fec0::1"}, False),
        ({"IpAddress": "::"}, False),
    ]),
    ("exists", "sel:\n  Hashes|exists: true\nneg:\n  Signature|exists: false\ncondition: sel and neg", [
        ({"Hashes": ""}, True),
        ({"Hashes": "x", "Signature": "y"}, False),
        ({}, False),
    ]),
    ("fieldref", "sel:\n  TargetUserName|fieldref: SubjectUserName\ncondition: sel", [
        ({"TargetUserName": "Bob", "SubjectUserName": "bob"}, True),
        ({"TargetUserName": "bob", "SubjectUserName": "alice"}, False),
        ({"TargetUserName": "bob"}, False),
    ]),
    ("windash", "sel:\n  CommandLine|windash|contains: ' -enc '\ncondition: sel", [
        ({"CommandLine": "powershell -enc AAA"}, True),
        ({"CommandLine": "powershell /enc AAA"}, True),
        ({"CommandLine": "powershell \u2013enc AAA"}, True),
        ({"CommandLine": "powershell enc AAA"}, False),
    ]),
    ("base64", "sel:\n  CommandLine|base64: 'abc'\ncondition: sel", [
        ({"CommandLine": "YWJj"}, True),
        ({"CommandLine": "abc"}, False),
    ]),
    ("base64offset contains", "sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel", [
        ({"CommandLine": "x aHR0cDovL y"}, True),    # 'http://' at offset 0
        ({"CommandLine": "x SGVsbG8gaHR0cDovL y"}, True),  # 'Hello http://'
        ({"CommandLine": "http://"}, False),
    ]),
    ("utf16le base64offset (powershell -enc)", "sel:\n  CommandLine|utf16le|base64offset|contains: 'IEX'\n"
     "condition: sel", [
        ({"CommandLine": "powershell -enc SQBFAFgA"}, True),
        ({"CommandLine": "powershell -enc SUVY"}, False),
    ]),
    ("wide", "sel:\n  Data|wide|base64: 'a'\ncondition: sel", [
        ({"Data": "YQA="}, True),
    ]),
    ("utf16be", "sel:\n  Data|utf16be|base64: 'a'\ncondition: sel", [
        ({"Data": "AGE="}, True),
    ]),
    ("gt gte lt lte never raise", "sel:\n  Size|gt: 100\n  Count|lte: 5\ncondition: sel", [
        ({"Size": "101", "Count": "5"}, True),
        ({"Size": "1e3", "Count": "-2.5"}, True),
        ({"Size": "100", "Count": "1"}, False),
        ({"Size": "abc", "Count": "1"}, False),
        ({"Size": "0x200", "Count": "1"}, False),
        ({"Size": "", "Count": "1"}, False),
        ({"Size": " 200", "Count": "1"}, False),
        ({"Count": "1"}, False),
    ]),
    ("gte lt on one field", "sel:\n  Size|gte: 10\n  Size|lt: 20\ncondition: sel", [
        ({"Size": "10"}, True),
        ({"Size": "19.99"}, True),
        ({"Size": "20"}, False),
        ({"Size": "abc"}, False),
        ({"Size": "-"}, False),
    ]),
    ("neq is a negated match", "sel:\n  Image|endswith: '.exe'\n  LogonType|neq: 3\ncondition: sel", [
        ({"Image": "a.exe", "LogonType": "10"}, True),
        ({"Image": "a.exe", "LogonType": "3"}, False),
        ({"Image": "a.exe"}, True),
    ]),
    ("keywords search every field", "keywords:\n  - 'Failed password'\n  - 'authentication failure'\n"
     "condition: keywords", [
        ({"message": "sshd: FAILED PASSWORD for root"}, True),
        ({"program": "su", "message": "pam_unix(su:auth): authentication failure"}, True),
        ({"message": "Accepted password for root"}, False),
    ]),
    ("not keywords", "keywords:\n  - 'evil'\ncondition: not keywords", [
        ({"a": "good"}, True),
        ({"a": "so EVIL"}, False),
        ({}, True),
    ]),
    ("null is a missing field, not an empty one", "sel:\n  ParentImage: null\ncondition: sel", [
        ({}, True),
        ({"ParentImage": ""}, False),
        ({"ParentImage": "x"}, False),
    ]),
    ("'' and null are filters of their own (SigmaHQ's Uncommon New Firewall Rule Added)", textwrap.dedent("""\
        selection:
          EventID: 2004
        filter_main_null:
          ApplicationPath: null
        filter_optional_no_path:
          ModifyingApplication: 'C:\\Windows\\System32\\svchost.exe'
          ApplicationPath: ''
        condition: selection and not 1 of filter_main_* and not 1 of filter_optional_*"""), [
        ({"EventID": "2004", "ApplicationPath": "", "ModifyingApplication": "C:\\evil.exe"}, True),
        ({"EventID": "2004", "ApplicationPath": "", "ModifyingApplication": "C:\\Windows\\System32\\svchost.exe"},
         False),
        ({"EventID": "2004", "ModifyingApplication": "C:\\evil.exe"}, False),
    ]),
    ("exists agrees: an empty value exists", "sel:\n  StartModule|exists: true\nfilter:\n  StartModule|exists: false\n"
     "condition: sel and not filter", [
        ({"StartModule": ""}, True),
        ({}, False),
    ]),
    ("1 of / all of", textwrap.dedent("""\
        selection_a:
          Image|endswith: '\\a.exe'
        selection_b:
          Image|endswith: '\\b.exe'
        filter_x:
          User: 'SYSTEM'
        filter_y:
          CommandLine|contains: 'safe'
        condition: 1 of selection_* and not all of filter_*"""), [
        ({"Image": "C:\\a.exe", "User": "system"}, True),
        ({"Image": "C:\\b.exe", "User": "system", "CommandLine": "safe"}, False),
        ({"Image": "C:\\c.exe"}, False),
    ]),
    ("NOT over a missing field is true", "sel:\n  Image|endswith: '\\cmd.exe'\nfilter:\n"
     "  ParentImage|endswith: '\\explorer.exe'\ncondition: sel and not filter", [
        ({"Image": "C:\\cmd.exe"}, True),
        ({"Image": "C:\\cmd.exe", "ParentImage": "C:\\explorer.exe"}, False),
        ({"Image": "C:\\cmd.exe", "ParentImage": "C:\\svchost.exe"}, True),
    ]),
    ("NOT over a regex on a missing field is true", "sel:\n  Image: 'x'\nfilter:\n  Other|re: '.*'\n"
     "condition: sel and not filter", [
        ({"Image": "x"}, True),
        ({"Image": "x", "Other": ""}, False),
    ]),
    ("numbers compare as text", "sel:\n  EventID: 4688\ncondition: sel", [
        ({"EventID": "4688"}, True),
        ({"EventID": "4689"}, False),
    ]),
    ("booleans", "sel:\n  Signed: false\ncondition: sel", [
        ({"Signed": "False"}, True),
        ({"Signed": "true"}, False),
    ]),
    ("empty value is not a missing field", "sel:\n  Description: ''\ncondition: sel", [
        ({"Description": ""}, True),
        ({}, False),
    ]),
    ("OR lists", "sel:\n  Image|endswith:\n    - '\\a.exe'\n    - '\\b.exe'\n  OriginalFileName:\n"
     "    - 'A.EXE'\n    - 'B.EXE'\ncondition: sel", [
        ({"Image": "c:\\b.exe", "OriginalFileName": "a.exe"}, True),
        ({"Image": "c:\\b.exe", "OriginalFileName": "c.exe"}, False),
    ]),
    ("expand placeholders from configuration", "sel:\n  User|expand: '%admins%'\ncondition: sel", [
        ({"User": "CORP\\Alice"}, True),
        ({"User": "bob"}, False),
    ]),
    ("unicode case folding", "sel:\n  TargetFilename|contains: 'tài liệu'\nre:\n  TargetFilename|re|i: 'BÁO CÁO'\n"
     "condition: sel or re", [
        ({"TargetFilename": "C:\\TÀI LIỆU\\x.docx"}, True),
        ({"TargetFilename": "C:\\báo cáo.docx"}, True),
        ({"TargetFilename": "C:\\tai lieu\\x.docx"}, False),
    ]),
]

PLACEHOLDERS = {"admins": ["CORP\\Alice", "CORP\\Root"]}


def rule_yaml(detection: str) -> str:
    return (
        "title: case\nid: 00000000-0000-4000-8000-000000000001\nstatus: test\n"
        "logsource:\n  product: windows\ndetection:\n" + textwrap.indent(detection, "  ") + "\nlevel: high\n"
    )


def compiled(detection: str):
    rule = SigmaCollection.from_yaml(rule_yaml(detection)).rules[0]
    return compile_rule(rule, IRBackend(processing_pipeline=placeholder_pipeline(PLACEHOLDERS)))


@pytest.mark.parametrize(("name", "detection", "events"), CASES, ids=[c[0] for c in CASES])
def test_python_target(name, detection, events):
    predicate = compile_predicate(compiled(detection).condition)
    got = [bool(predicate(fields, (v := EventView(fields)).l, v)) for fields, _ in events]
    assert got == [expected for _, expected in events]


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_spark_sql_target(spark, ansi):
    """Every case's expression over every case's events in one projection, as detection chunks run.

    Evaluating each expression on all rows (not only its own) also catches a cast that Spark hoists out
    of its guard and that then raises on some other row's text.
    """
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    rows = [(n, i, fields) for n, (_, _, events) in enumerate(CASES) for i, (fields, _) in enumerate(events)]
    sql = SparkSQL()
    exprs = [f"coalesce({sql.render(compiled(d).condition)}, false) AS c{n}" for n, (_, d, _) in enumerate(CASES)]
    df = spark.createDataFrame(rows, "case int, i int, fields map<string,string>")
    result = df.selectExpr("case", "i", *exprs).collect()
    got = {(r.case, r.i): r[f"c{r.case}"] for r in result}
    mismatches = [
        (CASES[n][0], fields, expected)
        for n, (_, _, events) in enumerate(CASES)
        for i, (fields, expected) in enumerate(events)
        if got[(n, i)] != expected
    ]
    assert mismatches == []


def test_unfilled_placeholder_is_reported_not_dropped(tmp_path):
    from rules.compiler import load_rules

    (tmp_path / "r.yml").write_text(rule_yaml("sel:\n  User|expand: '%nobody_set_this%'\ncondition: sel"))
    ruleset = load_rules([tmp_path], placeholders={})
    assert ruleset.rules == []
    assert [(f.id, "nobody_set_this" in f.reason) for f in ruleset.failures] == [
        ("00000000-0000-4000-8000-000000000001", True)
    ]


def test_or_lists_never_become_one_regex():
    sql = SparkSQL().render(compiled(
        "sel:\n  CommandLine|contains:\n    - 'a1'\n    - 'b2'\n    - 'c3'\ncondition: sel").condition)
    assert "RLIKE" not in sql.upper()
    assert sql.count("contains(lower(fields['CommandLine'])") == 3


def test_cidr_uses_open_source_spark_functions_only():
    sql = SparkSQL().render(compiled("sel:\n  IpAddress|cidr: '10.0.0.0/8'\ncondition: sel").condition)
    assert "cidr" not in sql.lower() and "try_cast(o AS INT)" in sql


def test_backend_adds_the_log_source_filter():
    rule = SigmaCollection.from_yaml(rule_yaml("sel:\n  Image: x\ncondition: sel").replace(
        "product: windows", "product: windows\n  category: process_creation")).rules[0]
    (query,) = SparkBackend().convert_rule(rule)
    assert "lower(fields['Channel']) = 'microsoft-windows-sysmon/operational'" in query
    assert "lower(fields['Channel']) = 'security'" in query
    assert "kind = 'json'" in query
