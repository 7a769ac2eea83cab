#!/usr/bin/env python3
"""tlsock.exe under wine64 against Linux-side peers: `fetch` and `probe` with the exit codes,
outputs and messages the Linux build gives (test/cli/test_fetch.cpp, test_probe.cpp), and the
OS trust store path (no --cacert: Wine's ROOT store, which lacks the test root).

    cli_driver.py WINE TLSOCK_EXE CERTS_DIR DLL_DIR [--os-store]

DLL_DIR (libtlsock-0.dll's) joins wine's PATH (WINEPATH, as a Z: drive path).

With --os-store it checks instead that a root added to the current user's ROOT store (the
registry, as Windows keeps it) is trusted by a fetch without --cacert, and no longer once it is
removed. That changes the prefix's store while it runs: Meson runs it alone (is_parallel false).

The peer (openssl s_server -WWW over a temporary directory) is started here on 127.0.0.1 and
stopped by its PID, bounded in time. Each run's stdout and stderr go to files (wine's helper
processes keep pipes open). WINEPREFIX and WINEDEBUG come from the caller (./run's windows stage).
"""
import hashlib
import json
import os
import ssl
import struct
import subprocess
import sys
import tempfile

from driver import s_server, stop

wine, exe, certs, dll_dir = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]), sys.argv[4]
os_store = sys.argv[5:] == ["--os-store"]
env = dict(os.environ, WINEPATH="Z:" + os.path.abspath(dll_dir).replace("/", "\\"))
root_ca = os.path.join(certs, "root-ca.pem")
verdict = "Server certificate verification failed - certificate issuer not found in trusted root certificate store"
failures = []


