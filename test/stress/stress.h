// The subcommands of aegis_stress.
#pragma once

#include "pg_util.h"

namespace stress {

int RunConcurrency(const Args& args);
int RunCrashWriter(const Args& args);
int RunCrashVerify(const Args& args);
int RunLostServer(const Args& args);
bool ServerLost(const SqlError& e, bool remote_loss);

}  // namespace stress
