#!/bin/sh
# Long work that cancels gracefully: the TERM trap is its cancel hook. It removes its partial
# output, then reports why it stopped as a structured error (the last stdout line).
partial="$TW_INPUT_WORKDIR/partial.csv"
trap 'rm -f "$partial"
echo "{\"error\":{\"name\":\"AbortError\",\"message\":\"stopped on SIGTERM; partial output removed\",\"code\":\"E_ABORTED\"}}"
exit 143' TERM
echo "id,value" >"$partial" # the trap is set first, so its existence means "ready to be cancelled"
sleep 60 &
wait $!
