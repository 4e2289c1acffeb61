"""Ticket printers: ESC/POS bytes, layout, status, transport, simulator."""
