; vtd_linux.asm — a real-mode guest that drives the mini-VMM's emulated VT-d the way
; Linux's intel-iommu driver does (scalable mode, caching mode): boot, device probe, an
; SVA bind, an mmu-notifier flush, the unbind and its drain.
;
; Build: nasm -f bin -o vtd_linux.bin vtd_linux.asm   (or ./build.sh)
; Load:  GPA 0x1000, CS:IP = 0:0x1000, real mode, 1 MiB RAM; the unit's window at GPA
;        0x100000 (vtd.inc), the device under requester id 00:01.0 (0x0008).
;
; The sequence (each queue submission is followed by Linux's wait descriptor: SW with
; QI_DONE into a status slot, IQT written with a 32-bit store, the slot checked at once):
;
;   1  CAP, ECAP, VER, GSTS read; CAP.CM, ECAP.QI, ECAP.SMTS, ECAP.FSTS expected
;   2  QI on: IQT = 0, IQA = 0xC000 | DW (256-bit) | QS 1, GCMD.QIE, poll GSTS.QIES
;   3  root table at 0x8000 (bus 0 -> context table 0x9000), RTADDR with TTM = scalable,
;      GCMD.SRTP, poll GSTS.RTPS (ESRTPS: no global flushes after it)
;   4  page request queue at 0xF000 (PQH = PQT = 0, PQA, PEDATA/PEADDR -> 0x0588), the
;      fault event (FEDATA 0x40, FEADDR -> 0x0580), unmasked
;   5  GCMD.TE, poll GSTS.TES
;   6  probe: context entry of 0x0008 (P, PASIDE, PRE, PASID directory 0xA000, PDTS 0),
;      submission #1 context-cache device-selective, #2 IOTLB domain-selective
;   7  bind PASID 5 (DID 1, first-stage pgd 0x20000, AW 48): directory entry -> PASID
;      table 0xB000, the entry with P written last, #3 PASID-cache PASID-selective +
;      PIOTLB all-in-PASID
;   7b hlt: the host injects a page request and resumes the guest; poll the PRQ event's
;      memory write, check PQT and the PASID, #4 page group response (RC 0xF), PQH = PQT,
;      PRS.PPR cleared
;   8  flush 16 pages at 0x7f0000010000: #5 PIOTLB page-selective + PASID device-TLB
;   9  unbind: clear P, #6 PASID-cache + PIOTLB all-in-PASID + PASID device-TLB, clear
;      the entry, #7 the drain: fence wait + PIOTLB + device-TLB (wait with PD)
;  10  GSTS, IQH, FSTS read (FSTS expected 0); report; hlt
;
; Report: requests_sent = submissions (7), unexpected_results = failed checks (the first
; in DIAG: eax = what was read, edx = the check id or the expected value),
; reserved = waits whose status read QI_DONE (7).
; DETAILS (0x0540): u32 CAP lo, CAP hi, ECAP lo, ECAP hi, descriptors written (20, the
; waits included), GSTS, IQH, FSTS at the end.

bits 16
org 0x1000

%include "pv.inc"
%include "vtd.inc"

GUEST_ID            equ GUEST_VTD_LINUX

RID                 equ 0x0008
PASID               equ 5
DID                 equ 1
GPGD                equ 0x20000

ROOT                equ 0x8000
CTX                 equ 0x9000
PDIR                equ 0xA000
PTBL                equ 0xB000
IQ                  equ 0xC000      ; QS 1: 8 KiB, 256 x 32 bytes
STATUS              equ 0xE000      ; one u32 per queue slot
PRQ                 equ 0xF000      ; PQS 0: 4 KiB
IQ_ENTRIES          equ 256
MSI_FAULT           equ 0x0580
MSI_PRQ             equ 0x0588
POLLS               equ 1000

start:
    GUEST_START GUEST_ID
    mov ax, VTD_SEG
    mov fs, ax

    ; 1: capabilities
    VTD_R32 VTD_CAP
    mov [DETAILS + 0], eax
    mov edx, 1
    test eax, CAP_LO_CM
    jnz .cm
    call note_bad
.cm:
    VTD_R32 VTD_CAP + 4
    mov [DETAILS + 4], eax
    VTD_R32 VTD_ECAP
    mov [DETAILS + 8], eax
    mov edx, 2
    test eax, ECAP_LO_QI
    jnz .qi
    call note_bad
.qi:
    VTD_R32 VTD_ECAP + 4
    mov [DETAILS + 12], eax
    mov edx, 3
    test eax, ECAP_HI_SMTS
    jnz .smts
    call note_bad
.smts:
    mov edx, 4
    test eax, ECAP_HI_FSTS
    jnz .fsts
    call note_bad
