# Shared by the load scripts (sourced, not run).

# Waits until something listens on 127.0.0.1:$1 (30 s at most).
wait_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listening on port $1" >&2
  return 1
}
