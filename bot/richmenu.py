"""The rich menu under the chat: three buttons that send the words the bot understands."""

from __future__ import annotations

import struct
import zlib

from bot.line_client import LineClient

WIDTH, HEIGHT = 2500, 843
BUTTONS = (("แจ้งปัญหา", "แจ้งปัญหา"), ("สถานะเรื่อง", "สถานะเรื่อง"), ("ช่องทางติดต่อ", "ช่องทางติดต่อ"))


def menu() -> dict:
    third = WIDTH // len(BUTTONS)
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": "smartbmn-main",
        "chatBarText": "เมนู",
        "areas": [
            {
                "bounds": {"x": i * third, "y": 0, "width": third, "height": HEIGHT},
                "action": {"type": "message", "label": label, "text": send},
            }
            for i, (label, send) in enumerate(BUTTONS)
        ],
    }


def png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A plain three-colour PNG (no imaging library needed); replace with a designed image."""
    colours = (b"\x06\xc7\x55", b"\x27\x32\x46", b"\x8c\xab\xd9")
    third = width // len(colours)
    row = b"".join(colours[min(x // third, len(colours) - 1)] for x in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def setup(line: LineClient) -> str:
    """Create the menu, upload its image and make it everyone's default; returns its id."""
    rich_menu_id = line.create_rich_menu(menu())
    line.upload_rich_menu_image(rich_menu_id, png())
    line.set_default_rich_menu(rich_menu_id)
    return rich_menu_id
