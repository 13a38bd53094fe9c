#!/usr/bin/env python3
"""Regenerates the recorded host trees that vfio/cli/tests/features_cli.rs and vsva-vfio's tests replay.

Each tree is <name>/{sys,dev,proc}: a minimal copy of what `vsva features` reads from
/sys, /dev and /proc on a VT-d host. Run from this directory: python3 generate.py

- vtd-pasid:   scalable-mode VT-d (dmar0), device 0000:3b:00.0 (8086:0b25) bound to
               vfio-pci, ext caps ATS@0x100 -> PRI@0x110 -> PASID@0x120 (exec, priv, 20 bits)
- vtd-nopasid: the same device with ATS@0x100 -> PRI@0x110 only
- cap-loop:    the device's chain loops (PRI@0x110 -> 0x100), plus 0000:00:1f.6 (e1000e)
               whose config is 256 bytes (what an unprivileged read returns)
"""
import os
import shutil
import struct

CAP = 0x00D2008C40660462
# C, QI, DT, PT, NEST, PRS, SRS, PASID (PSS 19 -> 20 bits), SMTS, SLTS, FLTS
ECAP = sum(1 << b for b in (0, 1, 2, 6, 26, 29, 31, 40, 43, 46, 47)) | (19 << 35)


def config(chain, size=4096):
    c = bytearray(size)
    struct.pack_into("<HH", c, 0, 0x8086, 0x0B25)  # vendor, device
    struct.pack_into("<HH", c, 4, 0x0006, 0x0010)  # command; status: cap list
    struct.pack_into("<I", c, 8, 0x08800001)  # revision 1, class 0x088000
    c[0x34] = 0x40  # capability pointer
    struct.pack_into("<BBH", c, 0x40, 0x10, 0x00, 0x0002)  # PCIe cap v2, endpoint
    if size <= 0x100:
        return bytes(c)
    for off, cap_id, nxt, body in chain:
        struct.pack_into("<I", c, off, cap_id | (1 << 16) | (nxt << 20))
        c[off + 4 : off + 4 + len(body)] = body
    return bytes(c)


ATS = struct.pack("<HH", 0x0000, 0x0000)  # queue depth 0 (32), disabled
PRI = struct.pack("<HHII", 0x0000, 0x0100, 0x200, 0)  # stopped, capacity 512
PASID = struct.pack("<HH", (20 << 8) | (1 << 2) | (1 << 1), 0)  # exec, priv, 20 bits

FULL = [(0x100, 0x0F, 0x110, ATS), (0x110, 0x13, 0x120, PRI), (0x120, 0x1B, 0, PASID)]
NOPASID = [(0x100, 0x0F, 0x110, ATS), (0x110, 0x13, 0, PRI)]
LOOP = [(0x100, 0x0F, 0x110, ATS), (0x110, 0x13, 0x100, PRI)]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def symlink(target, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def device(sys, bdf, group, driver, cfg, vendor="0x8086", dev="0x0b25", cdev=None):
    d = f"{sys}/bus/pci/devices/{bdf}"
    write(f"{d}/vendor", vendor + "\n")
    write(f"{d}/device", dev + "\n")
    write(f"{d}/config", cfg)
    symlink(f"../../../../bus/pci/drivers/{driver}", f"{d}/driver")
    symlink(f"../../../../kernel/iommu_groups/{group}", f"{d}/iommu_group")
    symlink("../../../../devices/virtual/iommu/dmar0", f"{d}/iommu")
    if cdev:
        write(f"{d}/vfio-dev/{cdev}/dev", "511:0\n")
    symlink(
        f"../../../../bus/pci/devices/{bdf}",
        f"{sys}/kernel/iommu_groups/{group}/devices/{bdf}",
    )
    write(f"{sys}/kernel/iommu_groups/{group}/type", "DMA\n")


def tree(name, chain, extra=False):
    shutil.rmtree(name, ignore_errors=True)
    sys, dev = f"{name}/sys", f"{name}/dev"
    write(f"{name}/proc/sys/kernel/osrelease", "6.8.0-vsva-recorded\n")
    write(f"{sys}/class/iommu/dmar0/intel-iommu/cap", f"{CAP:x}\n")
    write(f"{sys}/class/iommu/dmar0/intel-iommu/ecap", f"{ECAP:x}\n")
    device(sys, "0000:3b:00.0", 12, "vfio-pci", config(chain), cdev="vfio0")
    if extra:
        device(sys, "0000:00:1f.6", 13, "e1000e", config([], 256), dev="0x15bb")
    for node in ("vfio/vfio", "vfio/12", "vfio/devices/vfio0", "iommu"):
        write(f"{dev}/{node}", b"")


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    tree("vtd-pasid", FULL)
    tree("vtd-nopasid", NOPASID)
    tree("cap-loop", LOOP, extra=True)
