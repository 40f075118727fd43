// aegis_stress: the concurrency and crash-recovery test tiers of
// aegis_timeseries, against a real server (test/server/concurrency.sh and
// test/server/crash.sh run it; docs in those scripts).
//
//   aegis_stress concurrency  --dsn CONNINFO --clients N --seconds S --seed X
//   aegis_stress crash-writer --dsn CONNINFO --log-dir DIR --run R --writers N --seconds S --seed X
//                [--remote-loss 1: a connection failure the server reports (a Citus worker lost) ends a
//                writer as the loss of its own connection does]
//   aegis_stress crash-verify --dsn CONNINFO [--state FILE] LOG...
//   aegis_stress lost-server --sqlstate S --message M [--remote-loss 1]   whether crash-writer counts that
//                error as the loss of its server (exit 0) or not (exit 1)
#include <exception>
#include <iostream>
#include <string>

#include "stress.h"

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    const stress::Args args(argc, argv, 2);
    if (command == "concurrency") return stress::RunConcurrency(args);
    if (command == "crash-writer") return stress::RunCrashWriter(args);
    if (command == "crash-verify") return stress::RunCrashVerify(args);
    if (command == "lost-server") return stress::RunLostServer(args);
  } catch (const std::exception& e) {
    std::cerr << "aegis_stress " << command << ": " << e.what() << std::endl;
    return 2;
  }
  std::cerr << "usage: aegis_stress concurrency|crash-writer|crash-verify|lost-server --dsn CONNINFO ...\n";
  return 2;
}
