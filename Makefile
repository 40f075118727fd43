# Aegis Time Series for PostgreSQL.
#
#   make demo    install what is missing, build, install, start a private
#                cluster, load sample data and show example queries
#   make test    the same set-up, then every test tier, ending with one
#                "N passed, N failed" line
#   make bench   storage and query benchmarks against a plain table
#   make stress  long crash-recovery, concurrency and fuzzing runs (about an hour)
#
# The module is built with PGXS; the C++17 core (src/core) is compiled into it
# and linked with libstdc++. CMakeLists.txt builds the same core for the unit
# tests, fuzzers and micro-benchmarks.

EXTENSION  = aegis_timeseries
EXTVERSION = 0.2.0
MODULE_big = aegis_timeseries

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
PG_SRCS   = $(sort $(wildcard src/pg/*.cpp))
OBJS      = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# The current version's install script is generated from the editable pieces
# in src/sql; released versions' install scripts and the upgrade scripts are
# kept, frozen, in src/sql/versions (see its README).
SQL_PIECES = $(sort $(wildcard src/sql/*.sql))
DATA       = $(sort $(wildcard src/sql/versions/$(EXTENSION)--*.sql))
# The upgrade from the last release: its hand-written part (src/sql/updates),
# then the pieces that are new since (run as they are).
PIECES_NEW_IN_0.2.0 = src/sql/30_maintenance.sql src/sql/31_delete.sql src/sql/32_partitions.sql \
                      src/sql/33_retention.sql src/sql/34_rollup.sql src/sql/35_queries.sql \
                      src/sql/36_points.sql src/sql/37_engine_stats.sql src/sql/38_time_bucket.sql \
                      src/sql/39_load.sql src/sql/40_gapfill.sql src/sql/41_metadata.sql \
                      src/sql/42_distribute.sql src/sql/43_packed.sql
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--0.1.0--0.2.0.sql

SHLIB_LINK = -lstdc++

# pg_regress: one file per feature in sql/, expected output in expected/.
REGRESS      = $(shell cat test/schedule 2>/dev/null)
REGRESS_OPTS = --inputdir=. --outputdir=build/regress --dbname=aegis_regress

PG_CONFIG ?= $(shell command -v pg_config 2>/dev/null || echo /usr/lib/postgresql/15/bin/pg_config)
# No LLVM bitcode for JIT inlining: the module is C++ and gains nothing from it.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
  $(warning pg_config not found or PGXS missing: run 'make deps' first)
else
include $(PGXS)
endif

# C++17, warning-free. PostgreSQL's headers are included as system headers so
# their own constructs do not trip -Wextra under C++.
override CPPFLAGS := -Isrc $(patsubst -I%,-isystem %,$(CPPFLAGS))
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -fno-omit-frame-pointer -MMD -MP
ifneq (,$(findstring clang,$(CXX)))
  # PGXS passes g++-only warning flags; clang gets its own set.
  override CXXFLAGS := -O2 -g -fno-strict-aliasing -fwrapv $(PG_CXXFLAGS)
else
  override CXXFLAGS := $(CXXFLAGS) $(PG_CXXFLAGS)
endif

# Header dependencies written by -MMD beside each object.
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d) build/gateway

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PIECES) Makefile
	cat $(SQL_PIECES) > $@

$(EXTENSION)--0.1.0--0.2.0.sql: src/sql/updates/0.1.0--0.2.0.sql $(PIECES_NEW_IN_0.2.0) \
                                src/sql/updates/0.1.0--0.2.0-after.sql Makefile
	cat src/sql/updates/0.1.0--0.2.0.sql $(PIECES_NEW_IN_0.2.0) src/sql/updates/0.1.0--0.2.0-after.sql > $@

# aegis-gateway (src/gateway): a client program, installed beside PostgreSQL's
# own (pg_config --bindir). libpq, cpp-httplib, protobuf and snappy from Debian.
GATEWAY      = build/gateway/aegis-gateway
GATEWAY_SRCS = $(sort $(wildcard src/gateway/*.cpp))
GATEWAY_OBJS = $(patsubst src/gateway/%.cpp,build/gateway/%.o,$(GATEWAY_SRCS)) build/gateway/remote.pb.o \
               build/gateway/core_write_request.o
GATEWAY_CXXFLAGS = -std=c++17 -O2 -g -Wall -Wextra -Werror -MMD -MP -Isrc -Ibuild/gateway \
                   -isystem $(shell $(PG_CONFIG) --includedir) $(shell pkg-config --cflags cpp-httplib protobuf)
GATEWAY_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq $(shell pkg-config --libs cpp-httplib protobuf) -lsnappy -pthread

all: $(GATEWAY)
build/gateway/remote.pb.cc build/gateway/remote.pb.h: src/gateway/remote.proto
	@mkdir -p build/gateway
	protoc --proto_path=src/gateway --cpp_out=build/gateway $<
# Generated code: compiled without -Werror (protoc's output is not ours).
build/gateway/remote.pb.o: build/gateway/remote.pb.cc
	$(CXX) -std=c++17 -O2 -g -Ibuild/gateway $(shell pkg-config --cflags protobuf) -c -o $@ $<
build/gateway/%.o: src/gateway/%.cpp build/gateway/remote.pb.h
	@mkdir -p build/gateway
	$(CXX) $(GATEWAY_CXXFLAGS) -c -o $@ $<
# The request format the server parses (src/core/write_request.h), built into
# the gateway from the same source.
build/gateway/core_write_request.o: src/core/write_request.cpp
	@mkdir -p build/gateway
	$(CXX) $(GATEWAY_CXXFLAGS) -c -o $@ $<
$(GATEWAY): $(GATEWAY_OBJS)
	$(CXX) -o $@ $^ $(GATEWAY_LIBS)
-include $(GATEWAY_OBJS:.o=.d)
# make bench's remote-write load generator (bench/gateway), not installed.
build/gateway/remote_write_bench: bench/gateway/remote_write_bench.cpp build/gateway/remote.pb.o
	$(CXX) $(GATEWAY_CXXFLAGS) -o $@ $^ $(GATEWAY_LIBS)
install: install-gateway
.PHONY: install-gateway
install-gateway: $(GATEWAY)
	$(INSTALL_PROGRAM) $(GATEWAY) '$(DESTDIR)$(bindir)/aegis-gateway'
uninstall: uninstall-gateway
.PHONY: uninstall-gateway
uninstall-gateway:
	rm -f '$(DESTDIR)$(bindir)/aegis-gateway'

.PHONY: deps demo test bench stress unit format cluster-start cluster-stop
deps:
	scripts/deps.sh
demo:
	scripts/demo.sh
test:
	scripts/test.sh
bench:
	scripts/bench.sh
stress:
	scripts/stress.sh
unit:
	scripts/unit.sh
cluster-start:
	scripts/cluster.sh start
cluster-stop:
	scripts/cluster.sh stop
format:
	clang-format -i src/core/*.h src/core/*.cpp src/pg/*.h src/pg/*.cpp test/unit/*.cpp
