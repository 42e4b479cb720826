# Sourced by the set-up scripts: Debian packages, quietly. The caller sets
# apt_log (a file for apt's output) and defines say().

apt_quiet() { # retries once after `apt-get update` (fresh machines have no lists)
    apt-get "$@" >>"$apt_log" 2>&1 && return 0
    apt-get update -qq >>"$apt_log" 2>&1
    apt-get "$@" >>"$apt_log" 2>&1 || { cat "$apt_log" >&2; return 1; }
}

# Installs those of the named packages that are not installed yet.
ensure_packages() {
    local missing="" p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    say "installing$missing"
    apt_quiet install -y -qq --no-install-recommends $missing
}
