# Sourced by every bench/<name>.sh: the shared preparation, then the caller runs its node script.
#   prepare [--reference] [--wrk] [--debug-build] [--postgres]
# --reference installs the reference packages under aliases in bench/.ref (scripts/reference.sh),
# --wrk installs wrk if missing, the addon is built in release unless --debug-build, and
# --postgres starts the private cluster (stopped when the bench exits).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$REPO_ROOT"

prepare() {
  local reference=0 wrk=0 build=--release postgres=0
  for flag in "$@"; do
    case "$flag" in
      --reference) reference=1 ;;
      --wrk) wrk=1 ;;
      --debug-build) build= ;;
      --postgres) postgres=1 ;;
      *) echo "prepare: unknown flag $flag" >&2; return 2 ;;
    esac
  done
  scripts/setup.sh
  if [ "$wrk" = 1 ] && ! command -v wrk >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
  if [ "$reference" = 1 ]; then scripts/reference.sh bench/.ref; fi
  scripts/build.sh $build >/dev/null
  if [ "$postgres" = 1 ]; then
    trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
    eval "$(scripts/pg.sh up)"
  fi
}
