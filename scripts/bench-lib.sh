# Sourced by the bench scripts (bench-replay.sh, bench-template.sh):
#   need COMMAND PACKAGE                         installs a Debian package when COMMAND is missing
#   nginx_start DIR PORT WORKERS CONNECTIONS     an nginx on loopback answering `200 ok` to
#                                                every request; its files in DIR (WORKERS: a number or auto)
#   nginx_stop DIR                               safe to call when it never started
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
  local dir=$1 port=$2 workers=$3 conns=$4
  cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections $conns; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $dir;
  server { listen 127.0.0.1:$port; location / { return 200 "ok"; } }
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
