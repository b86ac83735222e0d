#!/usr/bin/env bash
# Start N app processes (default 4) on ports 8501…, each with `make run`, for deploy/nginx.conf to spread a class
# over. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-4}"
first_port="${FIRST_PORT:-8501}"
make setup  # once, before the processes start side by side
trap 'kill 0' INT TERM EXIT
for ((i = 0; i < count; i++)); do
    make --no-print-directory run PORT=$((first_port + i)) &
done
wait
