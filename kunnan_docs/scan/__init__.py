"""The round trip's way home: scanner files read page by page, filed as signed originals by their QR codes."""
