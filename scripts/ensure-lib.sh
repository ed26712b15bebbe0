# Shared by scripts/ensure-*.sh (sourced): find a program among candidate paths, else
# install it from Debian's packages and look again. Prints the path on its last line.
#   ensure_debian_program WHAT "PKG [PKG…]" CANDIDATE…
ensure_debian_program() {
  local what=$1 packages=$2
  shift 2
  local candidates=("$@")
  find_program() {
    for b in "${candidates[@]}"; do
      if [ -n "$b" ] && [ -x "$b" ]; then
        echo "$b"
        return 0
      fi
    done
    return 1
  }
  local found
  if ! found=$(find_program); then
    echo "$what is not installed: installing it from Debian's packages ($packages)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # shellcheck disable=SC2086 # the package list is words on purpose
    apt-get install -y -qq --no-install-recommends $packages >&2
    found=$(find_program) || {
      echo "$what is still missing after apt-get install $packages" >&2
      exit 1
    }
  fi
  echo "$found"
}
