#!/usr/bin/env bash
# The main job: installs what is missing, builds (Release) and runs the attention tour.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
exec "$root/build/attend" tour "$@"
