#!/usr/bin/env python3
"""Independent decoder of aegis_timeseries blocks, written from docs/block-format.md alone.

Python 3 standard library only. `decode_block(data)` returns (timestamps, values): the timestamps as signed
int64 numbers (microseconds since 2000-01-01 UTC), the values as uint64 bit patterns of the doubles, both in
stored order. Any broken rule raises BlockError, whose `message` is the one of section 4's table and whose
`detail` says which rule.

Command line:
    decode_block.py HEX            decode one block given in hex, print "ts<TAB>value-bits" lines
    decode_block.py --help         print this text
    decode_block.py --selftest     check CRC-32C, the worked examples of 5.6, 6.4.1 and 6.7, the decimal-rice
                                   scheme's codes and corruption rules, and the binary32/binary64 rounding and
                                   fma against the platform
"""

import struct
import sys
from fractions import Fraction

MASK64 = (1 << 64) - 1


class BlockError(Exception):
    """A block that breaks a rule of section 4 (the message) or 6.9 (the detail)."""

    def __init__(self, message, detail=""):
        super().__init__(message + (": " + detail if detail else ""))
        self.message = message
        self.detail = detail


TRUNCATED = "truncated time-series block"
BAD_HEADER = "corrupt time-series block header"
BAD_PAYLOAD = "corrupt time-series block payload"


def signed64(u):
    return u - (1 << 64) if u & (1 << 63) else u


# ---------------------------------------------------------------------------------------------------------
# Section 3: CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF.
# ---------------------------------------------------------------------------------------------------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def block_checksum(block):
    """Section 3: header bytes 0-11 then the payload (bytes 16..), as one message."""
    return crc32c(block[16:], crc32c(block[:12]))


# ---------------------------------------------------------------------------------------------------------
# Sections 2 and 4: header layout and validation checks 1-10, in the document's order.
# ---------------------------------------------------------------------------------------------------------

MAX_POINTS = 1_000_000


def read_header(block):
    """Checks 1-10. Returns (codec, n, payload)."""
    size = len(block)
    if size == 0:                                                                   # check 1
        raise BlockError(TRUNCATED, "empty block")
    if block[0] != 1:                                                               # check 2
        raise BlockError("unsupported time-series block format version %d" % block[0], "this reader reads 1")
    if size >= 2 and block[1] not in (1, 2):                                        # check 3
        raise BlockError("unknown time-series block codec %d" % block[1])
    if size < 16:                                                                   # check 4
        raise BlockError(TRUNCATED, "%d bytes, header needs 16" % size)
    if block[2] != 0 or block[3] != 0:                                              # check 5
        raise BlockError(BAD_HEADER, "reserved bytes 2-3 not zero")
    codec = block[1]
    n, p, stored_crc = struct.unpack_from("<III", block, 4)
    if n == 0 or n > MAX_POINTS:                                                    # check 6
        raise BlockError(BAD_HEADER, "point count %d" % n)
    if size < 16 + p:                                                               # check 7
        raise BlockError(TRUNCATED, "%d bytes, header says %d" % (size, 16 + p))
    if size > 16 + p:                                                               # check 8
        raise BlockError("trailing bytes after time-series block", "%d bytes, header says %d" % (size, 16 + p))
    if codec == 1 and 8 * p < 128 + 2 * (n - 1):                                    # check 9, codec 1 (5.4)
        raise BlockError(BAD_HEADER, "payload of %d bytes cannot hold %d points" % (p, n))
    if codec == 2 and p < 10:                                                       # check 9, codec 2
        raise BlockError(BAD_HEADER, "codec 2 payload of %d bytes" % p)
    computed = block_checksum(block)
    if computed != stored_crc:                                                      # check 10
        raise BlockError("time-series block checksum mismatch",
                         "stored 0x%08X, computed 0x%08X" % (stored_crc, computed))
    return codec, n, bytes(block[16:16 + p])


def decode_block(block, trace=None):
    """Decodes a whole block (sections 2-6). Returns (timestamps as signed int64, values as uint64 patterns).
    When `trace` is a list, codec 2 appends ("column", depth, scheme id) for every value column it reads
    (("column", depth, 2, flags, e) for a decimal one, ("column", depth, 7, flags, e) for a decimal-rice one),
    ("packed", m, w, k) for every PACKED(m) and ("rice", m, k, x, L) for every RICE(m)."""
    block = bytes(block)
    codec, n, payload = read_header(block)
    if codec == 1:
        ts, vals = decode_codec1(payload, n)
    else:
        ts, vals = decode_codec2(payload, n, trace)
    return [signed64(t) for t in ts], vals


def make_block(codec, n, payload):
    """Builds a valid header (section 2, CRC of section 3) around a payload; used by tests to craft blocks."""
    head = struct.pack("<BBBBII", 1, codec, 0, 0, n, len(payload))
    return head + struct.pack("<I", crc32c(payload, crc32c(head))) + payload


# ---------------------------------------------------------------------------------------------------------
# Section 1: the payload bit stream, most significant bit first (codec 1 and codec 2's XOR scheme).
# ---------------------------------------------------------------------------------------------------------

class BitReader:
    def __init__(self, data, what):
        self.data = data
        self.pos = 0            # in bits
        self.nbits = 8 * len(data)
        self.what = what

    def read(self, width):
        if width == 0:
            return 0
        end = self.pos + width
        if end > self.nbits:                                                        # check 11 / 6.9
            raise BlockError(BAD_PAYLOAD, "%s ends before its last value" % self.what)
        first, last = self.pos >> 3, (end + 7) >> 3
        word = int.from_bytes(self.data[first:last], "big")
        self.pos = end
        return (word >> (8 * last - end)) & ((1 << width) - 1)

    def finish(self):
        """5.5 / 6.5: fewer than 8 bits may remain, and all of them are 0 (checks 13 and 14)."""
        rest = self.nbits - self.pos
        if rest >= 8:
            raise BlockError(BAD_PAYLOAD, "%s: %d bits remain after the last value" % (self.what, rest))
        if rest and self.read(rest) != 0:
            raise BlockError(BAD_PAYLOAD, "%s: a padding bit is 1" % self.what)


