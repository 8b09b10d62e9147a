#!/bin/sh
# plugin_doc.sh - the example in docs/plugins.md works as written: extracted
# from the page, built out of tree against the INSTALLED header with the
# page's flags, loaded with -P, and its alert is in the EVE output.
. "$(dirname "$0")/lib.sh"

[ -x "$VIGIL" ] || { echo "no $VIGIL: run make first"; exit 1; }
DOC=$ROOT/docs/plugins.md

# The code block between the markers (without the ``` fences).
awk '/<!-- plugin-example: /{on=1; next} /<!-- end plugin-example -->/{on=0} on' "$DOC" |
    sed '/^```/d' >"$TMP/telnet_syn.c"
lines=$(wc -l <"$TMP/telnet_syn.c")
if [ "$lines" -gt 10 ] && [ "$lines" -le 50 ] && grep -q vigil_plugin_entry "$TMP/telnet_syn.c"; then
    pass plugin-doc-extract
else
    fail plugin-doc-extract "$lines lines extracted from $DOC"
fi
# The build line the page shows is the one used here.
if grep -q 'cc $(pkg-config --cflags vigil) -std=c11 -Wall -Wextra -fPIC -fvisibility=hidden' "$DOC"; then
    pass plugin-doc-build-line
else
    fail plugin-doc-build-line "the page's build command changed; update this test"
fi

stage=$TMP/stage
if ! make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$stage" PREFIX=/usr/local \
    >"$TMP/install.log" 2>&1; then
    fail plugin-doc-install "make install failed: $(tail -5 "$TMP/install.log")"
    report
    exit
fi
pc=$stage/usr/local/lib/pkgconfig
cflags=$(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$stage pkg-config --cflags vigil)
case $cflags in
*"$stage"/usr/local/include*) pass plugin-doc-pkg-config ;;
*) fail plugin-doc-pkg-config "cflags '$cflags' do not point at the staged header" ;;
esac
mkdir -p "$TMP/plugins"
chmod 755 "$TMP/plugins"
# shellcheck disable=SC2086
if ${CC:-cc} $cflags -std=c11 -Wall -Wextra -Werror -fPIC -fvisibility=hidden -shared \
    -o "$TMP/plugins/telnet_syn.so" "$TMP/telnet_syn.c" 2>"$TMP/err"; then
    pass plugin-doc-builds
else
    fail plugin-doc-builds "$(head -c 600 "$TMP/err")"
    report
    exit
fi
exported=$(nm -D --defined-only "$TMP/plugins/telnet_syn.so" | awk '{print $3}' | grep -v '^_' |
    tr '\n' ' ')
if [ "$exported" = "vigil_plugin_entry " ]; then
    pass plugin-doc-one-export
else
    fail plugin-doc-one-export "exports: $exported"
fi

V() { "$stage/usr/local/bin/vigil" -P "$TMP/plugins" -R "$stage/usr/local/etc/vigil/rules" "$@"; }
if V --list-plugins >"$TMP/list" 2>"$TMP/err" && grep -q '^telnet_syn *1.0 *ABI' "$TMP/list" &&
    grep -q 'TCP connection attempts to the telnet port' "$TMP/list"; then
    pass plugin-doc-listed
else
    fail plugin-doc-listed "$(cat "$TMP/list" "$TMP/err")"
fi

V -q -r "$PCAPS/scan-syn.pcap" --eve "$TMP/eve.json" 2>"$TMP/err"
rc=$?
n=$(grep -c '"detector":\["telnet_syn"\]' "$TMP/eve.json")
if [ "$rc" -eq 0 ] && [ "$n" -ge 1 ] && grep -q '"dest_port":23,' "$TMP/eve.json" &&
    grep -q '"reason":\["connection attempt to a cleartext login port"\]' "$TMP/eve.json" &&
    [ "$(stat_of "$TMP/eve.json" detect.by_detector.telnet_syn)" -eq "$n" ]; then
    pass plugin-doc-alerts
else
    fail plugin-doc-alerts "rc=$rc alerts=$n: $(head -c 300 "$TMP/err")"
fi
report
