// CRC-32C (Castagnoli), the checksum of every stored time-series block.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>

namespace aegis::core {

// CRC-32C of data[0, size): polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial
// value and final XOR 0xFFFFFFFF, the CRC of iSCSI, ext4 and PostgreSQL's
// pg_crc32c; Crc32c("123456789") == 0xE3069283. `crc` is the result of a
// previous call, so Crc32c(b, nb, Crc32c(a, na)) is the CRC of a followed by b.
// Uses SSE4.2's crc32 instruction when the CPU has it, else software.
uint32_t Crc32c(const uint8_t* data, size_t size, uint32_t crc = 0);

// The same CRC, always computed in portable software (for tests).
uint32_t Crc32cPortable(const uint8_t* data, size_t size, uint32_t crc = 0);

}  // namespace aegis::core
