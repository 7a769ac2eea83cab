#!/usr/bin/env python3
"""Runs test/windows' peer tests: the Linux side starts the peers on 127.0.0.1 (openssl s_server
and s_client), runs the Windows test binary under wine64 once per tag with their ports in the
environment, and stops every peer by its PID, bounded in time.

    driver.py WINE TEST_EXE CERTS_DIR DLL_DIR

DLL_DIR (libtlsock-0.dll's) joins wine's PATH (WINEPATH, as a Z: drive path).

Wine's output goes to a file, not a pipe (wine's helper processes keep a pipe open), and is
printed afterwards. WINEPREFIX and WINEDEBUG come from the caller (./run's windows stage).
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

if __name__ == "__main__":
    wine, exe, certs, dll_dir = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3], os.path.abspath(sys.argv[4])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, process, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the peer exited with status %d before listening" % process.returncode)
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the peer did not listen on port %d within %d s" % (port, seconds))


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def s_server(name, *extra, mode="-www", cwd=None, certs_dir=None):
    """openssl s_server on 127.0.0.1 with certs/NAME.pem (and the intermediate CA but for
    "untrusted"); mode -WWW serves the files of cwd."""
    certs_dir = certs_dir or certs
    port = free_port()
    chain = [] if name == "untrusted" else ["-cert_chain", os.path.join(certs_dir, "intermediate-ca.pem")]
    process = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                                "-cert", os.path.join(certs_dir, name + ".pem"),
                                "-key", os.path.join(certs_dir, name + ".key")] + chain + ["-quiet", mode] + list(extra),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    wait_listening(port, process)
    return port, process


def run_exe(tag, env, log, seconds=120):
    """The test binary under wine with one Catch2 tag; its output is appended to log."""
    with open(log, "ab") as out:
        process = subprocess.Popen([wine, "./" + os.path.basename(exe), tag],
                                   cwd=os.path.dirname(exe), env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
    return process


def finish(process, seconds=120):
    try:
        return process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        return -1


def s_client_to(port, seconds=30):
    """openssl s_client against the test binary's TLSListener, retried until it listens."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                time.sleep(0.1)
                continue
        # A probe connection that sends nothing: the listener drops it after its handshake
        # timeout, without holding up the s_client that follows (handshakes run concurrently).
        client = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet",
                                   "-verify_return_error", "-CAfile", os.path.join(certs, "root-ca.pem"),
                                   "-servername", "localhost"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            out, _ = client.communicate(b"hello from s_client\n", timeout=30)
        except subprocess.TimeoutExpired:
            client.kill()
            out, _ = client.communicate()
        return client.returncode, out
    return None, b""


def main():
    peers = []
    status = 0
    log = tempfile.NamedTemporaryFile(prefix="tlsock-wine-", suffix=".log", delete=False).name
    try:
        www_port, www = s_server("localhost")
        www12_port, www12 = s_server("localhost", "-tls1_2", "-no_ticket")
        untrusted_port, untrusted = s_server("untrusted")
        peers += [www, www12, untrusted]
        env = dict(os.environ, WINEPATH="Z:" + dll_dir.replace("/", "\\"), TLSOCK_WWW_PORT=str(www_port), TLSOCK_WWW12_PORT=str(www12_port),
                   TLSOCK_UNTRUSTED_PORT=str(untrusted_port), TLSOCK_LISTEN_PORT=str(free_port()))
        if finish(run_exe("[peers]", env, log)) != 0:
            print("FAILED: [peers]")
            status = 1
        listener = run_exe("[listener]", env, log)
        code, out = s_client_to(int(env["TLSOCK_LISTEN_PORT"]))
        if finish(listener) != 0:
            print("FAILED: [listener]")
            status = 1
        if code != 0 or b"hello from tlsock\n" not in out:
            print("FAILED: openssl s_client against the TLSListener: status %s, received %r" % (code, out))
            status = 1
    finally:
        for peer in peers:
            stop(peer)
        with open(log, "rb") as f:
            sys.stdout.write(f.read().decode(errors="replace"))
        os.unlink(log)
    return status


if __name__ == "__main__":
    sys.exit(main())
