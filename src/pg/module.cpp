// Module entry: _PG_init wires up each subsystem.
#include "pg/write.h"

#include "pg/catalog.h"
#include "pg/engine_stats.h"
#include "pg/guc.h"
#include "pg/maintenance.h"
#include "pg/partitions.h"
#include "pg/store.h"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

// Called once per backend when the library is loaded.
void _PG_init(void) {
  aegis::pg::DefineSettings();
  aegis::pg::KeepFreedMemory();
  aegis::pg::InitSeriesCache();
  aegis::pg::InitPointsBuffer();
  aegis::pg::InitLastPoints();
  aegis::pg::InitPartitionCache();
  aegis::pg::InitMaintenanceWorker();
  aegis::pg::InitEngineStats();
  aegis::pg::InitPointsCopy();
}
