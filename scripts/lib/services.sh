# Starting sslab's services on loopback from a script, and stopping every
# one it started (also on error or Ctrl-C). Sourced by scripts/demo,
# scripts/study-fmnist and scripts/chaos; expects BUILD_DIR, VAR and LOGS to
# be set and the caller to `trap stop_all EXIT`.

pids=()
names=()
stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      kill -TERM "${pids[i]}" 2>/dev/null || true
      wait "${pids[i]}" 2>/dev/null || true
      echo "$(basename "$0"): stopped ${names[i]}"
    fi
  done
}

# stop_one PID SIGNAL: signals a service `start` started, waits for it to
# exit and forgets it (stop_all will not signal that pid again).
stop_one() {
  local i
  for i in "${!pids[@]}"; do
    if [ "${pids[i]}" = "$1" ]; then
      kill "-$2" "$1" 2>/dev/null || true
      wait "$1" 2>/dev/null || true
      pids[i]=""
      return 0
    fi
  done
  return 1
}

# start NAME BINARY ARGS...: runs a service in the background, stderr to
# $LOGS/NAME.log, with --port-file $VAR/NAME.port; waits for the port file and
# sets PORT. (Not in $(...): the service must be this shell's child.)
start() {
  local name=$1 bin=$2
  shift 2
  local port_file="$VAR/$name.port"
  rm -f "$port_file"
  "$bin" --port-file "$port_file" "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  local pid=$!
  for _ in $(seq 600); do
    [ -s "$port_file" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$(basename "$0"): $name exited; its log:" >&2
      cat "$LOGS/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  [ -s "$port_file" ] || {
    echo "$(basename "$0"): $name did not start" >&2
    exit 1
  }
  PORT=$(cat "$port_file")
  echo "$(basename "$0"): $name listening on 127.0.0.1:$PORT (log $LOGS/$name.log)"
}

# start_cluster THREADS: the scheduler (database and artifacts under $VAR,
# dashboard on DEMO_HTTP_LISTEN or a free port) and one worker per job kind
# that is built, on the CPU; exports SSLAB_ADDR and sets `workers`.
start_cluster() {
  local threads=$1
  start scheduler "$BUILD_DIR/services/scheduler/sslab-scheduler" \
    --listen 127.0.0.1:0 --db "$VAR/sslab.db" --data-dir "$VAR/artifacts" \
    --http-listen "${DEMO_HTTP_LISTEN:-127.0.0.1:0}" \
    --http-port-file "$VAR/scheduler.http.port"
  export SSLAB_ADDR=127.0.0.1:$PORT
  echo "$(basename "$0"): dashboard at http://127.0.0.1:$(cat "$VAR/scheduler.http.port")/"
  workers=()
  local w bin
  for w in trainer extractor evaluator; do
    bin="$BUILD_DIR/services/$w/sslab-$w"
    if [ -x "$bin" ]; then
      start "$w" "$bin" --listen 127.0.0.1:0 --scheduler "$SSLAB_ADDR" \
        --artifacts "$VAR/artifacts" --devices cpu --threads "$threads"
      workers+=("$w")
    fi
  done
}
