"""Checksums of the RS-485 framings: CRC-16/MODBUS (ours), CRC-16/ARC (Onbon BX), 8-bit sum."""

from __future__ import annotations


def _crc16_reflected(data: bytes, init: int) -> int:
    # Both CRCs use the reflected polynomial 0xA001 (0x8005 bit-reversed); only the start differs.
    crc = init
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS: check value of b"123456789" is 0x4B37."""
    return _crc16_reflected(data, 0xFFFF)


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC: check value of b"123456789" is 0xBB3D."""
    return _crc16_reflected(data, 0x0000)


def sum8(data: bytes) -> int:
    return sum(data) & 0xFF
