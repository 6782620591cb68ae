"""Image files that declare far more pixels than they hold (decompression bombs' headers)."""
import struct
import zlib


def png_header(width, height):
    """A PNG that declares width x height grey pixels and holds almost none: Pillow reads the
    size from the header before decoding anything."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
