#!/bin/sh
# Ignores SIGTERM: only the hard stop (SIGKILL to its process group) ends it.
trap 'echo "stubborn: ignoring SIGTERM" >&2' TERM
touch "$TW_INPUT_WORKDIR/stubborn.ready"
while :; do
  sleep 1
done
