; generations.asm — old and new guests of issue 7: the well-behaved sequence built with
; the header sizes of generation GEN (compat-tests/src/generations.rs).
;
; Build: nasm -f bin -D GEN=1 -o gen1.bin generations.asm   (GEN = 1, 2, 3; ./build.sh)
; Load:  GPA 0x1000, CS:IP = 0:0x1000, real mode, 1 MiB RAM; device id at GPA 0x04F0.
;
;            iommu_gpasid_bind_data   iommu_cache_invalidate_info   new-feature requests
;   gen1     argsz 72 (envelope 80)   argsz 56 (envelope 64)        none
;   gen2     argsz 72 (envelope 80)   argsz 56 (envelope 64)        a, b
;   gen3     argsz 88 (envelope 96)   argsz 72 (envelope 80)        a, b, c, d
; (page responses and PASID requests have no G2/G3: no padding, no union.)
;
; Old features (every generation): exactly the sequence of well_behaved.asm (see there),
; with the bytes past G1's size zero; vsva (linux-5.10) ignores them, so every result is
; the same as for the G1 guest. The new-feature requests come right after the 11
; invalidations (before READY), all while A and B are bound; vsva is a G1 consumer, so:
;
;   a (G2+)  CACHE_INVLD IOTLB PASID A with G2 flags = ASID_VALID (@10), asid 0x5a5a (@12)
;            -> -EINVAL (NonZeroReserved: G1's padding[6])
;   b (G2+)  BIND_PGTBL A with G2 flag PASID_BITS (bit 1), pasid_bits 20 (@48)
;            -> -EINVAL (UnknownFlags)
;   c (G3)   CACHE_INVLD IOTLB granularity 3 (RANGE_LIST), bytes 16..72 = 0x5a
;            -> -EINVAL (UnsupportedValue: granularity)
;   d (G3)   BIND_PGTBL A with format 2 (VENDOR2), bytes 56..88 = 0x5a
;            -> -EINVAL (UnsupportedValue: format)
;
; Each refusal changes nothing: the backend sees the same effects as for the G1 guest.
; requests_sent = 21 + (0, 2, 4) + DETAILS.status + DETAILS.reads + DETAILS.responses.

bits 16
org 0x1000

%include "pv.inc"

%ifndef GEN
%error "assemble with -D GEN=1, 2 or 3"
%endif
%if GEN == 1
GUEST_ID equ GUEST_GEN1
%elif GEN == 2
GUEST_ID equ GUEST_GEN2
%else
GUEST_ID equ GUEST_GEN3
%endif

start:
%include "body.inc"
