; well_behaved.asm — the well-behaved guest of issue 7 (G1 header sizes).
;
; Build: nasm -f bin -o well_behaved.bin well_behaved.asm   (or ./build.sh)
; Load:  GPA 0x1000, CS:IP = 0:0x1000, real mode, 1 MiB RAM; device id at GPA 0x04F0.
;
; The request sequence (every result checked; a differing one counts in
; unexpected_results and the first is recorded in DIAG at 0x0510):
;
;   #   request                                                        expected
;   1   NOP                                                            0
;   2   PASID_REQUEST ALLOC [1, 0xFFFFF]                   -> A        1 ..= 0xFFFFF
;   3   PASID_REQUEST ALLOC [1, 0xFFFFF]                   -> B        1 ..= 0xFFFFF, != A
;   4   NESTING_OP BIND_PGTBL A, gpgd 0x20000, no GPASID_VAL           0
;   5   NESTING_OP BIND_PGTBL B, gpgd 0x30000, GPASID_VAL gpasid 0x42  0
;   6   CACHE_INVLD IOTLB      DOMAIN                                  -EINVAL (VT-d table)
;   7   CACHE_INVLD DEV_IOTLB  DOMAIN                                  -EINVAL (generic+VT-d)
;   8   CACHE_INVLD PASID      DOMAIN                                  -EINVAL (VT-d table)
;   9   CACHE_INVLD IOTLB      PASID A                                 0  (forwarded)
;  10   CACHE_INVLD DEV_IOTLB  PASID A                                 -EINVAL (VT-d table)
;  11   CACHE_INVLD PASID      PASID A                                 -EINVAL (VT-d table)
;  12   CACHE_INVLD IOTLB      ADDR A 0x7f1234567000 4K x16 LEAF        0  (forwarded)
;  13   CACHE_INVLD DEV_IOTLB  ADDR A (same range)                     0  (forwarded)
;  14   CACHE_INVLD PASID      ADDR A (same range)                     -EINVAL (generic+VT-d)
;  15   CACHE_INVLD IOTLB|DEV_IOTLB ADDR B (same range)                0  (forwarded)
;  16   CACHE_INVLD IOTLB      PASID B                                 0  (forwarded)
;  17   READY                                                          0
;  ..   FAULT_STATUS until > 0 (at most 1000 polls; none at all is unexpected)
;  ..   rounds of: READ_FAULTS (512-byte buffer, 8 records) -> whole records, then for
;       each record: type 2 (page request); if LAST_PAGE: PAGE_RESPONSE (arg0 = the
;       device id at GPA 0x04F0) {argsz 24, version 1, flags = PASID_VALID if the record
;       has it, pasid echoed, grpid echoed, code SUCCESS} -> 0; then FAULT_STATUS,
;       again while > 0 (at most 64 rounds)
;   +1  NESTING_OP UNBIND_PGTBL A (the bind data of 4)                 0
;   +2  NESTING_OP UNBIND_PGTBL B (the bind data of 5)                 0
;   +3  PASID_REQUEST FREE [A, A]                                      0
;   +4  PASID_REQUEST FREE [B, B]                                      0
;
; Backend effects: 2 PASIDs allocated then freed, 2 binds (A: gpgd 0x20000, no guest
; PASID; B: gpgd 0x30000, guest PASID 0x42), 5 invalidations forwarded (#9, 12, 13, 15,
; 16; the 6 refused ones change nothing), one SUCCESS response per last-page request
; injected, 2 unbinds. requests_sent = 21 + DETAILS.status + DETAILS.reads +
; DETAILS.responses; unexpected_results = 0.
;
; DETAILS (0x0540): u32 A, B, invalidations sent (11), expected forwarded (5), fault
; records read, responses sent, FAULT_STATUS requests, READ_FAULTS requests.

bits 16
org 0x1000

%include "pv.inc"

%define GEN 1
GUEST_ID equ GUEST_WELL_BEHAVED

start:
%include "body.inc"
