#!/usr/bin/env bash
# tlsock fetch against curl: both download the same file (100 MB by default) from the same local
# HTTPS server (`tlsock serve` on 127.0.0.1, the test identity from certs/), verified with the test
# root, written to /dev/null. Prints each one's best time of ROUNDS and the ratio. Not part of
# CI: a measurement on an otherwise idle machine (mbedTLS's crypto speed is the known limit).
#
# usage: tools/bench/fetch_vs_curl.sh [TLSOCK [MEGABYTES [ROUNDS]]]
#        (default: build-36/tools/tlsock, 100, 3). Installs curl with apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

tlsock=${1:-build-36/tools/tlsock}
megabytes=${2:-100}
rounds=${3:-3}
[[ -x $tlsock ]] || { echo "no tlsock binary at $tlsock (build first, or pass its path)" >&2; exit 2; }
if ! command -v curl >/dev/null; then
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq curl >/dev/null
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

head -c "$((megabytes * 1024 * 1024))" /dev/urandom > "$work/big.bin"
# A free port: the kernel picks one for serve (--port 0) and serve prints it on its first line.
"$tlsock" serve --port 0 --cert certs/localhost-chain.pem --key certs/localhost.key "$work" > "$work/serve.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -nE 's|^listening on https://[^ ]*:([0-9]+)/?.*|\1|p' "$work/serve.log" | head -1)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { echo "tlsock serve did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
url="https://localhost:$port/big.bin"

# The best wall-clock time of $rounds runs of "$@", in seconds.
best_of() {
  local best= start end t
  for _ in $(seq "$rounds"); do
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    t=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    if [[ -z $best ]] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
  done
  echo "$best"
}

ours=$(best_of "$tlsock" fetch --no-progress --cacert certs/root-ca.pem -o /dev/null "$url")
theirs=$(best_of curl -sS --fail --cacert certs/root-ca.pem -o /dev/null "$url")
# Both must have fetched it all: check one more run of each by size.
[[ $("$tlsock" fetch --no-progress --cacert certs/root-ca.pem "$url" | wc -c) -eq $((megabytes * 1024 * 1024)) ]]
[[ $(curl -sS --fail --cacert certs/root-ca.pem "$url" | wc -c) -eq $((megabytes * 1024 * 1024)) ]]

rate() { awk -v m="$megabytes" -v t="$1" 'BEGIN { printf "%.1f", m / t }'; }
printf 'fetch %d MB from tlsock serve on 127.0.0.1, best of %d\n' "$megabytes" "$rounds"
printf '  tlsock fetch  %6.2f s  %7s MB/s\n' "$ours" "$(rate "$ours")"
printf '  curl          %6.2f s  %7s MB/s   (%s)\n' "$theirs" "$(rate "$theirs")" "$(curl --version | head -1 | cut -d' ' -f1-2,5-6)"
printf '  ratio tlsock/curl: %.2f (time; above 1: tlsock is slower)\n' "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { print a / b }')"