# ---------------------------------------------------------------------------------------------------------
# Section 5: codec 1 (Gorilla v1).
# ---------------------------------------------------------------------------------------------------------

def zigzag(d):
    """5.1, on a 64-bit pattern."""
    return ((d << 1) & MASK64) ^ (MASK64 if d >> 63 else 0)


def unzigzag(z):
    """5.1, on a 64-bit pattern; >> is logical."""
    return (z >> 1) ^ (MASK64 if z & 1 else 0)


# 5.2: buckets 1-4 (prefix 10, 110, 1110, 11110): field width and the lowest z.
_DOD_WIDTH = (0, 8, 16, 24, 40)
_DOD_BASE = (0, 1, 257, 65793, 16843009)


def decode_codec1_timestamps(bits, n):
    """5.2: t[0] raw, then n - 1 delta-of-delta records; everything modulo 2^64."""
    t = bits.read(64)
    out = [t]
    delta = 0
    for _ in range(1, n):
        k = 0
        while k < 5 and bits.read(1) == 1:                  # unary prefix, at most five 1 bits
            k += 1
        if k == 0:
            z = 0
        elif k == 5:
            z = bits.read(64)                               # escape: z itself
        else:
            z = _DOD_BASE[k] + bits.read(_DOD_WIDTH[k])
        delta = (delta + unzigzag(z)) & MASK64
        t = (t + delta) & MASK64
        out.append(t)
    return out


def decode_xor_values(bits, m):
    """5.3: first pattern raw, then one XOR record per value with a (leading, length) window."""
    prev = bits.read(64)
    out = [prev]
    leading, length = 0, 64
    for _ in range(1, m):
        if bits.read(1) == 0:                               # '0': repeat
            out.append(prev)
            continue
        if bits.read(1) == 1:                               # '11': new window, 6-bit field holds length - 1
            leading = bits.read(5)
            length = bits.read(6) + 1
            if leading + length > 64:                       # check 12
                raise BlockError(BAD_PAYLOAD, "XOR window with leading %d + length %d > 64" % (leading, length))
        prev ^= bits.read(length) << (64 - leading - length)
        out.append(prev)
    return out


def decode_codec1(payload, n):
    """5: one bit stream: timestamps, values, then 0-7 zero bits (5.5)."""
    bits = BitReader(payload, "codec 1 bit stream")
    ts = decode_codec1_timestamps(bits, n)
    vals = decode_xor_values(bits, n)
    bits.finish()                                           # checks 13, 14
    return ts, vals


# ---------------------------------------------------------------------------------------------------------
# Section 6: codec 2 (adaptive). Byte-aligned little-endian fields.
# ---------------------------------------------------------------------------------------------------------

def corrupt(detail):
    return BlockError(BAD_PAYLOAD, detail)


class ByteReader:
    def __init__(self, data, trace=None):
        self.data = data
        self.pos = 0
        self.trace = trace

    def take(self, size, what):
        end = self.pos + size
        if end > len(self.data):                                                    # 6.9: runs past the end
            raise corrupt("%s runs past the end of the payload" % what)
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def u8(self, what):
        return self.take(1, what)[0]

    def u16(self, what):
        return struct.unpack("<H", self.take(2, what))[0]

    def u32(self, what):
        return struct.unpack("<I", self.take(4, what))[0]

    def u64(self, what):
        return struct.unpack("<Q", self.take(8, what))[0]


def unpack_fields(packed, m, w):
    """6.1 packing: field i of m is bits i*w .. i*w+w-1 of the little-endian number the bytes form (bit i*w
    being its least significant bit); unused high bits of the last byte are ignored. Eight fields take exactly
    w bytes, so the bytes are read eight fields at a time."""
    if w == 0:
        return [0] * m
    mask = (1 << w) - 1
    frombytes = int.from_bytes
    out = []
    for group in range(0, m, 8):
        first = (group >> 3) * w                            # byte where field `group` starts
        word = frombytes(packed[first:first + w], "little")
        out.extend((word >> (j * w)) & mask for j in range(min(8, m - group)))
    return out


def read_exceptions(r, m, count, what):
    """The exception fields of 6.1 (and of RICE(m), 6.4.1): `count` positions, u16 when m <= 65,536 else u32,
    strictly rising and each < m, then `count` u64 values in the same order. Returns [(position, value)]."""
    pos_size, pos_fmt = (2, "<%dH") if m <= 65536 else (4, "<%dI")
    positions = struct.unpack(pos_fmt % count, r.take(pos_size * count, what + " exception positions"))
    values = struct.unpack("<%dQ" % count, r.take(8 * count, what + " exception values"))
    previous = -1
    for pos in positions:
        if pos <= previous or pos >= m:
            raise corrupt("%s: exception positions not strictly rising or >= m" % what)
        previous = pos
    return list(zip(positions, values))


