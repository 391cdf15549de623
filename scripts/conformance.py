"""Runs the public SCIM conformance tools for scripts/conformance.sh and judges their results.

Run with the interpreter of the venv the tools are installed in (.venv/bin/python):

  conformance.py scim2-tester  --url URL --out DIR   # token in $CONFORMANCE_TOKEN
  conformance.py scim-sanity   --url URL --out DIR   # token in $CONFORMANCE_TOKEN
  conformance.py summary       --out DIR             # prints the summary, exit 1 on in-scope failures
  conformance.py wait-health   --url ORIGIN --pid PID [--timeout S]
  conformance.py connection    --url ORIGIN --name NAME   # admin token in $ADMIN_TOKEN;
                                                          # prints "<scim_base_url> <token>"

Each tool is run in-process through its own command-line entry point, exactly as
`scim --url URL --header "Authorization: Bearer T" test -v` and
`scim-sanity probe URL --token T --i-accept-side-effects` would run it; the wrappers only observe:
every HTTP exchange is recorded (DIR/<tool>.http.jsonl, Authorization redacted), and each check
result is kept as data with the exchanges it made (DIR/<tool>.json). The tools' own text output goes
to DIR/<tool>.log. Why not judge by the tools' exit codes: `scim test` exits 1 on any result that
is not SUCCESS (SKIPPED included) and has no JSON output nor check selection; scim-sanity exits 1 on
any FAIL/ERROR in any phase. Scope is decided here instead (see OUT_OF_SCOPE below).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

# What scim-edge does not serve, so checks on it are expected to be skipped. Override with
# CONFORMANCE_OUT_OF_SCOPE="A,B" (comma-separated).
# - Agent, AgenticApplication: draft-abbey-scim-agent-extension resources (scim-sanity phases 4-5),
#   not RFC 7643/7644; the server does not advertise them, and the tools skip them.
DEFAULT_OUT_OF_SCOPE = "Agent,AgenticApplication"

# Checks that must have run (and passed): a tool silently skipping them is a failure too.
REQUIRED = {
    "scim2-tester": [
        ("", "service_provider_config_endpoint"),
        ("", "query_all_resource_types"),
        ("", "query_all_schemas"),
        ("User", "object_creation"),
        ("User", "object_query"),
        ("User", "object_query_without_id"),
        ("User", "object_replacement"),
        ("User", "object_deletion"),
    ],
    "scim-sanity": [
        ("", "GET /ServiceProviderConfig"),
        ("", "GET /Schemas"),
        ("", "GET /ResourceTypes"),
        ("User", "POST /Users"),
        ("User", "GET /Users/{id}"),
        ("User", "PUT /Users/{id}"),
        ("User", "GET /Users/{id} after PUT"),
        ("User", "PATCH /Users/{id}"),
        ("User", "GET /Users/{id} after PATCH"),
        ("User", "DELETE /Users/{id}"),
        ("User", "GET /Users/{id} after DELETE (expect 404)"),
    ],
}

BODY_LIMIT = 20_000  # characters of a body kept in the HTTP trace


def out_of_scope() -> list[str]:
    raw = os.environ.get("CONFORMANCE_OUT_OF_SCOPE", DEFAULT_OUT_OF_SCOPE)
    return [x.strip() for x in raw.split(",") if x.strip()]


# --------------------------------------------------------------------------------------------
# HTTP trace
# --------------------------------------------------------------------------------------------

TRACE: list[dict[str, Any]] = []


def _redact(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in headers.items()}


def _text(data: Any) -> str:
    if data is None:
        return ""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8", "replace")
    data = str(data)
    return data if len(data) <= BODY_LIMIT else data[:BODY_LIMIT] + f"... [{len(data)} chars]"


def _record(method: str, url: str, req_headers: dict, req_body: Any, status: Any,
            resp_headers: dict, resp_body: Any, error: str | None = None) -> None:
    entry = {
        "seq": len(TRACE) + 1,
        "time": round(time.time(), 3),
        "request": {"method": method, "url": url, "headers": _redact(dict(req_headers)),
                    "body": _text(req_body)},
        "response": {"status": status, "headers": dict(resp_headers), "body": _text(resp_body)},
    }
    if error:
        entry["error"] = error
    TRACE.append(entry)


def write_trace(path: Path) -> None:
    with path.open("w") as f:
        for entry in TRACE:
            f.write(json.dumps(entry) + "\n")


def _exchanges(start: int, end: int) -> list[int]:
    return [e["seq"] for e in TRACE[start:end]]


# --------------------------------------------------------------------------------------------
# scim2-tester, through the `scim ... test` command of scim2-cli
# --------------------------------------------------------------------------------------------

def run_scim2_tester(url: str, token: str, out: Path) -> int:
    import httpx2
    import scim2_cli
    import scim2_cli.test as cli_test
    from scim2_tester import CheckResult, Status

    original_send = httpx2.Client.send

    def traced_send(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            req_body = request.content
        except Exception:  # a streamed request body
            req_body = "<stream>"
        try:
            response = original_send(self, request, *args, **kwargs)
        except Exception as exc:
            _record(request.method, str(request.url), request.headers, req_body, None, {}, None,
                    error=f"{type(exc).__name__}: {exc}")
            raise
        body = response.text if not kwargs.get("stream") else "<stream>"
        _record(request.method, str(request.url), request.headers, req_body,
                response.status_code, response.headers, body)
        return response

    httpx2.Client.send = traced_send

    # Each result remembers the exchanges made since the previous result was created: for a
    # failing result these are the requests of the failing step (its resource creation included).
    marks: dict[int, tuple[int, int]] = {}
    last_mark = [0]
    original_init = CheckResult.__init__

    def marked_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        marks[id(self)] = (last_mark[0], len(TRACE))
        last_mark[0] = len(TRACE)

    CheckResult.__init__ = marked_init

    captured: list[Any] = []
    original_check_server = cli_test.check_server

    def capturing_check_server(*args, **kwargs):  # type: ignore[no-untyped-def]
        results = original_check_server(*args, **kwargs)
        captured.extend(results)
        return results

    cli_test.check_server = capturing_check_server

    argv = ["--url", url, "--header", f"Authorization: Bearer {token}", "test", "--verbose"]
    buf = io.StringIO()
    code = 0
    crash = None
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            scim2_cli.cli.main(args=argv, prog_name="scim", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # the tool itself crashed
            code = 2
            crash = f"{type(exc).__name__}: {exc}"
    log = buf.getvalue()
    (out / "scim2-tester.log").write_text(
        "$ scim --url " + url + " --header 'Authorization: Bearer <token>' test --verbose\n"
        + log + (f"\n[conformance] tool crashed: {crash}\n" if crash else "")
        + f"\n[conformance] exit code {code}\n")
    write_trace(out / "scim2-tester.http.jsonl")

    outcome_of = {
        Status.SUCCESS: "pass", Status.COMPLIANT: "pass", Status.ACCEPTABLE: "pass",
        Status.DEVIATION: "warn", Status.ERROR: "fail", Status.CRITICAL: "fail",
        Status.SKIPPED: "skip",
    }
    results = []
    for r in captured:
        start, end = marks.get(id(r), (0, 0))
        results.append({
            "check": r.title or "?",
            "resource_type": r.resource_type or "",
            "status": r.status.name,
            "outcome": outcome_of.get(r.status, "fail"),
            "reason": r.reason or "",
            "tags": sorted(r.tags or []),
            "exchanges": _exchanges(start, end),
        })
    advertised = advertised_features(url, token)
    doc = {"tool": "scim2-tester", "exit_code": code, "crash": crash, "results": results,
           "server": advertised}
    if not captured:
        # Discovery failed before any check ran: `scim` prints why and exits 1.
        doc["error"] = log.strip().splitlines()[-1] if log.strip() else (crash or "no results")
    (out / "scim2-tester.json").write_text(json.dumps(doc, indent=2, default=str))
    return 0


def advertised_features(url: str, token: str) -> dict[str, Any]:
    """What ServiceProviderConfig and ResourceTypes advertise (for the summary)."""
    import urllib.request

    def get(path: str) -> Any:
        req = urllib.request.Request(url.rstrip("/") + path, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/scim+json"})
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback)
            return json.load(resp)

    info: dict[str, Any] = {}
    try:
        spc = get("/ServiceProviderConfig")
        info["features"] = {k: bool((spc.get(k) or {}).get("supported"))
                            for k in ("patch", "bulk", "filter", "sort", "etag", "changePassword")}
    except Exception as exc:
        info["features_error"] = str(exc)
    try:
        rts = get("/ResourceTypes")
        info["resource_types"] = [r.get("name") for r in rts.get("Resources", [])]
    except Exception as exc:
        info["resource_types_error"] = str(exc)
    return info


# --------------------------------------------------------------------------------------------
# scim-sanity probe
# --------------------------------------------------------------------------------------------

def run_scim_sanity(url: str, token: str, out: Path) -> int:
    import scim_sanity.cli as sanity_cli
    import scim_sanity.probe.runner as runner
    from scim_sanity.http_client import SCIMClient
    from scim_sanity.probe.report import ProbeResult, build_results_dict

    original_request = SCIMClient._request

    def traced_request(self, method, path, payload=None, extra_headers=None):  # type: ignore[no-untyped-def]
        headers = self._build_headers(extra_headers, method=method)
        body = json.dumps(payload) if payload is not None else None
        try:
            resp = original_request(self, method, path, payload, extra_headers)
        except Exception as exc:
            _record(method, f"{self.base_url}{path}", headers, body, None, {}, None,
                    error=f"{type(exc).__name__}: {exc}")
            raise
        _record(method, f"{self.base_url}{path}", headers, body, resp.status_code,
                resp.headers, resp.body)
        return resp

    SCIMClient._request = traced_request

    marks: dict[int, tuple[int, int]] = {}
    last_mark = [0]
    original_init = ProbeResult.__init__

    def marked_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        marks[id(self)] = (last_mark[0], len(TRACE))
        last_mark[0] = len(TRACE)

    ProbeResult.__init__ = marked_init

    captured: list[Any] = []
    original_print = runner.print_results

    def capturing_print(results, *args, **kwargs):  # type: ignore[no-untyped-def]
        captured.extend(results)
        return original_print(results, *args, **kwargs)

    runner.print_results = capturing_print

    argv = ["probe", url, "--token", token, "--i-accept-side-effects"]
    buf = io.StringIO()
    code = 0
    crash = None
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            sanity_cli.main.main(args=argv, prog_name="scim-sanity", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:
            code = 2
            crash = f"{type(exc).__name__}: {exc}"
    (out / "scim-sanity.log").write_text(
        "$ scim-sanity probe " + url + " --token <token> --i-accept-side-effects\n"
        + buf.getvalue() + (f"\n[conformance] tool crashed: {crash}\n" if crash else "")
        + f"\n[conformance] exit code {code}\n")
    write_trace(out / "scim-sanity.http.jsonl")

    results = []
    for r in captured:
        start, end = marks.get(id(r), (0, 0))
        phase = r.phase or ""
        results.append({
            "check": r.name,
            "phase": phase,
            "resource_type": sanity_resource_type(phase, r.name),
            "status": r.status.upper(),
            "outcome": {"pass": "pass", "fail": "fail", "error": "fail", "warn": "warn",
                        "skip": "skip"}.get(r.status, "fail"),
            "reason": r.message or "",
            "exchanges": _exchanges(start, end),
        })
    doc = {"tool": "scim-sanity", "exit_code": code, "crash": crash, "results": results}
    if captured:
        doc["report"] = build_results_dict(captured)  # the tool's own --json-output document
    else:
        doc["error"] = buf.getvalue().strip()[-2000:] or crash or "no results"
    (out / "scim-sanity.json").write_text(json.dumps(doc, indent=2, default=str))
    return 0


def sanity_resource_type(phase: str, name: str) -> str:
    for prefix, rtype in (("Phase 2", "User"), ("Phase 3", "Group"), ("Phase 4", "Agent"),
                          ("Phase 5a", "Agent"), ("Phase 5 ", "AgenticApplication"),
                          ("Phase 6", "User"), ("Phase 7", "User")):
        if phase.startswith(prefix):
            return rtype
    if phase == "Cleanup":
        for endpoint, rtype in (("/Users/", "User"), ("/Groups/", "Group"),
                                ("/Agents/", "Agent"), ("/AgenticApplications/", "AgenticApplication")):
            if endpoint in name:
                return rtype
    return ""


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------

def scope_of(result: dict[str, Any], oos: list[str]) -> str | None:
    """The out-of-scope feature a result is about (its resource type or a tag), or None."""
    words = {result.get("resource_type", "")} | set(result.get("tags", []))
    return next((feature for feature in oos if feature in words), None)


def load(out: Path, tool: str) -> dict[str, Any]:
    path = out / f"{tool}.json"
    if not path.exists():
        return {"tool": tool, "error": f"{path} missing (the tool did not run)", "results": []}
    return json.loads(path.read_text())


def short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summary(out: Path) -> int:
    oos = out_of_scope()
    trace_cache: dict[str, dict[int, dict]] = {}

    def trace(tool: str) -> dict[int, dict]:
        if tool not in trace_cache:
            entries = {}
            path = out / f"{tool}.http.jsonl"
            if path.exists():
                for line in path.read_text().splitlines():
                    e = json.loads(line)
                    entries[e["seq"]] = e
            trace_cache[tool] = entries
        return trace_cache[tool]

    lines: list[str] = []
    p = lines.append
    totals = {"pass": 0, "fail": 0, "warn": 0, "skip": 0, "expected": 0}
    failed_tools: list[str] = []

    p("=" * 78)
    p("SCIM conformance summary (scope: out of scope now = " + ", ".join(oos) + ")")
    p("=" * 78)

    for tool in ("scim2-tester", "scim-sanity"):
        doc = load(out, tool)
        results = doc.get("results", [])
        p("")
        p(f"## {tool}  (its own exit code, scope ignored: {doc.get('exit_code', '?')}; full output: "
          f"build/conformance/{tool}.log, .json, .http.jsonl)")
        server = doc.get("server")
        if server:
            feats = server.get("features")
            if feats:
                p("   server advertises: " + ", ".join(f"{k}={'yes' if v else 'no'}"
                                                      for k, v in feats.items())
                  + "; ResourceTypes: " + ", ".join(server.get("resource_types") or ["?"]))
        if doc.get("error") or doc.get("crash"):
            p(f"   FAIL: the tool did not complete: {short(doc.get('error') or doc.get('crash'), 600)}")
            failed_tools.append(tool)

        # Group results by check (a check of scim2-tester yields one result per attribute/method).
        groups: "OrderedDict[tuple, dict]" = OrderedDict()
        for r in results:
            feature = scope_of(r, oos)
            key = (r.get("phase", ""), r.get("resource_type", ""), r["check"])
            g = groups.setdefault(key, {"results": [], "feature": feature})
            g["results"].append(r)

        fails, warns, skips, expected = [], [], [], []
        for key, g in groups.items():
            _, rtype, check = key
            label = f"{rtype + ' ' if rtype and rtype not in check else ''}{check}"
            counts = {o: sum(1 for r in g["results"] if r["outcome"] == o)
                      for o in ("pass", "fail", "warn", "skip")}
            if g["feature"]:
                totals["expected"] += len(g["results"])
                expected.append((label, g))
                continue
            for o in counts:
                totals[o] += counts[o]
            if counts["fail"]:
                fails.append((label, g))
            if counts["warn"]:
                warns.append((label, g))
            if counts["skip"]:
                skips.append((label, g))
            mark = "FAIL" if counts["fail"] else ("WARN" if counts["warn"] else
                                                  ("SKIP" if not counts["pass"] else "PASS"))
            detail = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
            p(f"   [{mark}] {label}  ({detail})")

        # Checks that must have run.
        required = list(REQUIRED[tool])
        if tool == "scim2-tester" and server:
            # Every advertised resource type that is in scope gets the CRUD checks User gets.
            for rtype in server.get("resource_types") or []:
                if rtype and rtype != "User" and rtype not in oos:
                    required += [(rtype, c) for (t, c) in REQUIRED[tool] if t == "User"]
        for rtype, check in required:
            present = [r for r in results if r["check"] == check
                       and (not rtype or r.get("resource_type") == rtype)]
            if not present or all(r["outcome"] == "skip" for r in present):
                why = "did not run" if not present else "was skipped"
                p(f"   [FAIL] required check {rtype + ' ' if rtype else ''}{check} {why}")
                totals["fail"] += 1
                failed_tools.append(tool)

        p("   out of scope now (expected; not gating):")
        if expected:
            for label, g in expected:
                counts = Counter(r["status"] for r in g["results"])
                statuses = ", ".join(f"{st}" + (f" x{n}" if n > 1 else "") for st, n in counts.items())
                # The reason worth showing is that of a failure, if there is one.
                bad = [r for r in g["results"] if r["outcome"] == "fail" and r["reason"]]
                reason = (bad or [r for r in g["results"] if r["reason"]] or [{"reason": ""}])[0]["reason"]
                p(f"     - [{statuses}] {label} ({g['feature']}){': ' + short(reason, 120) if reason else ''}")
        not_covered = [f for f in oos if f in ("Bulk", "sort")]
        if tool == "scim2-tester" and server:
            advertised = set(server.get("resource_types") or [])
            for feature in oos:
                if feature not in not_covered and feature not in advertised:
                    p(f"     - [NOT RUN] {feature} checks: /ResourceTypes does not advertise "
                      f"{feature}, so scim2-tester does not test it")
        if tool == "scim2-tester" and server:
            for feature in oos:
                if feature in (server.get("resource_types") or []) or \
                        (server.get("features") or {}).get(feature.lower()):
                    p(f"     note: the server now advertises {feature}; drop it from "
                      f"CONFORMANCE_OUT_OF_SCOPE once it is meant to pass")
        if not_covered:
            p(f"     - [NOT COVERED] {' and '.join(not_covered)}: {tool} has no checks for "
              f"{'them' if len(not_covered) > 1 else 'it'}")

        if skips:
            p("   skipped in-scope checks (the tool's own decision):")
            for label, g in skips:
                for r in g["results"]:
                    if r["outcome"] == "skip":
                        p(f"     - {label}: {short(r['reason'], 200)}")
        if warns:
            p("   warnings (not gating):")
            for label, g in warns:
                for r in g["results"]:
                    if r["outcome"] == "warn":
                        p(f"     - {label}: {short(r['reason'], 200)}")
        if fails:
            failed_tools.append(tool)
            p("   FAILURES (in scope):")
            tr = trace(tool)
            for label, g in fails:
                for r in g["results"]:
                    if r["outcome"] != "fail":
                        continue
                    p(f"     - {label}: {short(r['reason'], 400)}")
                    ex = [tr[s] for s in r.get("exchanges", []) if s in tr]
                    # The last exchange of the failing step is the one that failed, as a rule.
                    for e in ex[-1:]:
                        rq, rs = e["request"], e["response"]
                        p(f"         request #{e['seq']}: {rq['method']} {rq['url']}"
                          + (f"  body={short(rq['body'], 300)}" if rq["body"] else ""))
                        p(f"         response: {rs['status']}  {short(rs['body'], 300)}")

    p("")
    p("-" * 78)
    ok = not failed_tools
    p(f"conformance: {totals['pass']} passed, {totals['fail']} failed, {totals['skip']} skipped"
      f"  ({totals['warn']} warnings, {totals['expected']} out-of-scope results)")
    p("conformance: " + ("OK: every in-scope check passed" if ok else
                         "FAILED: " + ", ".join(dict.fromkeys(failed_tools))
                         + " reported in-scope failures (see above)"))
    text = "\n".join(lines) + "\n"
    (out / "summary.txt").write_text(text)
    sys.stdout.write(text)
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------
# Worker plumbing (plain urllib, so a fresh machine needs nothing but Python)
# --------------------------------------------------------------------------------------------

def wait_health(origin: str, pid: int, timeout: float) -> int:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            print(f"conformance: wrangler dev (pid {pid}) exited before the worker was up",
                  file=sys.stderr)
            return 1
        try:
            with urllib.request.urlopen(origin.rstrip("/") + "/health", timeout=5) as resp:  # noqa: S310
                if resp.status == 200:
                    return 0
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except Exception as exc:  # not listening yet
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    print(f"conformance: GET {origin}/health did not answer 200 within {timeout:.0f} s ({last})",
          file=sys.stderr)
    return 1


def admin_call(origin: str, method: str, path: str, body: dict[str, Any],
               expect: int) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        origin.rstrip("/") + "/admin/v1" + path, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {os.environ['ADMIN_TOKEN']}",
                 "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback)
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    if status != expect:
        raise SystemExit(
            f"conformance: {method} /admin/v1{path} answered {status}, not {expect}: {text}")
    return json.loads(text)


def create_connection(origin: str, name: str) -> int:
    conn = admin_call(origin, "POST", "/connections", {"name": name}, 201)
    # The tools send requests back to back and do not retry a 429; the default limit (50/s, burst
    # 100) is an IdP-facing budget, so their connection gets a higher one. The limiter itself is
    # tested in tests/e2e/isolation.test.mjs.
    admin_call(origin, "PATCH", f"/connections/{conn['id']}",
               {"settings": {"rate_limit": 10000}}, 200)
    token = admin_call(origin, "POST", f"/connections/{conn['id']}/tokens", {}, 201)
    print(conn["scim_base_url"], token["token"])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["scim2-tester", "scim-sanity", "summary",
                                            "wait-health", "connection"])
    parser.add_argument("--url", help="SCIM base URL of the connection, or the worker's origin")
    parser.add_argument("--out", type=Path, help="output directory")
    parser.add_argument("--pid", type=int, help="wait-health: the wrangler process")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--name", default="conformance", help="connection: its name")
    args = parser.parse_args()
    if args.command == "wait-health":
        return wait_health(args.url, args.pid, args.timeout)
    if args.command == "connection":
        return create_connection(args.url, args.name)
    if not args.out:
        parser.error("--out is required")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "summary":
        return summary(args.out)
    token = os.environ.get("CONFORMANCE_TOKEN")
    if not args.url or not token:
        parser.error("--url and $CONFORMANCE_TOKEN are required")
    if args.command == "scim2-tester":
        return run_scim2_tester(args.url, token, args.out)
    return run_scim_sanity(args.url, token, args.out)


if __name__ == "__main__":
    sys.exit(main())
