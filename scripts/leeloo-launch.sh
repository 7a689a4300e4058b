#!/bin/sh
# The device service's ExecStart: runs the release that `current` points at, and falls
# back to the previous one when a newly installed release does not reach READY.
#
# The daemon's self-update (device/self-update.ts) unpacks a release into
# $LEELOO_RELEASES_DIR/<version>, writes update.state (candidate, previous, attempts=0)
# and switches `current`. Each start of an unconfirmed candidate counts one attempt; the
# daemon removes update.state once it is READY. A candidate started LEELOO_UPDATE_ATTEMPTS
# times (default 2) without reaching READY (it crashed, or systemd's TimeoutStartSec
# killed it) is given up: `current` goes back to `previous` and the version is noted in
# `rolled-back` for the menu. Without any release, the checkout this script lives in runs.
set -eu
releases="${LEELOO_RELEASES_DIR:-/opt/leeloo/releases}"
base="$(cd "$(dirname "$0")/.." && pwd)"
state="$releases/update.state"
max="${LEELOO_UPDATE_ATTEMPTS:-2}"

field() { sed -n "s/^$1=//p" "$state" | head -n 1; }

if [ -f "$state" ]; then
  candidate="$(field candidate)"
  previous="$(field previous)"
  attempts="$(field attempts)"
  case "$attempts" in '' | *[!0-9]*) attempts=0 ;; esac
  if [ "$attempts" -ge "$max" ]; then
    echo "leeloo-launch: release $candidate did not reach READY in $attempts starts; back to ${previous:-the installed checkout}" >&2
    if [ -n "$previous" ]; then
      ln -sfn "$previous" "$releases/.current-rollback"
      mv -Tf "$releases/.current-rollback" "$releases/current"
    else
      rm -f "$releases/current"
    fi
    printf '%s\n' "$candidate" >"$releases/rolled-back.tmp"
    mv -f "$releases/rolled-back.tmp" "$releases/rolled-back"
    rm -f "$state"
  else
    printf 'candidate=%s\nprevious=%s\nattempts=%s\n' "$candidate" "$previous" "$((attempts + 1))" >"$state.tmp"
    mv -f "$state.tmp" "$state"
  fi
fi

app="$base"
if [ -f "$releases/current/dist/device/main.js" ]; then app="$releases/current"; fi
exec "${LEELOO_NODE:-node}" "$app/dist/device/main.js" "$@"
