#!/bin/sh
# The compose stack's Alertmanager entrypoint (docker-compose.yml): renders the
# shipped alertmanager.yml for this stack, then runs Alertmanager on the result.
#   ALERTMANAGER_SLACK_WEBHOOK_URL      set: written to secrets/slack_webhook_url;
#                                       empty: the "# >>> slack" ... "# <<< slack"
#                                       lines (routes and receivers) are left out
#   ALERTMANAGER_PAGERDUTY_ROUTING_KEY  the same for PagerDuty
# so that a receiver without its secret is no route, rather than an error on every
# notification. The default receiver (webhook -> the alert-log service) needs none.
# Rendered config and secret files (mode 0600) go to $ALERTMANAGER_RENDER_DIR
# (default /alertmanager, the data volume: the image runs as nobody); arguments go
# to Alertmanager. POSIX sh + sed: runs in the busybox-based prom/alertmanager image.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${ALERTMANAGER_RENDER_DIR:-/alertmanager}
umask 077
mkdir -p "$out/secrets"
set -- --config.file="$out/alertmanager.yml" "$@"
keep() {  # keep NAME VALUE FILE: the receiver's secret file, or its marked lines out
  if [ -n "$2" ]; then
    printf '%s\n' "$2" > "$out/secrets/$3"
    echo "compose-start: $1 on"
  else
    rm -f "$out/secrets/$3"
    drop="$drop -e /^[[:space:]]*#.>>>.$1\$/,/^[[:space:]]*#.<<<.$1\$/d"  # "." is the space
    echo "compose-start: $1 off (set its variable in .env to switch it on)"
  fi
}
drop=""
keep slack "${ALERTMANAGER_SLACK_WEBHOOK_URL:-}" slack_webhook_url
keep pagerduty "${ALERTMANAGER_PAGERDUTY_ROUTING_KEY:-}" pagerduty_routing_key
# Secret paths to the rendered ones; the template glob, relative to the shipped
# file's directory, made absolute (the rendered file lives elsewhere).
# shellcheck disable=SC2086 # $drop: sed arguments without spaces or globs
sed $drop -e "s|/etc/alertmanager/secrets/|$out/secrets/|g" \
    -e "s|^  - templates/|  - $here/templates/|" "$here/alertmanager.yml" > "$out/alertmanager.yml.tmp"
mv "$out/alertmanager.yml.tmp" "$out/alertmanager.yml"
exec "${ALERTMANAGER_BIN:-/bin/alertmanager}" "$@"