def tlsock(work, *args, seconds=60):
    """Runs tlsock.exe ARGS in work; returns (exit code, stdout bytes, stderr text)."""
    out_path, err_path = os.path.join(work, "stdout"), os.path.join(work, "stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        process = subprocess.Popen([wine, exe] + list(args), cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=err)
        try:
            code = process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            code = None
    with open(out_path, "rb") as out, open(err_path, "rb") as err:
        # stderr is in text mode, as on any Windows console: its lines end in \r\n there.
        return code, out.read(), err.read().decode(errors="replace").replace("\r\n", "\n")


def check(name, condition, detail):
    print(("ok      " if condition else "FAILED  ") + name)
    if not condition:
        print("        " + detail)
        failures.append(name)


def registry(*args):
    """wine reg ARGS; True when it succeeded (its output goes to a file, as every wine run's)."""
    with tempfile.TemporaryFile() as out:
        return subprocess.run([wine, "reg"] + list(args), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                              timeout=60, check=False).returncode == 0


def os_store_main():
    """A root in the ROOT store verifies a chain; the same root removed from it does not."""
    with open(root_ca) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    # The registry form of a certificate store entry: a key named by the certificate's SHA-1,
    # whose Blob is its serialized properties; property 32 (CERT_CERT_PROP_ID) is the DER.
    key = "HKCU\\Software\\Microsoft\\SystemCertificates\\Root\\Certificates\\" + \
        hashlib.sha1(der).hexdigest().upper()
    blob = struct.pack("<III", 32, 1, len(der)) + der
    served = tempfile.mkdtemp(prefix="tlsock-wine-served-")
    work = tempfile.mkdtemp(prefix="tlsock-wine-cli-")
    with open(os.path.join(served, "hello.txt"), "wb") as f:
        f.write(b"hello, world\n")
    port, server = s_server("localhost", mode="-WWW", cwd=served, certs_dir=certs)
    url = "https://localhost:%d/hello.txt" % port
    try:
        code, out, err = tlsock(work, "fetch", url)
        check("the test root is not in the ROOT store: exit 5", code == 5 and err == "tlsock: " + verdict + "\n",
              "exit %s, stderr %r" % (code, err))
        added = registry("add", key, "/v", "Blob", "/t", "REG_BINARY", "/d", blob.hex(), "/f")
        check("the test root added to the current user's ROOT store (registry)", added, "wine reg add failed")
        code, out, err = tlsock(work, "fetch", url)
        check("with the test root in the ROOT store, a fetch without --cacert verifies: exit 0",
              code == 0 and out == b"hello, world\n", "exit %s, stdout %r, stderr %r" % (code, out, err))
        removed = registry("delete", key, "/f")
        check("the test root removed from the ROOT store", removed, "wine reg delete failed")
        code, out, err = tlsock(work, "fetch", url)
        check("removed from the ROOT store, the test root is not trusted any more: exit 5",
              code == 5 and err == "tlsock: " + verdict + "\n", "exit %s, stderr %r" % (code, err))
    finally:
        registry("delete", key, "/f")  # whatever happened above: the prefix keeps no test root
        stop(server)
        for folder in (served, work):
            subprocess.run(["rm", "-rf", folder], check=False)
    print("%d failed" % len(failures))
    return 1 if failures else 0


def main():
    served = tempfile.mkdtemp(prefix="tlsock-wine-served-")
    work = tempfile.mkdtemp(prefix="tlsock-wine-cli-")
    # Bytes a text-mode stdout would change (\n to \r\n, ^Z): a body must arrive exactly.
    binary = bytes(range(256)) * 64 + b"a\nb\r\nc\x1a"
    with open(os.path.join(served, "hello.txt"), "wb") as f:
        f.write(b"hello, world\n")
    with open(os.path.join(served, "binary.bin"), "wb") as f:
        f.write(binary)
    port, server = s_server("localhost", mode="-WWW", cwd=served, certs_dir=certs)
    base = "https://localhost:%d" % port
    try:
        code, out, err = tlsock(work, "fetch", "--cacert", root_ca, base + "/hello.txt")
        check("fetch --cacert: exit 0, the body on stdout", code == 0 and out == b"hello, world\n",
              "exit %s, stdout %r, stderr %r" % (code, out, err))

        code, out, err = tlsock(work, "fetch", "--cacert", root_ca, base + "/binary.bin")
        check("fetch of a binary body to a file stdout: exact bytes", code == 0 and out == binary,
              "exit %s, %d bytes (%d expected), stderr %r" % (code, len(out), len(binary), err))

        target = os.path.join(work, "download.bin")
        with open(target, "wb") as f:
            f.write(b"the older file")
        code, out, err = tlsock(work, "fetch", "--cacert", root_ca, "-o", "download.bin", base + "/binary.bin")
        with open(target, "rb") as f:
            written = f.read()
        left = sorted(os.listdir(work))
        check("fetch -o over an existing file: replaced by the body, no temporary file left",
              code == 0 and written == binary and left == ["download.bin", "stderr", "stdout"],
              "exit %s, %d bytes written, files %r, stderr %r" % (code, len(written), left, err))

        code, out, err = tlsock(work, "fetch", "-o", "missing\\dir\\x.bin", "--cacert", root_ca, base + "/hello.txt")
        check("fetch -o into a directory that does not exist: exit 7", code == 7 and out == b"" and
              err.startswith("tlsock: -o missing\\dir\\x.bin: "), "exit %s, stdout %r, stderr %r" % (code, out, err))

        # No --cacert: the trust roots are Windows' ROOT store (Wine's, from the host's bundle),
        # where the test root is not.
        code, out, err = tlsock(work, "fetch", base + "/hello.txt")
        check("fetch with the OS trust store: exit 5, oscrypto's message", code == 5 and out == b"" and
              err == "tlsock: " + verdict + "\n", "exit %s, stdout %r, stderr %r" % (code, out, err))

        code, out, err = tlsock(work, "probe", "localhost:%d" % port, "--cacert", root_ca, "--json")
        try:
            facts = json.loads(out)
        except ValueError:
            facts = {}
        check("probe --cacert --json: exit 0, verified, the chain",
              code == 0 and facts.get("verified") is True and facts.get("verdict") == "OK" and
              facts.get("connection", {}).get("address") == "127.0.0.1:%d" % port and
              [c.get("subject") for c in facts.get("connection", {}).get("chain", [])] ==
              ["CN=localhost", "CN=tlsock Test Intermediate CA"],
              "exit %s, stdout %r, stderr %r" % (code, out, err))

        code, out, err = tlsock(work, "probe", "localhost:%d" % port, "--json")
        try:
            facts = json.loads(out)
        except ValueError:
            facts = {}
        check("probe with the OS trust store: exit 5, oscrypto's verdict, the chain still shown",
              code == 5 and facts.get("verified") is False and facts.get("verdict") == verdict and
              len(facts.get("connection", {}).get("chain", [])) == 2 and "tlsock: " + verdict + "\n" in err,
              "exit %s, stdout %r, stderr %r" % (code, out, err))

        code, out, err = tlsock(work, "probe", "localhost:%d" % port, "--cacert", root_ca)
        text = out.decode(errors="replace")
        check("probe as text: exit 0, the address, the verdict, the chain",
              code == 0 and "Address:        127.0.0.1:%d\n" % port in text and "Verification:   OK\n" in text and
              "  [0] CN=localhost\n" in text,
              "exit %s, stdout %r, stderr %r" % (code, out, err))

        code, out, err = tlsock(work, "serve")
        check("serve: not available on Windows (exit 1)", code == 1 and err == "tlsock serve: not available on Windows\n",
              "exit %s, stderr %r" % (code, err))
    finally:
        stop(server)
        for folder in (served, work):
            subprocess.run(["rm", "-rf", folder], check=False)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(os_store_main() if os_store else main())
