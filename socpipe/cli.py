"""socpipe command line: rules check | rules regress | detect | collect | run | baseline domains | notify | serve |
demo | dev up|down|status."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from socpipe.config import Config, load_config


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (also parsed by tests, e.g. the commands of docker-compose.yml)."""
    parser = argparse.ArgumentParser(prog="socpipe", description=__doc__)
    parser.add_argument("--config", type=Path, help="YAML configuration (SOCPIPE__* variables override it)")
    commands = parser.add_subparsers(dest="command", required=True)

    rules = commands.add_parser("rules", help="work with Sigma rules").add_subparsers(dest="rules_command",
                                                                                      required=True)
    check = rules.add_parser("check", help="compile every rule found and report failures")
    check.add_argument("paths", nargs="+", type=Path)
    check.add_argument("--strict", action="store_true", help="exit 1 when any rule fails")
    regress = rules.add_parser("regress", help="run a Sigma repository's regression_data against its rules")
    regress.add_argument("repo", type=Path)

    detect = commands.add_parser("detect", help="batch detection on Spark")
    detect.add_argument("--rules", nargs="+", type=Path, help="rule files or folders (default: configured)")
    detect.add_argument("--input", nargs="+", type=Path, required=True, help="log files, pcaps or folders")
    detect.add_argument("--out", type=Path, required=True, help="output folder")

    run = commands.add_parser("run", help="the streaming job: Kafka raw.* -> detection -> alerts, search store, lake")
    run.add_argument("--rules", nargs="+", type=Path, help="rule files or folders (default: configured)")
    run.add_argument("--once", action="store_true", help="process what Kafka holds now, then stop")

    baseline = commands.add_parser("baseline", help="baselines that enrichment compares events with").add_subparsers(
        dest="baseline_command", required=True)
    domains = baseline.add_parser("domains", help="the registered domains of the lake's DNS questions, for "
                                  "newly seen domains (enrich.new_domains)")
    domains.add_argument("--days", type=int, help="days read, ending with --until (default: enrich.new_domains.days)")
    domains.add_argument("--until", type=date.fromisoformat, help="last day read, YYYY-MM-DD (default: today, UTC)")
    domains.add_argument("--lake", type=Path, help="events lake (default: lake.path/events)")
    domains.add_argument("--out", type=Path, help="baseline file (default: enrich.new_domains.baseline)")

    demo = commands.add_parser("demo", help="the embedded default: bundled logs, starter rules, report")
    demo.add_argument("--rules", nargs="*", type=Path, default=[], help="more rule files or folders")
    demo.add_argument("--out", type=Path, default=Path("demo-out"))
    demo.add_argument("--serve", action="store_true", help="then start the dev servers, load the results into "
                      "OpenSearch, create demo users (printed with their passwords) and serve the console")

    collect = commands.add_parser("collect", help="collectors: records to Kafka raw.<source>, unframeable ones "
                                  "to deadletter").add_subparsers(dest="collect_command", required=True)
    syslog = collect.add_parser("syslog", help="syslog listener (UDP, TCP, TLS)")
    syslog.add_argument("--udp", type=int, metavar="PORT", help="UDP port, one message per datagram")
    syslog.add_argument("--tcp", type=int, metavar="PORT", help="TCP port, newline or octet-counted framing")
    syslog.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="the TCP listener speaks TLS (PEM files)")
    syslog.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    netflow = collect.add_parser("netflow", help="NetFlow v5/v9 and IPFIX over UDP: one flow record per message "
                                 "on raw.flow")
    netflow.add_argument("--udp", type=int, metavar="PORT", default=2055,
                         help="UDP port the exporters send to (default 2055)")
    netflow.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    tail = collect.add_parser("file", help="tail log files (offsets kept, rotation)")
    tail.add_argument("paths", nargs="+", type=Path)
    one_shot = collect.add_parser("import", help="send .evtx, JSON, log files and packet captures once")
    one_shot.add_argument("paths", nargs="+", type=Path)

    notify = commands.add_parser("notify", help="layer 1: route incidents to agency contacts, escalate, every "
                                 "notify.tick_seconds until SIGTERM or Ctrl-C")
    notify.add_argument("--once", action="store_true", help="one tick, then stop (exit 1 if a message is pending)")
    notify.add_argument("--incidents", type=Path, help="incidents.jsonl to add first (without a search store), or "
                        "alerts.jsonl with notify.unit alerts")

    commands.add_parser("serve", help="the web console, its API and the acknowledgement links "
                        "(console.host:console.port)")
    users = commands.add_parser("users", help="local console accounts (console.users_file)").add_subparsers(
        dest="users_command", required=True)
    add = users.add_parser("add", help="a new account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["analyst", "agency", "auditor", "admin"])
    add.add_argument("--agency", help="the agency of an `agency` user")
    add.add_argument("--language", default="vi", choices=["vi", "en"])
    add.add_argument("--password", help="default: asked on the terminal (a flag shows in the process list)")
    passwd = users.add_parser("passwd", help="a new password")
    passwd.add_argument("name")
    passwd.add_argument("--password")
    users.add_parser("disable", help="refuse the account from now on").add_argument("name")


    boards = commands.add_parser("dashboards", help="Grafana dashboards as code").add_subparsers(
        dest="dashboards_command", required=True)
    export = boards.add_parser("export", help="write Grafana provisioning files to DIR")
    export.add_argument("dir", type=Path)
    push = boards.add_parser("push", help="publish the dashboards to a Grafana "
                             "(token from SOCPIPE__GRAFANA__TOKEN)")
    push.add_argument("--url", help="Grafana base URL (default: grafana.url)")

    deploy = commands.add_parser("deploy", help="the secured docker-compose stack (socpipe/deploy.py)").add_subparsers(
        dest="deploy_command", required=True)
    made = deploy.add_parser("secrets", help="certificates and the servers' security files into DIR (passwords "
                             "from SOCPIPE_KAFKA_*_PASSWORD and SOCPIPE_OPENSEARCH_*_PASSWORD)")
    made.add_argument("dir", type=Path)
    made.add_argument("--owner", action="append", default=[], metavar="FOLDER=UID:GID",
                      help="give DIR/FOLDER to the user of the container that reads it (as root)")
    deploy.add_parser("grant", help="create socpipe's topics and the Kafka principals' ACLs (as Kafka's admin)")

    dev = commands.add_parser("dev", help="local Kafka and OpenSearch on 127.0.0.1 (Java processes, no Docker)")
    dev.add_argument("dev_command", choices=["up", "down", "status"])
    dev.add_argument("--secure", action="store_true", help="up: Kafka with TLS, SASL/SCRAM-SHA-512 users and ACLs; "
                     "OpenSearch with TLS and users and roles from the registry (document-level security per agency)")

    from socpipe import audit_commands, national_commands

    audit_commands.add_parsers(commands)
    national_commands.add_parser(commands)
    _config_everywhere(parser)
    return parser


def _config_everywhere(parser: argparse.ArgumentParser) -> None:
    """`--config FILE` before or after any subcommand, with one meaning: every subcommand's parser takes it
    too, without a default of its own (SUPPRESS), so one given before the subcommand is not reset."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share one parser
                if "--config" not in sub._option_string_actions:
                    sub.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                                     help="YAML configuration (also accepted before the subcommand)")
                _config_everywhere(sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = load_config(args.config)
    if args.command == "dev":
        from socpipe.dev.servers import run as run_dev

        return run_dev(args.dev_command, config.path("dev", "state_dir"), config.get("dev", "kafka_port"),
                       config.get("dev", "opensearch_port"), secure=args.secure, config=config)
    if args.command == "rules":
        return _check(args, config) if args.rules_command == "check" else _regress(args, config)
    if args.command == "detect":
        return _detect(args, config)
    if args.command == "collect":
        from ingest.collect import run as run_collector

        return run_collector(args, config)
    if args.command == "run":
        return _run(args, config)
    if args.command == "baseline":
        return _baseline_domains(args, config)
    if args.command == "notify":
        from alerting.notify_run import run_command

        return run_command(args.once, args.incidents, config)
    if args.command in ("serve", "users"):
        from dashboards.console import serve

        return serve.serve(config) if args.command == "serve" else serve.users(args, config)
    if args.command in ("audit", "retention"):
        from socpipe import audit_commands

        return (audit_commands.run_audit if args.command == "audit" else audit_commands.run_retention)(args, config)
    if args.command == "national":
        from socpipe import national_commands

        return national_commands.run(args, config)
    if args.command == "deploy":
        from socpipe import deploy

        return deploy.run(args, config)
    if args.command == "dashboards":
        from dashboards.grafana.cli import run as run_dashboards

        return run_dashboards(args, config)
    from socpipe.demo import run_demo

    code = run_demo(config, args.rules, args.out)
    if code or not args.serve:
        return code
    from dashboards.console.demo_serve import serve_demo

    return serve_demo(config, args.out)


def _check(args: argparse.Namespace, config: Config) -> int:
    from rules.compiler import load_rules

    ruleset = load_rules(args.paths, config.get("rules", "placeholders"), config.rule_cache_dir)
    for f in ruleset.failures:
        print(f"FAILED {f.id} {f.path}: {f.reason}")
    if config.rule_cache_dir:
        print(f"rule cache {config.rule_cache_dir}: {ruleset.cache_hits} files reused")
    if ruleset.filters or ruleset.suppressions:  # tuning as code (rules/filters.py)
        print(f"{len(ruleset.filters)} filters, {len(ruleset.suppressions)} rules with suppression")
    if ruleset.correlations:  # layer 2 (rules/correlation.py), references resolved
        print(f"{len(ruleset.correlations)} correlations: " + ", ".join(
            f"{n} {kind}" for kind, n in sorted(Counter(c.type for c in ruleset.correlations).items())))
    print(f"{len(ruleset.rules)} compiled, {len(ruleset.failures)} failed")
    return 1 if args.strict and ruleset.failures else 0


def _regress(args: argparse.Namespace, config: Config) -> int:
    from layers.matcher import regress
    from rules.compiler import load_rules

    repo: Path = args.repo
    rule_dirs = sorted(p for p in repo.glob("rules*") if p.is_dir())
    outcomes = regress.run(repo, load_rules(rule_dirs, config.get("rules", "placeholders"), config.rule_cache_dir))
    failed = [o for o in outcomes if not o.passed]
    for o in outcomes:
        if o.passed and not o.surplus:
            continue
        word = "NOTE" if o.passed else "FAILED"
        count = "none (at least 1)" if o.sample.expected is None else o.sample.expected
        print(f"{word} {o.sample.rule_id} {o.sample.path.relative_to(repo)}: info.yml count {count}, "
              f"matched {o.matched}{' (' + o.problem + ')' if o.problem else ''}")
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _detect(args: argparse.Namespace, config: Config) -> int:
    import tempfile
    import time

    from socpipe.spark import start_session

    started = time.monotonic()
    # The JVM starts first: rules, registry and the input plan are ready by the time it is (about 3 s).
    starting = start_session(master=config.get("spark", "master"), conf=config.get("spark", "conf"), batch=True)
    from alerting.triage import Triage
    from enrich.geoip import GeoIP
    from enrich.intel_sources import load_intel
    from enrich.seen_domains import SeenDomains
    from ingest.splits import plan_splits
    from layers import detect
    from rules.compiler import load_rules
    from socpipe.registry import Registry
    from socpipe.report import print_summary

    ruleset = load_rules(args.rules or config.rule_paths, config.get("rules", "placeholders"), config.rule_cache_dir)
    for f in ruleset.failures:
        print(f"rule failed: {f.id} {f.path}: {f.reason}", file=sys.stderr)
    registry_path = config.path("registry")
    registry = Registry.load(registry_path) if registry_path else None
    intel = load_intel(config)
    for line in intel.lines() if intel else ():
        print(line, file=sys.stderr)
    loaded = time.monotonic()
    splits = plan_splits(args.input, config.get("detect", "split_bytes"))
    planned = time.monotonic()
    spark = starting.result()
    stages = {"rules": loaded - started, "plan": planned - loaded, "spark start": time.monotonic() - planned}
    with tempfile.TemporaryDirectory(prefix="socpipe-lake-") as lake:
        summary = detect.run(spark, ruleset, splits, args.out, Path(lake), registry, config.hints,
                             config.get("detect", "events_per_file"), config.get("detect", "syslog_year"),
                             triage=Triage.of(config, ruleset).batch,
                             geoip=GeoIP.of(config), intel=intel.intel if intel else None,
                             seen=SeenDomains.of(config))
    summary.stages = {**stages, **summary.stages}
    print_summary(summary)
    return 0


def _baseline_domains(args: argparse.Namespace, config: Config) -> int:
    from enrich.seen_domains import lake_domains, write_baseline

    out = args.out or config.path("enrich", "new_domains", "baseline")
    if out is None:
        print("no baseline file: give --out or set enrich.new_domains.baseline", file=sys.stderr)
        return 2
    days = args.days or config.get("enrich", "new_domains", "days")
    until = args.until or datetime.now(UTC).date()
    lake = args.lake or config.path("lake", "path") / "events"
    found = lake_domains(lake, days, until)
    write_baseline(out, found, f"registered domains asked in {lake}, {days} days to {until}")
    print(f"{len(found):,} registered domains from {days} days of {lake} to {until} written to {out}")
    return 0


def _run(args: argparse.Namespace, config: Config) -> int:
    import logging

    from alerting.triage import StreamTriage
    from enrich.geoip import GeoIP
    from enrich.seen_domains import SeenDomains
    from layers import stream
    from rules.compiler import load_rules
    from socpipe.registry import Registry
    from socpipe.spark import kafka_connector_jars, session

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Refused connections while Kafka is away are expected; a send that fails fails its batch, which
    # layers.stream logs. The search client's per-request lines are noise beside the batch lines.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    logging.getLogger("opensearch").setLevel(logging.WARNING)
    ruleset = load_rules(args.rules or config.rule_paths, config.get("rules", "placeholders"), config.rule_cache_dir)
    for f in ruleset.failures:
        print(f"rule failed: {f.id} {f.path}: {f.reason}", file=sys.stderr)
    print(f"{len(ruleset.rules)} rules loaded, {len(ruleset.failures)} failed", file=sys.stderr)
    registry_path = config.path("registry")
    settings = stream.ParseSettings(Registry.load(registry_path) if registry_path else None, config.hints,
                                   config.get("detect", "syslog_year"), config.get("kafka", "topic_prefix"),
                                   GeoIP.of(config), SeenDomains.of(config))
    spark = session("socpipe-run", master=config.get("spark", "master"),
                    conf={"spark.jars": kafka_connector_jars(), **config.get("spark", "conf")})
    stream.run(spark, config, ruleset, settings, once=args.once, triage=StreamTriage(config, ruleset))
    return 0


if __name__ == "__main__":
    sys.exit(main())
