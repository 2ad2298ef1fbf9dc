#!/bin/sh
# Succeeds: reads a flat input field from the environment and prints its result as JSON.
echo "greeting $TW_INPUT_NAME" >&2
printf '{"greeting":"hello, %s","task":"%s"}\n' "$TW_INPUT_NAME" "$TW_TASK_NAME"
