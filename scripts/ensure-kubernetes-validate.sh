#!/usr/bin/env bash
# Makes sure `kubernetes-validate` (PyPI; it ships the Kubernetes JSON schemas, so
# validation needs no cluster and no network once installed) is in a virtualenv, installing
# it if needed. Prints the command's path on its last line; scripts/test.sh exports it as
# SIMULATE_TEST_KUBERNETES_VALIDATE for tests/it/deploy.rs.
set -euo pipefail

venv="${SIMULATE_KUBE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/simulate/kubernetes-validate}"
# The version the manifests were checked with (its schemas go up to Kubernetes 1.37).
version="1.37.0"
cmd="$venv/bin/kubernetes-validate"

if [ ! -x "$cmd" ]; then
  python=$(command -v python3 || true)
  if [ -z "$python" ]; then
    echo "python3 is missing: install it (apt-get install python3 python3-venv) to validate deploy/kubernetes/" >&2
    exit 1
  fi
  echo "kubernetes-validate is not installed: installing $version into $venv" >&2
  "$python" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet "kubernetes-validate==$version" >&2
fi
echo "$cmd"
