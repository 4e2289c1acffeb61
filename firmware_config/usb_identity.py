"""Which USB device is which: the identity udev matches to give a device a stable name.

`/dev/ttyUSB0` is whichever adapter the kernel found first; after a power cut two RS-485 adapters
may swap. The site names each USB device by vendor and product id, its serial number when it has
one, and otherwise the USB port it is plugged into (cheap CH340 adapters all share one identity),
and `hall config udev` turns that into rules giving `/dev/hall/line-<id>`,
`/dev/hall/printer-<kiosk>` and `/dev/hall/scanner-<kiosk>`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

UsbId = Annotated[str, Field(pattern=r"^[0-9a-f]{4}$", description="4 lower-case hex digits")]


class UsbIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor: UsbId = Field(description="idVendor as `lsusb` shows it, e.g. 0403.")
    product: UsbId = Field(description="idProduct, e.g. 6001.")
    serial: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="The device's USB serial number (`udevadm info`: ATTRS{serial}).",
    )
    port_path: str | None = Field(
        default=None, pattern=r"^[0-9]+-[0-9]+(\.[0-9]+)*$",
        description="USB port it is plugged into (KERNELS, e.g. 1-1.2), for devices without a "
        "serial number: the name then follows the socket, not the device.",
    )

    def key(self) -> tuple[str, str, str | None, str | None]:
        return (self.vendor, self.product, self.serial, self.port_path)
