# Sourced by the bench scripts (bench-replay.sh, bench-template.sh):
#   need COMMAND PACKAGE                         installs a Debian package when COMMAND is missing
#   nginx_start DIR PORT WORKERS CONNECTIONS [BODY]  an nginx on loopback answering `200 ok`
#                                                (or 200 BODY, as JSON) to every request; its
#                                                files in DIR (WORKERS: a number or auto)
#   nginx_stop DIR                               safe to call when it never started
#   make_log RATE SECS FILE                      a log of RATE stat.updated events a second
#                                                for SECS seconds, users cycling through 50,000 ids
#   unjudged BIN                                 `--no-default-threshold` when BIN has it: a
#                                                bench measures, and an overloaded step that
#                                                fails the default errors<5% must not stop it

need() {
  if ! command -v "$1" >/dev/null; then
    echo "installing $2 (Debian)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get install -y "$2" >/dev/null 2>&1 || { $sudo apt-get update >/dev/null && $sudo apt-get install -y "$2" >/dev/null; }
  fi
}

nginx_start() {
  local dir=$1 port=$2 workers=$3 conns=$4 body=${5:-}
  local answer='return 200 "ok";'
  [ -n "$body" ] && answer="default_type application/json; return 200 '$body';"
  cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections $conns; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $dir;
  server { listen 127.0.0.1:$port; location / { $answer } }
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir"
}

nginx_stop() {
  if [ -f "$1/nginx.pid" ]; then
    nginx -c "$1/nginx.conf" -p "$1" -s stop 2>/dev/null || true
  fi
}

unjudged() {
  if "$1" replay --help | grep -q -- --no-default-threshold; then echo --no-default-threshold; fi
}

make_log() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
rate, secs, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n = rate * secs
with open(path, "w") as f:
    for i in range(n):
        t = i * 1000 // rate
        u = i % 50000
        f.write('{"v":1,"ts":"2026-01-05T00:00:00.000Z","t_ms":%d,"user_id":"u%d","persona":"gamer","session_id":"s%d-1","seq":%d,"event":"stat.updated","props":{"statCode":"enemy_kills","value":%d,"delta":1}}\n' % (t, u, u, i // 50000, i))
PY
}

# flow_mappings DIR: the two mappings the flows benches compare (DIR/plain.toml, and
# DIR/flow.toml: the same request with two checks and a capture).
flow_mappings() {
  cat > "$1/plain.toml" <<'TOML'
[[request]]
event = "stat.updated"
path = "/v1/events/{event}"
body = "{line}"
TOML
  cat > "$1/flow.toml" <<'TOML'
[[request]]
event = "stat.updated"
path = "/v1/events/{event}"
body = "{line}"
check = [{ field = "ok", equals = true }, { field = "data.status", one_of = ["accepted", "duplicate"] }]
capture = [{ into = "vars.last", field = "data.id" }]
TOML
}
