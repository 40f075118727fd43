#!/usr/bin/env bash
# Checks that every C++ source compiles warning-free under clang (the build
# itself uses g++): -Wall -Wextra -Werror, PostgreSQL headers as system headers.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"
CLANGXX=$(command -v clang++-14 || command -v clang++)
inc=$("$PG_CONFIG" --includedir-server)
status=0
for f in src/core/*.cpp src/pg/*.cpp test/unit/*.cpp test/fuzz/*.cpp; do
  "$CLANGXX" -std=c++17 -Wall -Wextra -Werror -fsyntax-only -Isrc -isystem "$inc" -DAEGIS_SOURCE_DIR=\"$AEGIS_ROOT\" "$f" || { echo "clang: $f"; status=1; }
done
# The stress client (test/stress, libpq only).
for f in test/stress/*.cpp; do
  "$CLANGXX" -std=c++17 -Wall -Wextra -Werror -fsyntax-only -isystem "$("$PG_CONFIG" --includedir)" "$f" || { echo "clang: $f"; status=1; }
done
exit $status