def read_packed(r, m, what):
    """6.1 PACKED(m): u8 w, u64 base, u32 k, the m w-bit offsets LSB first, k positions, k values."""
    w = r.u8(what + " width")
    if w > 64:
        raise corrupt("%s: w = %d > 64" % (what, w))
    base = r.u64(what + " base")
    k = r.u32(what + " exception count")
    if k > m:
        raise corrupt("%s: k = %d > m = %d" % (what, k, m))
    if r.trace is not None:
        r.trace.append(("packed", m, w, k))
    offsets = unpack_fields(r.take((m * w + 7) // 8, what + " offsets"), m, w)
    exceptions = read_exceptions(r, m, k, what)
    out = [(base + off) & MASK64 for off in offsets]
    for pos, val in exceptions:
        out[pos] = val                                      # the slot's offset is ignored
    return out


def read_rice(r, m, what):
    """6.4.1 RICE(m): u8 k (0..63); u32 x exceptions (0..m); the m k-bit low parts packed as in 6.1; u32 L and
    L bytes of quotients, each q zero bits then a one bit, in 6.1's bit order (bit 0 of byte 0 first), exactly
    m one bits with the last of them in the last byte; x exception positions and x u64 values as in 6.1.
    Integer i is q[i]*2^k + low[i] mod 2^64, or at an exception position the exception value (the slot's low
    part and quotient are ignored)."""
    k = r.u8(what + " k")
    if k > 63:
        raise corrupt("%s: Rice k = %d > 63" % (what, k))
    x = r.u32(what + " exception count")
    if x > m:
        raise corrupt("%s: %d Rice exceptions for m = %d" % (what, x, m))
    lows = unpack_fields(r.take((m * k + 7) // 8, what + " low parts"), m, k)
    length = r.u32(what + " quotient stream length")
    stream = r.take(length, what + " quotient stream")     # 6.9: L must not run past the payload
    if r.trace is not None:
        r.trace.append(("rice", m, k, x, length))
    # The stream as a string of 8L bits, bit 0 (of byte 0) first. Cut at its one bits, it falls into the zero
    # runs before each one bit, which are the quotients, and the zero bits after the last one bit.
    bits = format(int.from_bytes(stream, "little"), "0%db" % (8 * length))[::-1] if length else ""
    runs = bits.split("1")
    if len(runs) - 1 != m:
        raise corrupt("%s: the quotient stream holds %d one bits, not m = %d" % (what, len(runs) - 1, m))
    if length and stream[-1] == 0:                          # the last one bit must be in the last byte
        raise corrupt("%s: the quotient stream's last byte is 0" % what)
    exceptions = read_exceptions(r, m, x, what)
    out = [((len(q) << k) + low) & MASK64 for q, low in zip(runs, lows)]
    for pos, val in exceptions:
        out[pos] = val                                      # the slot's low part and quotient are ignored
    return out


def decode_codec2(payload, n, trace=None):
    """6.8: timestamp section, value column COLUMN(n, 0), nothing after it."""
    r = ByteReader(payload, trace)
    ts = read_timestamps(r, n)
    vals = read_column(r, n, 0)
    if r.pos != len(payload):
        raise corrupt("%d bytes remain after the value column" % (len(payload) - r.pos))
    return ts, vals


def read_timestamps(r, n):
    """6.2: u8 scheme 0, u64 t[0], PACKED(n - 1) deltas when n > 1; t[i] = t[i-1] + d[i] mod 2^64."""
    scheme = r.u8("timestamp scheme")
    if scheme != 0:
        raise corrupt("unknown timestamp scheme %d" % scheme)
    t = r.u64("t[0]")
    out = [t]
    if n > 1:
        for d in read_packed(r, n - 1, "timestamp deltas"):
            t = (t + d) & MASK64
            out.append(t)
    return out


def read_column(r, m, depth):
    """6.3 COLUMN(m, depth): u8 scheme then its fields; nesting schemes 3, 4, 5 not at depth 2."""
    scheme = r.u8("value scheme")
    if r.trace is not None:
        r.trace.append(("column", depth, scheme))
    if scheme in (3, 4, 5) and depth >= 2:
        raise corrupt("nesting scheme %d at depth %d" % (scheme, depth))
    if scheme == 0:                                         # raw
        return list(struct.unpack("<%dQ" % m, r.take(8 * m, "raw values")))
    if scheme == 1:                                         # constant
        return [r.u64("constant")] * m
    if scheme == 2:
        return read_decimal(r, m, depth)
    if scheme == 3:
        return read_dictionary(r, m, depth)
    if scheme == 4:
        return read_run_length(r, m, depth)
    if scheme == 5:
        return read_split(r, m, depth)
    if scheme == 6:
        return read_xor(r, m)
    if scheme == 7:
        return read_decimal(r, m, depth, scheme=7)
    raise corrupt("unknown value scheme %d" % scheme)


def read_dictionary(r, m, depth):
    """6.3 scheme 3: u32 D; COLUMN(D, depth + 1); PACKED(m) indices; 1 <= D <= m, every index < D."""
    d = r.u32("dictionary size")
    if d < 1 or d > m:
        raise corrupt("dictionary of %d values for %d" % (d, m))
    words = read_column(r, d, depth + 1)
    indices = read_packed(r, m, "dictionary indices")
    for i in indices:
        if i >= d:
            raise corrupt("dictionary index %d >= %d" % (i, d))
    return [words[i] for i in indices]


def read_run_length(r, m, depth):
    """6.3 scheme 4: u32 r; COLUMN(r, depth + 1) run values; PACKED(r) lengths, each 1..m, summing to m."""
    runs = r.u32("run count")
    if runs < 1 or runs > m:
        raise corrupt("%d runs for %d values" % (runs, m))
    words = read_column(r, runs, depth + 1)
    lengths = read_packed(r, runs, "run lengths")
    out = []
    for word, length in zip(words, lengths):
        if length < 1 or length > m:
            raise corrupt("run length %d" % length)
        out.extend([word] * length)
        if len(out) > m:
            break
    if len(out) != m:
        raise corrupt("run lengths do not sum to %d" % m)
    return out


def read_split(r, m, depth):
    """6.3 scheme 5: u8 s (1..63); COLUMN(m, depth + 1) high parts; PACKED(m) low parts."""
    s = r.u8("split width")
    if s < 1 or s > 63:
        raise corrupt("split width %d" % s)
    high = read_column(r, m, depth + 1)
    low = read_packed(r, m, "split low parts")
    mask = (1 << s) - 1
    return [((h << s) | (lo & mask)) & MASK64 for h, lo in zip(high, low)]


def read_xor(r, m):
    """6.5: u32 L; L bytes holding a codec 1 value section (5.3) for m values, then < 8 zero bits."""
    length = r.u32("XOR length")
    bits = BitReader(r.take(length, "XOR stream"), "XOR stream")
    out = decode_xor_values(bits, m)
    bits.finish()
    return out


# --- 6.4 Decimal scheme ----------------------------------------------------------------------------------

F64_EXP, F64_FRAC = 0x7FF0000000000000, 0x000FFFFFFFFFFFFF
F64_QUIET = 0x0008000000000000
F64_SIGN = 1 << 63
# x86-64 (SSE/AVX), where the reference runs: an invalid operation (inf - inf, 0 * inf) gives the "default
# NaN", sign bit set. Other architectures (ARM) give 0x7FF8000000000000. See NaN notes in decimal_value.
DEFAULT_NAN64 = 0xFFF8000000000000


def f64(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits64(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def is_nan64(b):
    return (b & 0x7FFFFFFFFFFFFFFF) > F64_EXP


def is_inf64(b):
    return (b & 0x7FFFFFFFFFFFFFFF) == F64_EXP


def round_fraction(value, precision, emin, emax):
    """Rounds a non-zero exact rational to the nearest binary floating-point number with `precision`
    significand bits and normal exponents emin..emax, ties to even, with gradual underflow and overflow to
    infinity, as IEEE 754 roundTiesToEven does. Returns (sign, biased exponent, fraction field)."""
    sign = 1 if value < 0 else 0
    num, den = abs(value.numerator), value.denominator
    # e = floor(log2(|value|)).
    e = num.bit_length() - den.bit_length()
    if (num << max(0, -e)) < (den << max(0, e)):
        e -= 1
    # Quantum 2^q of the result: p significant bits, but never finer than the subnormal quantum.
    q = max(e, emin) - (precision - 1)
    # m = |value| / 2^q rounded to an integer, ties to even.
    if q >= 0:
        quot, rem = divmod(num, den << q)
        twice_rem, divisor = 2 * rem, den << q
    else:
        quot, rem = divmod(num << -q, den)
        twice_rem, divisor = 2 * rem, den
    if twice_rem > divisor or (twice_rem == divisor and quot & 1):
        quot += 1
    if quot == 1 << precision:                              # the rounding carried into a new binade
        quot >>= 1
        q += 1
    bias = emax
    if quot < 1 << (precision - 1):                         # subnormal (or rounded to zero)
        return sign, 0, quot
    biased = q + (precision - 1) + bias
    if biased >= 2 * bias + 1:                              # overflow: roundTiesToEven gives infinity
        return sign, 2 * bias + 1, 0
    return sign, biased, quot - (1 << (precision - 1))


def fraction_to_f64_bits(value):
    """Exact rational (non-zero) -> binary64 pattern, correctly rounded."""
    sign, exp, frac = round_fraction(value, 53, -1022, 1023)
    return (sign << 63) | (exp << 52) | frac


def fraction_to_f32_bits(value):
    """Exact rational (non-zero) -> binary32 pattern, correctly rounded (no double rounding)."""
    sign, exp, frac = round_fraction(value, 24, -126, 127)
    return (sign << 31) | (exp << 23) | frac


def f64_fraction(b):
    """A finite binary64 pattern as an exact Fraction."""
    return Fraction(f64(b))


def quiet64(b):
    return b | F64_QUIET


def fma64(a, b, c):
    """IEEE 754 fusedMultiplyAdd on binary64 patterns: a*b + c computed exactly, rounded once (ties to even).

    Special operands (not fixed by section 6.4; chosen to match the reference build on x86-64): a NaN operand
    propagates, quieted; when several are NaN, the addend c wins over a, then b (the reference returns x's
    NaN, not -q's, from fma(-q, P, x)). 0 * inf and inf - inf give x86-64's default NaN. Otherwise
    infinities follow IEEE 754's sign rules.
    """
    for x in (c, a, b):
        if is_nan64(x):
            return quiet64(x)
    prod_sign = (a ^ b) & F64_SIGN
    a_inf, b_inf, c_inf = is_inf64(a), is_inf64(b), is_inf64(c)
    a_zero, b_zero = (a & ~F64_SIGN) == 0, (b & ~F64_SIGN) == 0
    if (a_inf and b_zero) or (b_inf and a_zero):
        return DEFAULT_NAN64                                # invalid: 0 * inf
    if a_inf or b_inf:
        if c_inf and (c & F64_SIGN) != prod_sign:
            return DEFAULT_NAN64                            # invalid: inf - inf
        return prod_sign | F64_EXP
    if c_inf:
        return c
    exact = f64_fraction(a) * f64_fraction(b) + f64_fraction(c)
    if exact == 0:
        # An exact zero sum is +0 in round-to-nearest unless both addends are zeros of negative sign.
        c_zero = (c & ~F64_SIGN) == 0
        if (a_zero or b_zero) and c_zero and prod_sign and (c & F64_SIGN):
            return F64_SIGN
        return 0
    return fraction_to_f64_bits(exact)


def mul64(a, b):
    """binary64 multiplication on patterns; NaN rule as x86-64 (first NaN operand, quieted)."""
    for x in (a, b):
        if is_nan64(x):
            return quiet64(x)
    return bits64(f64(a) * f64(b))      # finite/inf operands: IEEE semantics of the platform's float


def sub64(a, b):
    """binary64 subtraction on patterns; NaN rule as x86-64 (first NaN operand, quieted)."""
    for x in (a, b):
        if is_nan64(x):
            return quiet64(x)
    return bits64(f64(a) - f64(b))


def neg64(a):
    """Negation flips the sign bit, NaN included (IEEE 754 negate)."""
    return a ^ F64_SIGN


def f64_to_f32(b):
    """binary64 pattern -> binary32 pattern, round to nearest even, overflow to infinity. A NaN keeps its sign
    and the top 22 payload bits and is quieted (x86-64 CVTSD2SS; IEEE only recommends payload preservation)."""
    sign = (b >> 63) << 31
    if is_nan64(b):
        return sign | 0x7FC00000 | ((b & F64_FRAC) >> 29)
    if is_inf64(b):
        return sign | 0x7F800000
    if (b & ~F64_SIGN) == 0:
        return sign
    return fraction_to_f32_bits(f64_fraction(b))


def f32_to_f64(s):
    """binary32 pattern -> binary64 pattern, exact (a NaN is quieted, its payload shifted up: CVTSS2SD)."""
    sign = (s >> 31) << 63
    exp, frac = (s >> 23) & 0xFF, s & 0x7FFFFF
    if exp == 0xFF:
        if frac == 0:
            return sign | F64_EXP
        return sign | F64_EXP | F64_QUIET | (frac << 29)
    return bits64(struct.unpack("<f", struct.pack("<I", s))[0])     # exact widening


def f32_div(a, b):
    """binary32 division on patterns, computed exactly and rounded once to binary32. Only b = 10^e > 0 finite
    is needed here; a may be anything."""
    sign = ((a ^ b) >> 31) << 31
    a_exp, a_frac = (a >> 23) & 0xFF, a & 0x7FFFFF
    if a_exp == 0xFF:
        return (a | 0x00400000) if a_frac else (sign | 0x7F800000)    # NaN (quieted) or infinity
    if a & 0x7FFFFFFF == 0:
        return sign
    fa = Fraction(struct.unpack("<f", struct.pack("<I", a))[0])
    fb = Fraction(struct.unpack("<f", struct.pack("<I", b))[0])
    return fraction_to_f32_bits(fa / fb)


MAGIC = 0x4338000000000000          # pattern of 1.5 * 2^52
POW10 = [10 ** e for e in range(19)]
P64 = [bits64(float(p)) for p in POW10]                         # P[e] = 10^e, exact for e <= 18
R64 = [fraction_to_f64_bits(Fraction(1, p)) for p in POW10]     # R[e] = binary64 nearest to 10^-e
P32 = [fraction_to_f32_bits(Fraction(p)) for p in POW10[:11]]   # 10^e in binary32, exact for e <= 10


def decimal_value(digits, e, float32):
    """6.4 steps 1-3 for one digits pattern; returns the value's binary64 pattern (before corrections)."""
    # Step 1: x = double(D + 0x4338000000000000) - 6755399441055744.0
    x = sub64((digits + MAGIC) & MASK64, MAGIC)
    if float32:
        # Step 3: v = double(float(x) / float(10^e))
        return f32_to_f64(f32_div(f64_to_f32(x), P32[e]))
    # Step 2: q = x * R[e];  v = fma(fma(-q, P[e], x), R[e], q)
    q = mul64(x, R64[e])
    return fma64(fma64(neg64(q), P64[e], x), R64[e], q)


def read_decimal(r, m, depth=0, scheme=2):
    """6.4 (scheme 2): u8 flags, u8 e, digits (u64 first + PACKED(m-1) differences, or PACKED(m)), PACKED(m) z.
    6.4.1 (scheme 7, decimal-rice): the same with the deltas flag required and the differences stored as
    RICE(m-1) of zigzagged differences."""
    flags = r.u8("decimal flags")
    if flags & 0xF8:
        raise corrupt("decimal flag bits 3-7 set: 0x%02x" % flags)
    deltas, float32, corrections = flags & 1, flags & 2, flags & 4
    if scheme == 7 and not deltas:                          # 6.4.1 / 6.9: bit 0 (deltas) must be 1
        raise corrupt("decimal-rice without the deltas flag: flags 0x%02x" % flags)
    e = r.u8("decimal exponent")
    if e > (10 if float32 else 18):
        raise corrupt("decimal exponent %d above its limit" % e)
    if r.trace is not None:
        r.trace[-1] = ("column", depth, scheme, flags, e)
    if deltas:
        if m < 2:
            raise corrupt("decimal deltas with m = %d" % m)
        d = r.u64("first digits")
        digits = [d]
        if scheme == 7:                                     # 6.4.1: difference[i] = unzigzag(u[i])
            diffs = [unzigzag(u) for u in read_rice(r, m - 1, "decimal-rice differences")]
        else:
            diffs = read_packed(r, m - 1, "decimal differences")
        for diff in diffs:
            d = (d + diff) & MASK64
            digits.append(d)
    else:
        digits = read_packed(r, m, "decimal digits")
    for d in digits:                                        # 6.4 / 6.9: -2^51 <= G < 2^51
        if not ((d + (1 << 51)) & MASK64) < (1 << 52):
            raise corrupt("decimal digits 0x%016x lie outside [-2^51, 2^51)" % d)
    cache = {}
    out = []
    for d in digits:
        v = cache.get(d)
        if v is None:
            v = cache[d] = decimal_value(d, e, float32)
        out.append(v)
    if corrections:                                         # step 4: pattern + unzigzag(z) mod 2^64
        zs = read_packed(r, m, "decimal corrections")
        out = [(v + unzigzag(z)) & MASK64 for v, z in zip(out, zs)]
    return out


# ---------------------------------------------------------------------------------------------------------
# Self-test of the arithmetic building blocks against the platform, and the documents' worked examples.
# ---------------------------------------------------------------------------------------------------------

def selftest():
    import math
    import random
    rnd = random.Random(12345)
    assert crc32c(b"123456789") == 0xE3069283                                      # section 3
    assert R64[1] == 0x3FB999999999999A and R64[2] == 0x3F847AE147AE147B           # 6.4
    # 5.6 worked example (codec 1).
    ex1 = bytes.fromhex("0101000003000000150000006b4bafe6" "00000000000003e8" "c0d9e3ff80000000000006d020")
    assert decode_block(ex1) == ([1000, 2000, 3000], [bits64(1.5), bits64(1.5), bits64(1.75)])
    # 6.7 worked example (codec 2).
    ex2 = bytes.fromhex("01020000040000002800000095406814" "00" "0000000000000000"
                        "00809698000000000000000000" "020002" "03280900000000000000000000190c")
    assert decode_block(ex2) == ([0, 10**7, 2 * 10**7, 3 * 10**7],
                                 [bits64(v) for v in (23.45, 23.47, 23.44, 23.50)])
    assert make_block(2, 4, ex2[16:]) == ex2                   # make_block's header and CRC, against 6.7's
    selftest_decimal_rice(ex2)

    def rand_double():
        kind = rnd.random()
        if kind < 0.3:
            return rnd.uniform(-1e6, 1e6)
        if kind < 0.5:
            return f64(rnd.getrandbits(64) & ~F64_EXP | (rnd.randrange(0, 2047) << 52))
        if kind < 0.6:
            return rnd.choice([5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1.0, 0.1]) * \
                rnd.choice([1, -1, 0.5, 2, 3])
        return round(rnd.uniform(-1e4, 1e4), rnd.randrange(0, 8))

    # binary64 rounding against CPython's int/int true division (correctly rounded, OverflowError on overflow).
    for _ in range(20000):
        a, b = rnd.getrandbits(rnd.randrange(1, 1200)) + 1, rnd.getrandbits(rnd.randrange(1, 1200)) + 1
        fr = Fraction(a, b)
        try:
            ref = bits64(a / b)
        except OverflowError:
            ref = F64_EXP
        assert fraction_to_f64_bits(fr) == ref, (a, b)
    # Halfway cases near the overflow threshold and in the subnormal range.
    max_f = Fraction(2) ** 1024 - Fraction(2) ** 971
    assert fraction_to_f64_bits(max_f + Fraction(2) ** 969) == F64_EXP - 1        # below half: max
    assert fraction_to_f64_bits(max_f + Fraction(2) ** 970) == F64_EXP            # tie -> even = inf
    assert fraction_to_f64_bits(Fraction(1, 2 ** 1075)) == 0                       # tie -> even = 0
    assert fraction_to_f64_bits(Fraction(3, 2 ** 1076)) == 1                       # 0.75 ulp -> 1
    assert fraction_to_f64_bits(Fraction(3, 2 ** 1075)) == 2                       # 1.5 ulp tie -> 2
    # binary32 rounding against struct's '<f' (C's (float) cast, nearest even) where it does not overflow.
    for _ in range(20000):
        x = rand_double()
        if x == 0 or math.isinf(x):
            continue
        mine = fraction_to_f32_bits(Fraction(x))
        try:
            ref = struct.unpack("<I", struct.pack("<f", x))[0]
        except OverflowError:
            ref = ((1 if x < 0 else 0) << 31) | 0x7F800000                        # IEEE: overflow to inf
        assert mine == ref, x
    # f32 division vs float64 division then rounding: double rounding is innocuous for binary32 / binary32
    # (53 >= 2*24 + 2), so this cross-checks f32_div.
    for _ in range(20000):
        a = f64_to_f32(bits64(rand_double()))
        b = P32[rnd.randrange(0, 11)]
        q = f64(f32_to_f64(a)) / f64(f32_to_f64(b))
        assert f32_div(a, b) == f64_to_f32(bits64(q)), (a, b)
    # fma: exact cases, and math.fma when this Python has it (3.13+).
    assert fma64(bits64(0.1), bits64(10.0), bits64(-1.0)) == bits64(5.551115123125783e-17)
    assert fma64(bits64(-0.0), bits64(1.0), bits64(-0.0)) == F64_SIGN
    assert fma64(bits64(1.0), bits64(1.0), bits64(-1.0)) == 0
    if hasattr(math, "fma"):
        for _ in range(20000):
            a, b, c = rand_double(), rand_double(), rand_double()
            ref = math.fma(a, b, c)
            if math.isnan(ref):
                continue
            assert fma64(bits64(a), bits64(b), bits64(c)) == bits64(ref), (a, b, c)
    # The decimal formula on ordinary decimals gives the double the decimal text parses to.
    for e in range(0, 10):
        for _ in range(2000):
            d = rnd.randrange(-10 ** 12, 10 ** 12)
            want = bits64(float(Fraction(d, 10 ** e)))
            assert decimal_value(d & MASK64, e, False) == want, (d, e)
    print("selftest ok")


# ---------------------------------------------------------------------------------------------------------
# Writers for hand-made RICE sequences (the self-test's and test/server/block_format.sh's probes).
# ---------------------------------------------------------------------------------------------------------

def pack_u8(x): return struct.pack("<B", x)
def pack_u32(x): return struct.pack("<I", x)
def pack_u64(x): return struct.pack("<Q", x & MASK64)


def lsb_bytes(bits):
    """A string of bits, the first being bit 0 of byte 0 (6.1's order), as bytes padded with 0 bits."""
    bits += "0" * (-len(bits) % 8)
    return int(bits[::-1], 2).to_bytes(len(bits) // 8, "little") if bits else b""


def rice(us, k, exc=(), slot=(0, 0), x=None, length=None, stream=None, tail=b"", positions=None, pos_size=None,
         low_junk=False):
    """6.4.1 RICE(len(us)): u8 k, u32 x, the k-bit low parts packed as in 6.1, u32 L, the quotient stream (q
    zero bits and a one bit each, bit 0 of byte 0 first), x positions, x u64 values. An entry of `us` is an
    integer u (q = u >> k, low = u mod 2^k) or a pair (q, low) written as it is. The integers at the positions
    `exc` are exceptions, stored whole, with `slot` = (q, low) in their slot (0, 0 as the encoder writes it).
    `low_junk` sets the unused high bits of the low parts' last byte; `tail` is appended to the quotient
    stream; `x`, `length`, `stream`, `positions` and `pos_size` override those fields."""
    exc = sorted(exc)
    exc_set = set(exc)
    lows, quotients = [], []
    for i, u in enumerate(us):
        q, low = slot if i in exc_set else u if isinstance(u, tuple) else (u >> k, u & ((1 << k) - 1))
        lows.append(format(low, "0%db" % k)[::-1] if k else "")
        quotients.append("0" * q + "1")
    low_bits = "".join(lows)
    if low_junk:
        low_bits += "1" * (-len(low_bits) % 8)
    stream = (lsb_bytes("".join(quotients)) if stream is None else stream) + tail
    pos_size = pos_size or (2 if len(us) <= 65536 else 4)
    return (pack_u8(k) + pack_u32(len(exc) if x is None else x) + lsb_bytes(low_bits)
            + pack_u32(len(stream) if length is None else length) + stream
            + b"".join(struct.pack("<H" if pos_size == 2 else "<I", p) for p in (exc if positions is None else positions))
            + b"".join(pack_u64(us[p]) for p in exc))



def selftest_decimal_rice(ex2):
    """6.4.1: the RICE example, the 6.7 points as a scheme 7 block, k = 0 and 63, long quotients, exceptions,
    scheme 7 against scheme 2 on random walks, and one block breaking each 6.9 rule of scheme 7."""
    import random
    rnd = random.Random(777)

    u8, u32, u64 = pack_u8, pack_u32, pack_u64

    def long_quotients(us, k, limit=32):
        """The encoder's rule (6.4.1, non-normative): u is an exception when q = u >> k would be `limit` or more."""
        return [i for i, u in enumerate(us) if u >> k >= limit]

    def read(seq, m):
        return read_rice(ByteReader(seq), m, "t")

    def packed64(ints):
        """PACKED(m) with w = 64, base 0, no exceptions: the integers as they are (6.1)."""
        return u8(64) + u64(0) + u32(0) + b"".join(u64(x) for x in ints)

    def ts_section(n):
        return u8(0) + u64(0) + (u8(0) + u64(10 ** 7) + u32(0) if n > 1 else b"")

    def rejects(payload, n, why):
        try:
            decode_block(make_block(2, n, payload))
        except BlockError as err:
            assert err.message == BAD_PAYLOAD, (why, err)
            return
        raise AssertionError("decimal-rice block accepted: " + why)

    # The example of 6.4.1: u = 4, 5, 12 with k = 2: low parts 0, 1, 0 (04), quotients 1, 1, 3 (8A).
    example = bytes.fromhex("02 00000000 04 01000000 8A")
    assert [zigzag(d & MASK64) for d in (2, -3, 6)] == [4, 5, 12]
    assert rice([4, 5, 12], 2) == example
    assert read(example, 3) == [4, 5, 12]
    # 6.7's points with scheme 7: flags 1 (deltas), e = 2, digits[0] = 2345, RICE(3) of the example.
    ts4 = ex2[16:16 + 22]
    head = u8(7) + u8(1) + u8(2) + u64(2345)
    block7 = make_block(2, 4, ts4 + head + example)
    assert len(block7) == 16 + 22 + 11 + 11
    trace = []
    assert decode_block(block7, trace) == ([0, 10**7, 2 * 10**7, 3 * 10**7],
                                           [bits64(v) for v in (23.45, 23.47, 23.44, 23.50)])
    assert ("column", 0, 7, 1, 2) in trace and ("rice", 3, 2, 0, 1) in trace, trace

    # k = 0 (no low-part bytes); RICE(0) (no bytes, an empty stream).
    assert rice([0, 1, 31, 7], 0)[:9] == u8(0) + u32(0) + u32(6)          # 43 stream bits
    assert read(rice([0, 1, 31, 7], 0), 4) == [0, 1, 31, 7]
    assert rice([], 5) == u8(5) + u32(0) + u32(0) and read(rice([], 5), 0) == []
    # Quotients of any length: 40 zero bits, 1000, 70000 (a stream of 8.8 kB), 32 and 33 (the encoder's limit).
    for us, k in (([40, 0, 1000, 70000 << 3], 0), ([(40 << 3) + 5, 3, 32 << 3, (33 << 3) + 7], 3)):
        assert read(rice(us, k), len(us)) == us
    # k = 63: q * 2^63 wraps modulo 2^64 (q = 3 gives 2^63, q = 2 and q = 4 give 0), and the largest u.
    assert read(rice([(3, 5), (2, 6), (4, 2 ** 63 - 1), (1, 0), MASK64], 63), 5) == [2 ** 63 + 5, 6, 2 ** 63 - 1,
                                                                                    2 ** 63, MASK64]
    # Exceptions: any 64-bit value, at the first and last positions, of small u too, all m of them; the slot's
    # low part and quotient are ignored.
    us = [MASK64, 5, 2 ** 63, 7, 2 ** 40 + 1]
    for exc in ([0, 2, 4], [0, 1, 2, 4], [0, 2, 3, 4], range(5)):
        for slot in ((0, 0), (3, 2), (45, 1)):
            assert read(rice(us, 2, exc=exc, slot=slot), 5) == us, (exc, slot)
    # u16 positions up to m = 65,536, u32 above; as RICE(m) directly and in blocks of m + 1 points.
    for m, pos_size in ((65536, 2), (65537, 4)):
        us = [zigzag((-3, 1, 5, -3)[i % 4] & MASK64) for i in range(m)]     # few distinct digits: fast to decode
        us[0], us[m - 1] = zigzag(2 ** 50), zigzag(-(2 ** 45) & MASK64)
        seq = rice(us, 1, exc=[0, m - 1])
        assert len(seq) == 1 + 4 + (m + 7) // 8 + 4 + (sum(u >> 1 for u in us[1:-1]) + m + 7) // 8 + 2 * (pos_size + 8)
        assert read(seq, m) == us
        _, vals = decode_block(make_block(2, m + 1, ts_section(m + 1) + u8(7) + u8(1) + u8(0) + u64(0) + seq))
        digits = [0]
        for u in us:
            digits.append(digits[-1] + signed64(unzigzag(u)))
        assert vals == [bits64(float(d)) for d in digits]
        rejects(ts_section(m + 1) + u8(7) + u8(1) + u8(0) + u64(0) + rice(us[:-1] + [4], 1, exc=[0], pos_size=6 - pos_size),
                m + 1, "exception positions of %d bytes for m = %d" % (6 - pos_size, m))

    # Scheme 7 decodes exactly as scheme 2 with the same differences (PACKED), on random walks with jumps,
    # with and without float32 and corrections, at every k, with the encoder's exceptions and others (some
    # with junk in their slot), at depth 0 and inside a dictionary (depth 1).
    for trial in range(300):
        m = rnd.choice([2, 3, 5, 64, 200])
        float32 = rnd.random() < 0.3
        e = rnd.randrange(0, 11 if float32 else 19)
        d = rnd.randrange(-(2 ** 40), 2 ** 40)
        digits = [d]
        for _ in range(m - 1):
            step = rnd.choice([rnd.randrange(-3, 4), rnd.randrange(-300, 301), rnd.randrange(-(2 ** 45), 2 ** 45)])
            d = max(-(2 ** 51), min(2 ** 51 - 1, d + step))
            digits.append(d)
        us = [zigzag((b - a) & MASK64) for a, b in zip(digits, digits[1:])]
        k = trial % 64
        exc = set(long_quotients(us, k, rnd.choice([32, 1000])))
        if trial % 4 == 0:
            exc |= set(rnd.sample(range(m - 1), rnd.randrange(0, m)))
        slot = (rnd.randrange(0, 40), rnd.getrandbits(k)) if trial % 8 == 0 else (0, 0)
        flags = 1 | (2 if float32 else 0) | (4 if trial % 3 == 0 else 0)
        z = packed64([rnd.choice([0, 1, 2, rnd.getrandbits(64)]) for _ in range(m)]) if flags & 4 else b""
        col7 = u8(7) + u8(flags) + u8(e) + u64(digits[0]) + rice(us, k, exc=exc, slot=slot) + z
        col2 = u8(2) + u8(flags) + u8(e) + u64(digits[0]) + packed64([unzigzag(u) for u in us]) + z
        if trial % 5 == 0:      # as a dictionary's inner column: the indices pick every word once
            col7, col2 = [u8(3) + u32(m) + c + packed64(range(m)) for c in (col7, col2)]
        _, v7 = decode_block(make_block(2, m, ts_section(m) + col7))
        _, v2 = decode_block(make_block(2, m, ts_section(m) + col2))
        assert v7 == v2, (trial, m, k, flags, e)

    # One block breaking each 6.9 rule of scheme 7 (6.7's example otherwise: m = 3, k = 2, low 04, stream 8A).
    ex = [4, 5, 12]
    rejects(ts_section(1) + head + rice([], 2), 1, "m = 1")
    for flags in (0, 2, 4, 6):
        rejects(ts4 + u8(7) + u8(flags) + u8(2) + u64(2345) + example, 4, "flags %d: no deltas" % flags)
    for flags in (1 | 8, 1 | 0x10, 1 | 0x80, 0xFF):
        rejects(ts4 + u8(7) + u8(flags) + u8(2) + u64(2345) + example, 4, "flags 0x%02x: bits 3-7" % flags)
    rejects(ts4 + u8(7) + u8(1) + u8(19) + u64(2345) + example, 4, "e = 19")
    rejects(ts4 + u8(7) + u8(3) + u8(11) + u64(2345) + example, 4, "float32 e = 11")
    rejects(ts4 + u8(7) + u8(1) + u8(2) + u64(2 ** 51) + rice([0, 0, 0], 0), 4, "digits[0] = 2^51")
    rejects(ts4 + head + rice([zigzag(2 ** 52), 0, 0], 0, exc=[0]), 4, "digits past 2^51 by a difference")
    rejects(ts4 + head + rice([MASK64, 0, 0], 0, exc=[0]), 4, "digits past -2^51 by an exception value")
    for k in (64, 65, 255):
        rejects(ts4 + head + u8(k) + example[1:], 4, "Rice k = %d" % k)
    rejects(ts4 + head + rice(ex, 2, exc=[0, 1, 2], x=4) + bytes(10), 4, "x = 4 > m = 3")
    rejects(ts4 + head + rice(ex, 2, x=2 ** 32 - 1), 4, "x = 2^32 - 1")
    rejects(ts4 + head + u8(8) + u32(0) + b"\x04\x01", 4, "the payload ends inside the low parts")
    rejects(ts4 + head + example[:6], 4, "the payload ends before L")
    rejects(ts4 + head + rice(ex, 2, length=2), 4, "L one byte past the payload")
    rejects(ts4 + head + rice(ex, 2, length=2 ** 32 - 1), 4, "L = 2^32 - 1")
    for stream, why in ((b"", "L = 0"), (b"\x0a", "2 one bits"), (b"\x00\x0a", "2 one bits in 2 bytes"),
                        (b"\x8b", "4 one bits"), (b"\x8a\x01", "4 one bits in 2 bytes"), (b"\xff", "8 one bits"),
                        (b"\x00", "no one bit"), (b"\x8a\x00", "3 one bits, last byte 0"),
                        (b"\x8a\x00\x00", "3 one bits, two zero bytes after them")):
        rejects(ts4 + head + rice(ex, 2, stream=stream), 4, "quotient stream %s: %s" % (stream.hex(), why))
    try:
        read(u8(0) + u32(0) + u32(1) + b"\x00", 0)
        raise AssertionError("RICE(0) with a zero stream byte accepted")
    except BlockError as err:
        assert err.message == BAD_PAYLOAD
    for positions, why in (([1, 1], "equal"), ([2, 1], "falling"), ([0, 3], "= m"), ([0, 65535], "= 65,535")):
        rejects(ts4 + head + rice(ex, 2, exc=[0, 2], positions=positions), 4, "exception positions %s (%s)" % (positions, why))
    with_exc = rice(ex, 2, exc=[1])
    assert read(with_exc, 3) == ex
    for cut, why in ((1, "a value byte"), (8, "the value"), (9, "the value and a position byte"), (10, "all")):
        rejects(ts4 + head + with_exc[:-cut], 4, "exception fields cut: %s" % why)
    rejects(ts4 + head + example + b"\0", 4, "a byte after the value column")
    rejects(ts4 + u8(7) + u8(5) + u8(2) + u64(2345) + example, 4, "corrections missing")
    rejects(ts4 + head[:-1], 4, "digits[0] cut")
    rejects(ts4 + head + example[:3], 4, "x cut")


def main(argv):
    if len(argv) == 2 and argv[1] == "--selftest":
        selftest()
        return 0
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    ts, vals = decode_block(bytes.fromhex(argv[1]))
    for t, v in zip(ts, vals):
        print("%d\t%016x" % (t, v))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
