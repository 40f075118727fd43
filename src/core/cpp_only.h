// Included first by every file in src/core: the core is pure C++17 and must
// never see PostgreSQL's headers (their macros and longjmp-based errors do not
// mix with C++ objects). Including postgres.h before a core header fails here.
#pragma once

#if defined(POSTGRES_H)
static_assert(false, "src/core must not include postgres.h; PostgreSQL code belongs in src/pg");
#endif
