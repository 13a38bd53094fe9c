#!/usr/bin/env python3
"""Writes the committed seed corpus of vsva's fuzz targets: corpus/<target>/<name>.

A handful of tiny inputs per target: valid structs (named ok-*) and edge cases
(edge-*: truncated argsz, non-zero tails, unknown flags, huge argsz). The layouts are
those of uapi/src (x86_64, little endian). Deterministic; re-run after changing it:

    python3 compat-tests/fuzz/make_corpus.py
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
EXAMPLES = os.path.join(HERE, "..", "..", "examples")


def u8(v):
    return struct.pack("<B", v)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def z(n):
    return bytes(n)


def with_argsz(body, argsz=None):
    """`body` (which starts with a placeholder u32) with its size field set."""
    return u32(len(body) if argsz is None else argsz) + body[4:]


# --- the 2020 IOMMU UAPI -------------------------------------------------------------

def cache_inv(cache, granu, payload=b"", argsz=None):
    body = u32(0) + u32(1) + u8(cache) + u8(granu) + z(6) + payload
    return with_argsz(body, argsz)


PASID_INFO = u32(1) + u32(0) + u64(5)  # flags PASID, archid, pasid 5
ADDR_INFO = u32(1) + u32(0) + u64(5) + u64(0x1000) + u64(0x1000) + u64(4)


def gpasid_bind(fmt=1, flags=0, vtd_flags=0, argsz=None, vendor=True):
    body = (u32(0) + u32(1) + u32(fmt) + u32(48) + u64(flags) + u64(0x1000)
            + u64(5) + u64(7) + z(8))
    if vendor:
        body += u64(vtd_flags) + u32(0) + u32(0)
    return with_argsz(body, argsz)


def page_response(flags=1, code=0, argsz=None):
    return with_argsz(u32(0) + u32(1) + u32(flags) + u32(5) + u32(1) + u32(code), argsz)


def pasid_table_config(config=1, fmt=1, argsz=None):
    body = (u32(0) + u32(1) + u64(0x10000) + u32(fmt) + u8(20) + u8(config) + z(2)
            + u32(1) + u8(0) + u8(0) + z(2))
    return with_argsz(body, argsz)


def pasid_request(flags, lo, hi, argsz=None):
    return with_argsz(u32(0) + u32(flags) + u32(lo) + u32(hi), argsz)


def nesting_op(op, payload):
    return u32(8 + len(payload)) + u32(op) + payload


NESTING_INFO = with_argsz(
    u32(0) + u32(0) + u32(1) + u32(0x1f) + u16(48) + u16(20) + z(12)
    + u32(0) + z(12) + u64(0xd2008c40660462) + u64(0xf050da))
FAULT_EVENT = u32(1) + z(4) + u32(6) + u32(1) + u32(5) + u32(1) + u64(0x1000) + u64(0) + z(24)
FAULT_PRM = u32(2) + z(4) + u32(1) + u32(5) + u32(1) + u32(1) + u64(0x2000) + z(16) + z(16)
UNRECOVERABLE = u32(6) + u32(1) + u32(5) + u32(1) + u64(0x1000) + u64(0)
PAGE_REQUEST = u32(3) + u32(5) + u32(1) + u32(1) + u64(0x2000) + z(16)
GPASID_VTD = u64(0x43) + u32(0) + u32(0)
SMMUV3 = u32(1) + u8(0) + u8(0) + z(2)
NESTING_VTD = u32(0) + z(12) + u64(0xd2008c40660462) + u64(0xf050da)

# --- iommufd / VFIO cdev ---------------------------------------------------------------

HW_INFO_66 = with_argsz(u32(0) + u32(0) + u32(1) + u32(0) + u64(0) + u32(0) + u8(0) + z(3))
HW_INFO = with_argsz(HW_INFO_66 + u64(0))
HWPT_ALLOC_66 = with_argsz(u32(0) + u32(1) + u32(1) + u32(2) + u32(0) + u32(0))
HWPT_ALLOC_67 = with_argsz(HWPT_ALLOC_66 + u32(1) + u32(24) + u64(0x1000))
HWPT_ALLOC = with_argsz(
    u32(0) + u32(4) + u32(1) + u32(2) + u32(0) + u32(0) + u32(0) + u32(0) + u64(0)
    + u32(7) + u32(0))
HWPT_INVALIDATE = with_argsz(u32(0) + u32(1) + u64(0x1000) + u32(0) + u32(24) + u32(1) + u32(0))
FAULT_ALLOC = with_argsz(u32(0) + u32(0) + u32(0) + u32(0))
ATTACH_66 = with_argsz(u32(0) + u32(0) + u32(7))
ATTACH_PASID = with_argsz(u32(0) + u32(1) + u32(7) + u32(5))
DETACH_66 = with_argsz(u32(0) + u32(0))
DETACH_PASID = with_argsz(u32(0) + u32(1) + u32(5))
HW_INFO_VTD = u32(0) + u32(0) + u64(0xd2008c40660462) + u64(0xf050da)
HW_INFO_SMMUV3 = u32(0) + u32(0) + z(24) + u32(0x43b) + u32(0)
HWPT_VTD_S1 = u64(0) + u64(0x1000) + u32(48) + u32(0)
HWPT_VTD_S1_INV = u64(0x1000) + u64(1) + u32(0) + u32(0)
HWPT_PGFAULT = u32(1) + u32(1) + u32(5) + u32(1) + u32(1) + u32(0) + u64(0x2000) + u32(4096) + u32(9)
HWPT_PAGE_RESPONSE = u32(9) + u32(0)

DEFAULT = 0xF0  # high nibble >= 3: the struct's default policy


def sel(index, policy=DEFAULT):
    return bytes([(policy << 4 if policy < 3 else DEFAULT) | index])


def declared_structs():
    """(name, size, min_size, sized) of every declared struct, in ALL_STRUCTS order, read
    from docs/layouts.md (generated from the declarations)."""
    out = []
    with open(os.path.join(HERE, "..", "..", "docs", "layouts.md")) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("### `") and line.endswith("`"):
            row = lines[i + 4].strip("|").split("|")
            size, min_size, field = int(row[0]), int(row[2]), row[3].strip()
            out.append((line[5:-1], size, min_size, not field.startswith("none")))
    return out


def every_struct_seeds():
    """Per struct: the zeroed struct at its newest and its minimum size (argsz set)."""
    seeds = {}
    for index, (name, size, min_size, sized) in enumerate(declared_structs()):
        for label, n in (("full", size), ("min", min_size)):
            body = z(n)
            if sized:
                body = u32(n) + body[4:]
            seeds[f"ok-{name}-{label}"] = bytes([index, DEFAULT]) + body
    return seeds


def read_example(name):
    with open(os.path.join(EXAMPLES, name), "rb") as f:
        return f.read()


SEEDS = {
    "cache_invalidate": {
        "ok-addr-iotlb": cache_inv(1, 2, ADDR_INFO),
        "ok-pasid-cache": cache_inv(4, 1, PASID_INFO),
        "ok-domain": cache_inv(1, 0),
        "ok-newer-user-zero-tail": cache_inv(1, 2, ADDR_INFO + z(8)),
        "edge-addr-argsz-40": cache_inv(1, 2, ADDR_INFO, argsz=40),
        "edge-nonzero-tail": cache_inv(1, 2, ADDR_INFO + z(7) + b"\xff"),
        "edge-argsz-4097": cache_inv(1, 2, ADDR_INFO + z(8), argsz=4097),
        "edge-argsz-max": cache_inv(1, 2, ADDR_INFO, argsz=0xFFFFFFFF),
        "edge-short": u32(56)[:3],
    },
    "gpasid_bind": {
        "ok-vtd": gpasid_bind(),
        "ok-vtd-gpasid-val": gpasid_bind(flags=1, vtd_flags=0x43),
        "ok-no-vendor-member": gpasid_bind(vendor=False),
        "edge-format-0": gpasid_bind(fmt=0, vendor=False),
        "edge-vtd-unknown-flag": gpasid_bind(vtd_flags=0x80),
        "edge-argsz-64": gpasid_bind(argsz=64),
    },
    "page_response": {
        "ok-success": page_response(),
        "ok-failure-no-pasid": page_response(flags=0, code=2),
        "edge-code-3": page_response(code=3),
        "edge-argsz-16": page_response(argsz=16),
        "edge-newer-user": page_response(argsz=32) + z(8),
    },
    "pasid_table_config": {
        "ok-translate": pasid_table_config(),
        "ok-bypass": pasid_table_config(config=2),
        "edge-argsz-24": pasid_table_config(argsz=24),
        "edge-format-2": pasid_table_config(fmt=2),
        "edge-config-4": pasid_table_config(config=4),
    },
    "pasid_request": {
        "ok-alloc": pasid_request(1, 1, 100),
        "ok-free": pasid_request(2, 1, 100),
        "edge-both-flags": pasid_request(3, 1, 100),
        "edge-inverted-range": pasid_request(1, 9, 1),
        "edge-argsz-12": pasid_request(1, 1, 100, argsz=12),
    },
    "nesting_op": {
        "ok-cache-invld": nesting_op(2, cache_inv(1, 2, ADDR_INFO)),
        "ok-bind": nesting_op(0, gpasid_bind()),
        "ok-unbind": nesting_op(1, gpasid_bind()),
        "edge-unknown-op": nesting_op(3, cache_inv(1, 0)),
        "edge-high-flag-bits": nesting_op(0x10002, cache_inv(1, 0)),
        "edge-header-only": nesting_op(2, b""),
    },
    "records_2020": {
        "ok-nesting-info": sel(0) + NESTING_INFO,
        "ok-fault-event": sel(1) + FAULT_EVENT,
        "ok-fault-prm": sel(1) + FAULT_PRM,
        "ok-fault-unrecoverable": sel(2) + UNRECOVERABLE,
        "ok-fault-page-request": sel(3) + PAGE_REQUEST,
        "ok-inv-addr-info": sel(4) + ADDR_INFO,
        "ok-inv-pasid-info": sel(5) + PASID_INFO,
        "ok-gpasid-vtd": sel(6) + GPASID_VTD,
        "ok-pasid-smmuv3": sel(7) + SMMUV3,
        "ok-nesting-info-vtd": sel(8) + NESTING_VTD,
        "edge-fault-event-zero-tail": sel(1, 1) + FAULT_EVENT[:40],
        "edge-nesting-info-xend": sel(0, 2) + NESTING_INFO[:40],
    },
    "iommufd": {
        "ok-hw-info-v6.6": sel(0) + HW_INFO_66,
        "ok-hw-info": sel(0) + HW_INFO,
        "ok-hwpt-alloc-v6.6": sel(1) + HWPT_ALLOC_66,
        "ok-hwpt-alloc-v6.7": sel(1) + HWPT_ALLOC_67,
        "ok-hwpt-alloc-fault": sel(1) + HWPT_ALLOC,
        "ok-hwpt-invalidate": sel(2) + HWPT_INVALIDATE,
        "ok-fault-alloc": sel(3) + FAULT_ALLOC,
        "ok-attach-v6.6": sel(4) + ATTACH_66,
        "ok-attach-pasid": sel(4) + ATTACH_PASID,
        "ok-detach-v6.6": sel(5) + DETACH_66,
        "ok-detach-pasid": sel(5) + DETACH_PASID,
        "ok-hw-info-vtd": sel(6) + HW_INFO_VTD,
        "ok-hw-info-smmuv3": sel(7) + HW_INFO_SMMUV3,
        "ok-hwpt-vtd-s1": sel(8) + HWPT_VTD_S1,
        "ok-hwpt-vtd-s1-invalidate": sel(9) + HWPT_VTD_S1_INV,
        "ok-hwpt-pgfault": sel(10) + HWPT_PGFAULT,
        "ok-hwpt-page-response": sel(11) + HWPT_PAGE_RESPONSE,
        "edge-hwpt-alloc-nonzero-tail": sel(1) + with_argsz(HWPT_ALLOC + z(3) + b"\x01"),
        "edge-hwpt-alloc-linux510": sel(1, 0) + with_argsz(HWPT_ALLOC + z(3) + b"\x01"),
        "edge-attach-pasid-argsz-12": sel(4) + with_argsz(ATTACH_PASID, 12),
        "edge-attach-zero-tail": sel(4, 1) + with_argsz(ATTACH_PASID + z(4)),
        "edge-hw-info-argsz-4097": sel(0) + with_argsz(HW_INFO, 4097),
    },
    "every_struct": every_struct_seeds(),
    "explain_batch": {
        "ok-examples-batch": read_example("batch.jsonl"),
        "ok-one-line": (b'{"struct": "iommu_page_response", "hex": "'
                        + page_response().hex().encode() + b'"}\n'),
        "ok-hex-file": read_example("cache-invalidate-addr.hex"),
        "edge-malformed": (b'\n  \n{"struct": 1}\nnot json\n{"struct": "x", "hex": ""}\n'
                           b'{"struct": "iommu_hwpt_alloc", "policy": "zero-tail", '
                           b'"vendor": "vtd", "hex": "0x18:00-00 00", "extra": 1}\n'
                           b'\xff\xfe\n[1, 2]\n{"struct": "iommu_hw_info", "hex": "1"}'),
    },
}


def main():
    for target, seeds in SEEDS.items():
        d = os.path.join(CORPUS, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
