#!/bin/sh
# manpage_sync.sh - the manual pages say what the binary does: every option
# of `vigil --help` is in OPTIONS of docs/vigil.8 and every option there is
# in --help (the same for `vigil report --help` and REPORT OPTIONS); every
# descriptor member and host service of vigil/plugin.h is in
# docs/vigil-plugin.3; both pages render without warnings.
. "$(dirname "$0")/lib.sh"

[ -x "$VIGIL" ] || { echo "no $VIGIL: run make first"; exit 1; }
MAN8=$ROOT/docs/vigil.8
MAN3=$ROOT/docs/vigil-plugin.3

# Options of a --help text: the first column of lines indented by two.
help_opts() {
    grep -E '^  +-' | sed -E 's/^ +//; s/  .*//' | tr ',' '\n' |
        awk '{print $1}' | grep -E '^-' | sort -u
}

# Options of the .TP items of one section (to the next .SH) of a page.
man_opts() { # file section
    awk -v sec="$2" '
        /^\.SH/ { on = ($0 == ".SH " sec || $0 == ".SH \"" sec "\""); next }
        on && /^\.TP/ { item = 1; next }
        on && item && /^\.B/ {
            line = $0
            gsub(/\\-/, "-", line); gsub(/"/, " ", line)
            n = split(line, w, /[ \t]+/)
            for (i = 2; i <= n; i++)
                if (w[i] ~ /^--?[A-Za-z][A-Za-z-]*$/) print w[i]
            item = 0; next
        }
        { item = 0 }' "$1" | sort -u
}

compare() { # name help-list man-list
    missing=$(comm -23 "$2" "$3" | tr '\n' ' ')
    extra=$(comm -13 "$2" "$3" | tr '\n' ' ')
    if [ -z "$missing$extra" ] && [ -s "$2" ]; then
        pass "$1"
    else
        fail "$1" "in --help only: ${missing:-none}; in the page only: ${extra:-none}"
    fi
}

"$VIGIL" --help | help_opts >"$TMP/help"
man_opts "$MAN8" OPTIONS >"$TMP/man"
compare manpage-options-match "$TMP/help" "$TMP/man"
"$VIGIL" report --help | help_opts >"$TMP/rhelp"
man_opts "$MAN8" "REPORT OPTIONS" >"$TMP/rman"
compare manpage-report-options-match "$TMP/rhelp" "$TMP/rman"

for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" FILES EXAMPLES "SEE ALSO"; do
    grep -q "^\.SH \"*$sec\"*\$" "$MAN8" || fail "manpage-section-$sec" "no .SH $sec in vigil.8"
done
pass manpage-sections-checked

# Exit codes: every status --help names is in EXIT STATUS.
codes=$("$VIGIL" --help | sed -n 's/.*Exit status: //p; s/^error; \(2\) .*/\1/p' |
    grep -oE '(^|; )[0-9]' | grep -oE '[0-9]' | tr '\n' ' ')
ok=1
for c in $codes; do
    awk '/^\.SH EXIT STATUS/{on=1;next} /^\.SH/{on=0} on' "$MAN8" | grep -q "^\.B $c\$" || ok=0
done
if [ "$ok" -eq 1 ] && [ -n "$codes" ]; then pass manpage-exit-codes; else
    fail manpage-exit-codes "codes in --help: '$codes'"; fi

# The plugin page covers every member of the descriptor and the services.
hdr=$ROOT/include/vigil/plugin.h
members=$(awk '/^typedef struct vigil_host_api/,/^} vigil_host_api;/' "$hdr" |
    grep -oE '\(\*[a-z_]+\)' | tr -d '(*)'
    awk '/^typedef struct vigil_plugin \{/,/^} vigil_plugin;/' "$hdr" |
    grep -oE '\(\*[a-z_]+\)|\*(name|version|description);' | tr -d '(*);')
missing=
for m in $members; do
    sed 's/\\-/-/g' "$MAN3" | grep -q -w -- "$m" || missing="$missing $m"
done
if [ -z "$missing" ] && [ -n "$members" ]; then
    pass plugin-manpage-covers-abi
else
    fail plugin-manpage-covers-abi "not in vigil-plugin.3:$missing"
fi
major=$(sed -n 's/^#define VIGIL_ABI_MAJOR //p' "$hdr")
for m in VIGIL_ABI_MAJOR VIGIL_ABI_MINOR VIGIL_PLUGIN_HEADER vigil_plugin_entry; do
    grep -q "$m" "$MAN3" || missing="$missing $m"
done
[ -z "$missing" ] && [ -n "$major" ] && pass plugin-manpage-versioning ||
    fail plugin-manpage-versioning "missing:$missing"

# Rendering: no groff warnings, and man(1) reads them.
if command -v groff >/dev/null 2>&1; then
    for p in "$MAN8" "$MAN3"; do
        groff -man -Tutf8 -ww -z "$p" >"$TMP/groff.err" 2>&1
        if [ ! -s "$TMP/groff.err" ]; then pass "manpage-renders-$(basename "$p")"; else
            fail "manpage-renders-$(basename "$p")" "$(head -c 400 "$TMP/groff.err")"; fi
    done
else
    skip manpage-renders "groff is not installed"
fi
if command -v man >/dev/null 2>&1; then
    if MANWIDTH=80 man -l "$MAN8" 2>"$TMP/man.err" | grep -q 'network traffic anomaly sensor' &&
        [ ! -s "$TMP/man.err" ]; then
        pass manpage-man-l
    else
        fail manpage-man-l "$(head -c 300 "$TMP/man.err")"
    fi
else
    skip manpage-man-l "man is not installed"
fi
report
