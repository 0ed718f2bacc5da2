# Shared set-up for scripts/demo, scripts/test and scripts/package (sourced, not run): the Swift
# toolchain on PATH, and what Debian packages or Python modules are missing installed — quietly,
# and only when something is missing.

# swift from /opt/swift when it is not on PATH already.
lvs_swift_on_path() {
    command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
    command -v swift >/dev/null 2>&1 || { echo "$LVS_SCRIPT: needs the Swift toolchain (swift not on PATH, nor in /opt/swift/usr/bin)" >&2; exit 1; }
}

# The package names in FILE... (comments and blank lines dropped).
lvs_package_list() { sed -e 's/#.*//' "$@" | tr -s ' \t\n' '\n' | grep -v '^$' | sort -u; }

# Installs the Debian packages named in FILE... that are not installed. As root on Debian it
# runs apt-get (quiet); elsewhere it names what is missing and stops.
lvs_ensure_packages() {
    local missing=()
    local p
    # Not Debian: nothing to check with; the tools' own errors will say what is missing.
    command -v dpkg-query >/dev/null 2>&1 || return 0
    for p in $(lvs_package_list "$@"); do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "$LVS_SCRIPT: missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "$LVS_SCRIPT: installing missing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    local log
    log="$(mktemp /tmp/swiftlvs-apt.XXXXXX)"
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        echo "$LVS_SCRIPT: apt-get could not install: ${missing[*]}" >&2
        exit 1
    fi
    rm -f "$log"
}

# Installs Python modules that do not import: "module:pip-package" arguments.
lvs_ensure_python_modules() {
    local missing=()
    local m
    for m in "$@"; do
        python3 -c "import ${m%%:*}" 2>/dev/null || missing+=("${m#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "$LVS_SCRIPT: installing missing Python modules: ${missing[*]}" >&2
    # Debian's own python3 is "externally managed"; the modules are for the tests only.
    if ! PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}"; then
        echo "$LVS_SCRIPT: pip could not install: ${missing[*]}" >&2
        exit 1
    fi
}
