#!/bin/sh
# Install the Debian packages Vigil needs to build and test. Idempotent.
set -eu
PKGS="gcc make pkg-config libpcap-dev libnids-dev libcmocka-dev libjansson-dev \
libssl-dev libhyperscan-dev libpcre2-dev uuid-dev libcurl4-openssl-dev libhiredis-dev redis-server python3-jsonschema nfdump chromium groff-base man-db openssl tcpreplay python3 iproute2 tcpdump valgrind clang libclang-rt-14-dev libcap2-bin"
missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "vigil: missing Debian packages:$missing" >&2
    echo "vigil: run 'sudo make deps' (or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "vigil: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
