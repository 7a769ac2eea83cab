#!/usr/bin/python3
"""tools/scan: tlsfuzzer and testssl.sh against `tlsock serve` on 127.0.0.1, one summary table.

    TLSFUZZER_DIR=... TLSLITE_DIR=... tools/scan/scan.py --tlsock build/tools/tlsock [options]

Every server it starts (tlsock serve, and openssl s_server with --compare) listens on a free
port of 127.0.0.1 and is stopped by its PID when its run ends, bounded in time. The scripts
run with Debian's /usr/bin/python3 (python3-ecdsa); tlsfuzzer and tlslite-ng are not Debian
packages: TLSFUZZER_DIR and TLSLITE_DIR name checkouts of github.com/tlsfuzzer/tlsfuzzer and
github.com/tlsfuzzer/tlslite-ng. testssl.sh is Debian's (`testssl`).

Suites: testssl runs against the server's defaults (what a user gets). Many tlsfuzzer scripts
hard-code a TLS 1.2 suite; each script below is given one the defaults have (-C) or told to
use ECDHE (-d, which offers ECDHE-RSA with AES-128-CBC-SHA), so the tlsfuzzer runs add that
one CBC suite to the server's list (--cipher-suites), and the same for openssl s_server,
whose defaults have it.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CERT = ROOT / "certs" / "localhost-chain.pem"
KEY = ROOT / "certs" / "localhost.key"
GCM = ["-C", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
ECDHE = ["-d"]

# The selection: (script, arguments, group). Groups: "1.2" runs on every server; "1.3" where
# the server has TLS 1.3; "no-1.3" where it has not.
SCRIPTS = [
    ("test-conversation", GCM, "1.2"),
    ("test-no-heartbeat", ECDHE, "1.2"),
    ("test-invalid-compression-methods", GCM, "1.2"),
    ("test-ccs", GCM, "1.2"),
    ("test-record-layer-fragmentation", GCM, "1.2"),
    ("test-large-hello", ECDHE, "1.2"),
    ("test-truncating-of-client-hello", GCM, "1.2"),
    ("test-extended-master-secret-extension", ECDHE, "1.2"),
    ("test-sessionID-resumption", ECDHE, "1.2"),
    ("test-session-ticket-resumption", ECDHE, "1.2"),
    ("test-ecdhe-rsa-key-exchange-with-bad-messages", GCM, "1.2"),
    ("test-sslv2hello-protocol", ECDHE, "1.2"),
    ("test-fallback-scsv", ECDHE, "1.2"),
    ("test-zero-length-data", GCM, "1.2"),
    ("test-version-numbers", GCM, "1.2"),
    ("test-client-hello-max-size", ECDHE, "1.2"),
    ("test-invalid-content-type", GCM, "1.2"),
    ("test-invalid-version", [], "1.2"),
    ("test-empty-extensions", [], "1.2"),
    ("test-tls13-conversation", [], "1.3"),
    ("test-tls13-version-negotiation", GCM, "1.3"),
    ("test-tls13-finished", [], "1.3"),
    ("test-tls13-zero-length-data", [], "1.3"),
    ("test-tls13-ccs", [], "1.3"),
    ("test-tls13-unencrypted-alert", [], "1.3"),
    ("test-tls13-keyupdate", [], "1.3"),
    ("test-tls13-session-resumption", [], "1.3"),
    ("test-tls13-legacy-version", [], "1.3"),
    ("test-tls13-hrr", [], "1.3"),
    ("test-tls13-nociphers", [], "1.3"),
    ("test-tls13-non-support", [], "no-1.3"),
]
# Scripts that take --tls-1.3 for a server that has TLS 1.3 (test-fallback-scsv then expects
# inappropriate_fallback for a TLS 1.2 hello with TLS_FALLBACK_SCSV, RFC 7507).
TLS13_FLAG = {"test-fallback-scsv"}
# The suites the tlsfuzzer runs give the server (with an RSA identity): TLS 1.3's (on 3.6),
# the ECDHE-RSA AEAD suites, and what -d offers (see the module text).
SCAN_SUITES_13 = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]
SCAN_SUITES_12 = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, limit=20.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Server:
    """One server process on 127.0.0.1, stopped by its PID (a context manager)."""

    def __init__(self, name, command, port, log):
        self.name, self.command, self.port, self.log = name, command, port, log
        self.proc = None

    def __enter__(self):
        self.out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=self.out, stderr=subprocess.STDOUT,
                                     cwd=ROOT, start_new_session=True)
        if not wait_listening(self.port, self.proc):
            self.__exit__(None, None, None)
            raise RuntimeError(f"{self.name} did not start listening on 127.0.0.1:{self.port} (log: {self.log})")
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.out.close()


def tlsock_server(args, port, log, suites, www):
    command = [str(args.tlsock), "serve", "--listen", "127.0.0.1", "--port", str(port), "--cert", str(CERT), "--key",
               str(KEY)]
    if suites and args.can_choose_suites:
        command += ["--cipher-suites", ",".join(suites)]
    command.append(str(www))
    return Server("tlsock serve", command, port, log)


def openssl_server(port, log, extra):
    command = ["openssl", "s_server", "-accept", str(port), "-cert", str(CERT), "-key", str(KEY), "-www", "-quiet"]
    return Server("openssl s_server", command + extra, port, log)


@dataclass
class ScriptResult:
    script: str
    passed: bool
    probes: int = 0
    failed: int = 0
    failed_names: list = field(default_factory=list)
    note: str = ""


def parse_tlsfuzzer(script, rc, text):
    def count(key):
        m = re.search(rf"^{key}: (\d+)$", text, re.M)
        return int(m.group(1)) if m else 0

    failed_names = re.findall(r"^\t'(.*)'$", text.split("FAILED:")[-1], re.M) if "FAILED:" in text else []
    result = ScriptResult(script, rc == 0, count("TOTAL"), count("FAIL") + count("XPASS"), failed_names)
    if "TOTAL:" not in text:
        result.note = "did not finish (see its log)"
        result.failed = max(result.failed, 1)
    return result


def run_script(args, script, script_args, port, log):
    command = ["/usr/bin/python3", str(args.tlsfuzzer / "scripts" / f"{script}.py"), "-h", "127.0.0.1", "-p",
               str(port)] + script_args
    env = dict(os.environ, PYTHONPATH=f"{args.tlsfuzzer}:{args.tlslite}")
    try:
        done = subprocess.run(command, cwd=args.tlsfuzzer, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=args.script_timeout, start_new_session=True)
        text, rc = done.stdout.decode(errors="replace"), done.returncode
    except subprocess.TimeoutExpired as e:
        text, rc = (e.stdout or b"").decode(errors="replace"), -1
        text += f"\n[scan] timed out after {args.script_timeout} s\n"
    Path(log).write_text(" ".join(command) + "\n" + text)
    result = parse_tlsfuzzer(script, rc, text)
    if rc == -1:
        result.note = f"timed out after {args.script_timeout} s"
    return result


def has_tls13(args):
    """Whether this build of tlsock has TLS 1.3 (its mbedTLS line): `tlsock --version`'s
    "Protocols:" line says (a 2.28 build's next line says "No TLS 1.3")."""
    out = subprocess.run([str(args.tlsock), "--version"], stdout=subprocess.PIPE, text=True, timeout=30).stdout
    return re.search(r"^Protocols:.*\bTLSv1\.3\b", out, re.M) is not None


def tlsfuzzer_runs(args, logs, www, tls13):
    servers = ["tlsock"] + (["openssl"] if args.compare else [])
    groups = {"1.2", "1.3" if tls13 else "no-1.3"}
    selection = [(s, a) for s, a, g in SCRIPTS if g in groups and (not args.scripts or s in args.scripts)]
    results = {name: [] for name in servers}
    for script, script_args in selection:
        if tls13 and script in TLS13_FLAG:
            script_args = script_args + ["--tls-1.3"]
        for name in servers:
            port = free_port()
            log = logs / f"{name}-{script}.log"
            if name == "tlsock":
                suites = (SCAN_SUITES_13 if tls13 else []) + SCAN_SUITES_12
                server = tlsock_server(args, port, logs / f"{name}-{script}.server.log", suites, www)
            else:
                server = openssl_server(port, logs / f"{name}-{script}.server.log", [] if tls13 else ["-no_tls1_3"])
            with server:
                result = run_script(args, script, script_args, port, log)
                if not server.alive():
                    result.note = (result.note + "; " if result.note else "") + "the server exited"
            results[name].append(result)
            print(f"  {name:8} {script:48} {'pass' if result.passed else 'FAIL'} "
                  f"({result.failed} of {result.probes} probes failed){' - ' + result.note if result.note else ''}",
                  file=sys.stderr, flush=True)
    return results


def testssl_run(args, logs, www):
    port = free_port()
    report = logs / "testssl.json"
    report.unlink(missing_ok=True)
    with tlsock_server(args, port, logs / "testssl.server.log", [], www):
        command = ["testssl", "--quiet", "--color", "0", "--warnings", "batch", "--jsonfile", str(report),
                   "--add-ca", str(ROOT / "certs" / "root-ca.pem"), f"127.0.0.1:{port}"]
        with open(logs / "testssl.log", "wb") as out:
            subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=args.testssl_timeout,
                           start_new_session=True)
    findings = json.loads(report.read_text()) if report.exists() else []
    return findings


SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]


def summarize_testssl(findings):
    """Counts by severity, apart for the TLS and for the certificate (the test identity: its
    own root, a long validity, no revocation URL, so cert_* findings are about it, not TLS),
    the MEDIUM-or-above findings, and the suites offered: (name, forward secret, AEAD)."""
    counts = {"tls": {s: 0 for s in SEVERITIES}, "certificate": {s: 0 for s in SEVERITIES}}
    serious = []
    suites = []
    for f in findings:
        ident, severity, finding = f.get("id", ""), f.get("severity", ""), f.get("finding", "")
        kind = "certificate" if ident.startswith("cert") else "tls"
        if severity in SEVERITIES:
            counts[kind][severity] += 1
            if severity in ("CRITICAL", "HIGH", "MEDIUM"):
                serious.append(f"{kind}: {ident} ({severity}): {finding}")
        if re.fullmatch(r"cipher_x[0-9a-f]+", ident):
            columns = finding.split()
            name = columns[-1] if columns else ident
            forward_secret = len(columns) > 2 and columns[2] in ("ECDH", "DH")
            aead = any(mode in finding for mode in ("AESGCM", "ChaCha20", "AESCCM"))
            suites.append((name, forward_secret, aead))
    return counts, serious, suites


def print_table(results, tls13, line, testssl):
    print(f"## tools/scan: mbedTLS {line} ({'TLS 1.2 + 1.3' if tls13 else 'TLS 1.2'})\n")
    if results:
        print("| server | tlsfuzzer scripts passed | probes failed |")
        print("|---|---|---|")
        names = {"tlsock": "`tlsock serve`", "openssl": "`openssl s_server`"}
        for name, rows in results.items():
            passed = sum(r.passed for r in rows)
            print(f"| {names[name]} | {passed} of {len(rows)} | {sum(r.failed for r in rows)} |")
        print()
        servers = list(results)
        print("| script | " + " | ".join(names[s] for s in servers) + " |")
        print("|---|" + "---|" * len(servers))
        for i, row in enumerate(results[servers[0]]):
            cells = []
            for s in servers:
                r = results[s][i]
                cells.append("pass" if r.passed else f"{r.failed} of {r.probes} failed" + (f" ({r.note})" if r.note else ""))
            print(f"| {row.script} | " + " | ".join(cells) + " |")
        print()
        for r in results["tlsock"]:
            if r.failed_names:
                shown = ", ".join(r.failed_names[:6]) + (f", ... ({len(r.failed_names)} in all)" if len(r.failed_names) > 6 else "")
                print(f"- {r.script}: {shown}")
        print()
    if testssl is not None:
        counts, serious, suites = testssl
        for kind in ("tls", "certificate"):
            print(f"testssl.sh, {'TLS' if kind == 'tls' else 'the test certificate'} findings: " +
                  ", ".join(f"{counts[kind][s]} {s}" for s in SEVERITIES))
        for s in serious:
            print(f"- {s}")
        weak = [name for name, fs, aead in suites if not (fs and aead)]
        print(f"suites offered by default: {len(suites)}, of which {len(weak)} are not forward-secret AEAD"
              + (": " + ", ".join(weak) if weak else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tlsock", type=Path, default=ROOT / "build" / "tools" / "tlsock",
                        help="the tlsock binary to scan (default: build/tools/tlsock)")
    parser.add_argument("--line", default="3.6", help="the mbedTLS line it was built with (for the table's title)")
    parser.add_argument("--logs", type=Path, default=None, help="where each run's log goes (default: a temporary dir)")
    parser.add_argument("--compare", action="store_true", help="also run the scripts against openssl s_server")
    parser.add_argument("--only", choices=["tlsfuzzer", "testssl"], help="run one of the two")
    parser.add_argument("--script", dest="scripts", action="append", help="run this script only (repeatable)")
    parser.add_argument("--script-timeout", type=int, default=900, help="seconds per tlsfuzzer script (900)")
    parser.add_argument("--testssl-timeout", type=int, default=1800, help="seconds for testssl.sh (1800)")
    args = parser.parse_args()

    if not args.tlsock.is_file():
        sys.exit(f"scan: no tlsock binary at {args.tlsock} (build it: ./run build)")
    logs = args.logs or Path(tempfile.mkdtemp(prefix="tlsock-scan-"))
    logs.mkdir(parents=True, exist_ok=True)
    www = logs / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_text("<html><body>tlsock scan</body></html>\n")

    results = {}
    if args.only != "testssl":
        tlsfuzzer, tlslite = os.environ.get("TLSFUZZER_DIR"), os.environ.get("TLSLITE_DIR")
        if not tlsfuzzer or not tlslite:
            sys.exit("scan: set TLSFUZZER_DIR and TLSLITE_DIR to checkouts of tlsfuzzer and tlslite-ng "
                     "(github.com/tlsfuzzer), or pass --only testssl")
        args.tlsfuzzer, args.tlslite = Path(tlsfuzzer).resolve(), Path(tlslite).resolve()
        if not (args.tlsfuzzer / "scripts").is_dir():
            sys.exit(f"scan: TLSFUZZER_DIR={tlsfuzzer} has no scripts/ folder")
        if args.scripts:
            known = {s for s, _, _ in SCRIPTS}
            unknown = [s for s in args.scripts if s not in known]
            if unknown:
                sys.exit(f"scan: not in the selection: {', '.join(unknown)}")
    tls13 = has_tls13(args)
    serve_help = subprocess.run([str(args.tlsock), "serve", "--help"], stdout=subprocess.PIPE, text=True, timeout=30)
    args.can_choose_suites = "--cipher-suites" in serve_help.stdout
    if not args.can_choose_suites:
        print("scan: this tlsock serve has no --cipher-suites: the tlsfuzzer runs use its defaults", file=sys.stderr)
    print(f"scan: logs in {logs}", file=sys.stderr)
    if args.only != "testssl":
        results = tlsfuzzer_runs(args, logs, www, tls13)
    testssl = None
    if args.only != "tlsfuzzer":
        if shutil.which("testssl") is None:
            sys.exit("scan: testssl is missing (Debian's testssl.sh package; ./run scan installs it)")
        testssl = summarize_testssl(testssl_run(args, logs, www))
    print_table(results, tls13, args.line, testssl)
    tlsock_rows = results.get("tlsock", [])
    tls_serious = testssl is not None and any(s.startswith("tls:") for s in testssl[1])
    return 0 if all(r.passed for r in tlsock_rows) and not tls_serious else 1


if __name__ == "__main__":
    sys.exit(main())