.fsts:
    VTD_R32 VTD_VER
    VTD_R32 VTD_GSTS
    and eax, GCMD_TE | GCMD_QIE
    mov [gcmd], eax

    ; 2: queued invalidation
    VTD_W32 VTD_IQT, 0
    VTD_W32 VTD_IQT + 4, 0
    VTD_W32 VTD_IQA, IQ | 0x800 | 1
    VTD_W32 VTD_IQA + 4, 0
    mov ebx, GCMD_QIE
    call gcmd_set

    ; 3: root table, scalable mode
    mov dword [ROOT], CTX | 1
    VTD_W32 VTD_RTADDR, ROOT | (1 << 10)
    VTD_W32 VTD_RTADDR + 4, 0
    mov eax, [gcmd]
    or eax, GCMD_SRTP
    VTD_W32 VTD_GCMD, eax
    mov ebx, GCMD_SRTP
    call poll_gsts

    ; 4: page request queue and the fault event
    VTD_W32 VTD_PEDATA, 0x41
    VTD_W32 VTD_PEADDR, MSI_PRQ
    VTD_W32 VTD_PEUADDR, 0
    VTD_W32 VTD_PECTL, 0
    VTD_W32 VTD_PQH, 0
    VTD_W32 VTD_PQH + 4, 0
    VTD_W32 VTD_PQT, 0
    VTD_W32 VTD_PQT + 4, 0
    VTD_W32 VTD_PQA, PRQ
    VTD_W32 VTD_PQA + 4, 0
    VTD_W32 VTD_FEDATA, 0x40
    VTD_W32 VTD_FEADDR, MSI_FAULT
    VTD_W32 VTD_FEUADDR, 0
    VTD_W32 VTD_FECTL, 0

    ; 5: translation on
    mov ebx, GCMD_TE
    call gcmd_set

    ; 6: device probe
    mov dword [CTX + (RID & 0x7f) * 32], PDIR | 1 | (1 << 3) | (1 << 4)
    mov si, d_cc_dev
    mov cx, 1
    xor dl, dl
    call qi_submit
    mov si, d_iotlb_dsi
    mov cx, 1
    call qi_submit

    ; 7: bind PASID 5
    mov dword [PDIR + (PASID >> 6) * 8], PTBL | 1
    mov dword [PTBL + PASID * 64], (2 << 2) | (1 << 6)   ; AW 48, PGTT first-stage
    mov dword [PTBL + PASID * 64 + 8], DID
    mov dword [PTBL + PASID * 64 + 16], GPGD
    or dword [PTBL + PASID * 64], 1                      ; P last
    mov si, d_bind
    mov cx, 2
    call qi_submit

    ; 7b: a page request. The guest halts; the host injects a page request for the device
    ; (PASID 5) and resumes it. The unit writes the descriptor into the PRQ and raises the
    ; page request event (PEDATA 0x41 stored at MSI_PRQ); the guest polls for it, checks
    ; PQT (one descriptor) and the descriptor's PASID, answers with a page group response
    ; (RID, PASID, PRGI and LPIG of the request, RC 0xF: VT-d's response failure) + wait,
    ; moves PQH to PQT and clears PRS.PPR.
    hlt
    mov ecx, POLLS
.prq_wait:
    cmp dword [MSI_PRQ], 0x41
    je .prq_got
    loop .prq_wait
    mov edx, 5
    call note_bad
    jmp .prq_done
.prq_got:
    VTD_R32 VTD_PQT
    mov edx, 32
    call expect_eq
    mov eax, [PRQ + 4]
    and eax, 0xFFFFF
    mov edx, PASID
    call expect_eq
    mov eax, [PRQ]
    mov ebx, eax
    shr ebx, 4
    and ebx, 0x10                   ; PP (bit 8) -> bit 4
    and eax, 0xFFFF0000             ; RID
    or eax, ebx
    or eax, 9 | (0xF << 12)
    mov [d_resp], eax
    mov eax, [PRQ + 4]
    and eax, 0xFFFFF                ; PASID
    mov [d_resp + 4], eax
    mov eax, [PRQ + 8]
    and eax, 0xFFC                  ; PRGI, LPIG
    mov [d_resp + 8], eax
    mov si, d_resp
    mov cx, 1
    xor dl, dl
    call qi_submit
    VTD_R32 VTD_PQT
    VTD_W32 VTD_PQH, eax
    VTD_W32 VTD_PRS, 1
.prq_done:

    ; 8: mmu-notifier flush
    mov si, d_flush
    mov cx, 2
    xor dl, dl
    call qi_submit

    ; 9: unbind and drain
    and dword [PTBL + PASID * 64], ~1
    mov si, d_unbind
    mov cx, 3
    call qi_submit
    mov di, PTBL + PASID * 64
    mov cx, 64
    call zero_mem
    mov si, d_drain
    mov cx, 3
    mov dl, 1
    call qi_submit

    ; 10: the end
    VTD_R32 VTD_GSTS
    mov [DETAILS + 20], eax
    VTD_R32 VTD_IQH
    mov [DETAILS + 24], eax
    VTD_R32 VTD_FSTS
    mov [DETAILS + 28], eax
    xor edx, edx
    call expect_eq
    mov dword [REPORT + REP_MAGIC], REPORT_MAGIC
    hlt
    jmp $ - 1

; gcmd_set: sets the GCMD bit in ebx (kept in [gcmd]), writes GCMD, polls GSTS for it.
gcmd_set:
    or [gcmd], ebx
    mov eax, [gcmd]
    VTD_W32 VTD_GCMD, eax
    ; fall through
; poll_gsts: reads GSTS until the bits in ebx are set (at most POLLS reads; a timeout
; counts as unexpected with edx = ebx).
poll_gsts:
    push ecx
    mov ecx, POLLS
.again:
    VTD_R32 VTD_GSTS
    and eax, ebx
    cmp eax, ebx
    je .done
    loop .again
    mov edx, ebx
    call note_bad
.done:
    pop ecx
    ret

; qi_submit: ds:si = cx 32-byte descriptors, dl = 1 for a draining (PD) wait. Copies them
; at the free head, appends the wait (SW, QI_DONE -> its status slot), writes IQT (32-bit),
; checks the slot. Counts one request; a slot not QI_DONE is unexpected.
qi_submit:
    pushad
    mov bx, [free_head]
.copy:
    jcxz .wait
    mov di, bx
    shl di, 5
    add di, IQ
    push cx
    mov cx, 16
    rep movsw
    pop cx
    mov di, bx
    shl di, 2
    mov dword [di + STATUS], 0
    inc bx
    and bx, IQ_ENTRIES - 1
    inc dword [DETAILS + 16]
    dec cx
    jmp .copy
.wait:
    mov di, bx
    shl di, 2
    add di, STATUS
    mov dword [di], 1
    mov [wait_slot], di
    mov di, bx
    shl di, 5
    add di, IQ
    mov eax, 5 | (1 << 5)
    test dl, dl
    jz .nodrain
    or eax, 1 << 7
.nodrain:
    mov [di], eax
    mov dword [di + 4], QI_DONE
    movzx eax, word [wait_slot]
    mov [di + 8], eax
    xor eax, eax
    mov [di + 12], eax
    mov [di + 16], eax
    mov [di + 20], eax
    mov [di + 24], eax
    mov [di + 28], eax
    inc dword [DETAILS + 16]
    inc bx
    and bx, IQ_ENTRIES - 1
    mov [free_head], bx
    movzx eax, bx
    shl eax, 5
    VTD_W32 VTD_IQT, eax
    inc dword [REPORT + REP_SENT]
    mov si, [wait_slot]
    mov eax, [si]
    mov edx, QI_DONE
    cmp eax, edx
    jne .bad
    inc dword [REPORT + REP_RESERVED]
    jmp .out
.bad:
    call note_bad
.out:
    popad
    ret

%include "report.inc"

gcmd:       dd 0
free_head:  dw 0
wait_slot:  dw 0

align 8
; context-cache device-selective; IOTLB domain-selective
d_cc_dev:    dq 1 | (3 << 4) | (RID << 32), 0, 0, 0
d_iotlb_dsi: dq 2 | (2 << 4), 0, 0, 0
; PASID-cache PASID-selective; PIOTLB all-in-PASID
d_bind:      dq 7 | (1 << 4) | (DID << 16) | (PASID << 32), 0, 0, 0
             dq 6 | (2 << 4) | (DID << 16) | (PASID << 32), 0, 0, 0
; PIOTLB page-selective (AM 4, IH 0, 16 pages); PASID device-TLB, whole range
d_flush:     dq 6 | (3 << 4) | (DID << 16) | (PASID << 32), 4 | 0x7f0000010000, 0, 0
             dq 8 | (RID << 16) | (PASID << 32), (1 << 11) | 0x7ffffffffffff000, 0, 0
d_unbind:    dq 7 | (1 << 4) | (DID << 16) | (PASID << 32), 0, 0, 0
             dq 6 | (2 << 4) | (DID << 16) | (PASID << 32), 0, 0, 0
             dq 8 | (RID << 16) | (PASID << 32), (1 << 11) | 0x7ffffffffffff000, 0, 0
; the page group response (filled in from the request)
d_resp:      dq 0, 0, 0, 0
; the drain: fence wait (FN, QI_DONE, no status write), PIOTLB all-in-PASID, device-TLB
d_drain:     dq 5 | (1 << 6) | (QI_DONE << 32), 0, 0, 0
             dq 6 | (2 << 4) | (DID << 16) | (PASID << 32), 0, 0, 0
             dq 8 | (RID << 16) | (PASID << 32), (1 << 11) | 0x7ffffffffffff000, 0, 0
