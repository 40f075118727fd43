// The subcommands of aegis_stress.
#pragma once

#include "pg_util.h"

namespace stress {

int RunConcurrency(const Args& args);
int RunCrashWriter(const Args& args);
int RunCrashVerify(const Args& args);

}  // namespace stress
