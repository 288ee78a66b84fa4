#!/usr/bin/env bash
# Installs the command-line tools and C libraries the workflow calls:
#   rubberband (time stretching, via pyrubberband) and FluidSynth (rendering the demo audio).
# With LOOPGEN_BROWSER=1 (CI sets it) also Debian's chromium, which the report page test drives
# through Python playwright (playwright's own browser download does not work offline).
# Uses apt-get when a tool is missing and we are root; otherwise says which conda file has them.
set -euo pipefail

missing=()
command -v rubberband >/dev/null 2>&1 || missing+=(rubberband-cli)
ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so' || missing+=(libfluidsynth3)
if [ "${LOOPGEN_BROWSER:-0}" = 1 ]; then command -v chromium >/dev/null 2>&1 || missing+=(chromium); fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "error: missing ${missing[*]}; install them (as root: apt-get install ${missing[*]}) or use the conda environment in envs/loopgen.yaml (conda env create -f envs/loopgen.yaml)." >&2
    exit 1
fi
