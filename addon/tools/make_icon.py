"""Draw the add-on's icon.png (128 × 128): a battery with a lightning bolt (stdlib only).

Run from the repository root: `python addon/tools/make_icon.py`. Shapes are sampled 4 × 4
per pixel for smooth edges; the PNG is written with zlib and struct.
"""

from __future__ import annotations

from pathlib import Path
import struct
import zlib

SIZE = 128
SUB = 4
BACKGROUND = (14, 124, 102)  # teal
WHITE = (255, 255, 255)
LEVEL = (120, 220, 140)
BOLT = (255, 210, 63)

BOLT_POLYGON = [(70, 36), (46, 74), (62, 74), (56, 100), (82, 60), (66, 60), (74, 36)]


def _rounded_square(x: float, y: float, radius: float = 26.0) -> bool:
    cx = min(max(x, radius), SIZE - radius)
    cy = min(max(y, radius), SIZE - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _inside(polygon: list[tuple[float, float]], x: float, y: float) -> bool:
    inside = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _colour(x: float, y: float) -> tuple[int, int, int, int]:
    if not _rounded_square(x, y):
        return (0, 0, 0, 0)
    body = 38 <= x <= 90 and 28 <= y <= 110
    hollow = 45 <= x <= 83 and 35 <= y <= 103
    cap = 54 <= x <= 74 and 18 <= y <= 28
    if _inside(BOLT_POLYGON, x, y):
        return (*BOLT, 255)
    if (body and not hollow) or cap:
        return (*WHITE, 255)
    if hollow and y >= 78:
        return (*LEVEL, 255)
    return (*BACKGROUND, 255)


def render() -> bytes:
    """The PNG bytes of the icon."""
    rows = []
    for py in range(SIZE):
        row = bytearray([0])  # filter: none
        for px in range(SIZE):
            total = [0, 0, 0, 0]
            for sy in range(SUB):
                for sx in range(SUB):
                    r, g, b, a = _colour(px + (sx + 0.5) / SUB, py + (sy + 0.5) / SUB)
                    total[0] += r * a
                    total[1] += g * a
                    total[2] += b * a
                    total[3] += a
            alpha = total[3]
            if alpha:
                row += bytes(round(c / alpha) for c in total[:3])
            else:
                row += b"\0\0\0"
            row.append(round(alpha / SUB**2))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "icon.png"
    target.write_bytes(render())
    print(f"wrote {target}")
