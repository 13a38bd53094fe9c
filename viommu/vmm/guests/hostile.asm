; hostile.asm — the hostile guest of issue 7: a guest-side xorshift32 PRNG drives
; HOSTILE_REQUESTS garbage requests at the paravirtual vIOMMU.
;
; Build: nasm -f bin -o hostile.bin hostile.asm   (or ./build.sh)
; Load:  GPA 0x1000, CS:IP = 0:0x1000, real mode, 1 MiB RAM. Boot info (optional):
;        u32 device id at GPA 0x04F0, u32 PRNG seed at 0x04F4 (0: 0x2545F491).
;
; Sequence: one legitimate PASID_REQUEST ALLOC [1, 0xFFFFF] (expected: a PASID) and a
; G1 BIND_PGTBL of it with guest PASID 0x77 (expected: 0), so the guest owns something to
; abuse; then HOSTILE_REQUESTS (2000) iterations, each exactly one doorbell of a random
; kind (rand % 11):
;
;   0  random op (half the time & 7), arg0 = 0x3b76 / 0x3b77 / random, random struct bytes
;      with a random argsz                               result plausible (see below);
;                                                        op >= 6: exactly -EINVAL
;   1  PASID_REQUEST: argsz 16 or from SIZES, flags ALLOC / FREE / both / random, random
;      (20-bit or 32-bit) range                          plausible; flags not exactly
;                                                        ALLOC or FREE: an errno
;   2  NESTING_OP: envelope argsz and inner argsz from SIZES or random, op 0/1/2/random,
;      random payload bytes                              0 or an errno; op > 2: an errno
;   3  BIND_PGTBL / UNBIND_PGTBL, a valid G1 bind naming a host PASID the guest never
;      allocated (random 20-bit), random guest PASID     exactly -EINVAL (NotOwned, or a
;                                                        range check)
;   4  CACHE_INVLD, a valid G1 invalidation (IOTLB at PASID, or IOTLB|DEV_IOTLB at ADDR)
;      naming a PASID the guest never allocated          exactly -EINVAL
;   5  PAGE_RESPONSE to a fault never received: device = own id / random / own id ^ small,
;      argsz / version / flags / pasid / grpid / code mostly sane, sometimes random
;                                                        an errno; once a READ_FAULTS
;                                                        has returned a record (a random
;                                                        READY injected some), 0 or an
;                                                        errno for the own device
;   6  READ_FAULTS, length from SIZES or random, buffer at >= 64 KiB, near the end of RAM
;      or outside RAM                                    an errno, or 0 <= r <= length
;                                                        and r % 64 == 0
;   7  FAULT_STATUS                                      0 ..= 0xFFFF
;   8  unknown op (>= 6)                                 exactly -EINVAL
;   9  a doorbell the VMM must ignore: a block at 0xFFFF1..0xFFFFF (partly outside RAM),
;      at >= 1 MiB, near 4 GiB, or a 1- or 2-byte `out` of the usual block
;                                                        no result written: the block's
;                                                        result stays PV_SENTINEL and the
;                                                        last 16 bytes of RAM unchanged
;  10  IOCTL with a random request code (not 0x3b76 / 0x3b77)      an errno
;
; Struct placement (kinds 0, 1, 2, 5, 10): 5/8 at the scratch buffer (0x9000), 1/8 the
; first 1..40 bytes copied to the end of RAM (GPA 0x100000 - k, the rest "past RAM"),
; 1/8 above RAM (1 MiB .. 2 MiB, or near 4 GiB), 1/8 at a random GPA in RAM (read only).
; When the struct is at a random GPA (not the guest's own bytes), kinds 1 and 2 only
; require "plausible". The VMM writes only into the command block and the READ_FAULTS buffer, which is never
; below 64 KiB, so the guest's code and data cannot be corrupted.
;
; "an errno" = a result in [-133, -1]. "plausible" = an errno, or 0 ..= 0xFFFFF (a PASID,
; a byte count or a queue length). Any request whose result breaks its rule, including a
; result the VMM never wrote (PV_SENTINEL), counts in unexpected_results (the first one in
; DIAG at 0x0510). The guest tracks every PASID an ALLOC returned (64 at most; beyond,
; kinds 3 and 4 fall back to "plausible"), so "never allocated" is exact.
;
; requests_sent = 2 + HOSTILE_REQUESTS = 2002 (the ignored doorbells included).
; DETAILS (0x0540): u32 seed, first own PASID, PASIDs ever allocated, strict checks made,
; ignored doorbells sent, unused, faults_read flag, iterations done.
;
; Expected outcome: unexpected_results = 0, the VMM alive, the other VMs unchanged.

bits 16
org 0x1000

%include "pv.inc"

HOSTILE_REQUESTS equ 2000
DEFAULT_SEED     equ 0x2545F491
OWN_GPASID       equ 0x77

; ---- data -------------------------------------------------------------------------------
RNG         equ DATA + 0x00
OWNED_N     equ DATA + 0x04
OWNED_OVF   equ DATA + 0x08
FAULTS_READ equ DATA + 0x0C
CUR_OP      equ DATA + 0x10
CUR_ARG0    equ DATA + 0x14
CUR_LEN     equ DATA + 0x18
GPA_RANDOM  equ DATA + 0x1C         ; pick_gpa chose a random GPA (not our struct)
ITER        equ DATA + 0x20
OWNED       equ DATA + 0x100        ; u32[OWNED_MAX]
OWNED_MAX   equ 64
SCR         equ DATA + 0x1000       ; 0x9000: the struct scratch buffer
SCR_LEN     equ 128

DET_SEED        equ DETAILS + 0
DET_OWN_PASID   equ DETAILS + 4
DET_OWNED       equ DETAILS + 8
DET_STRICT      equ DETAILS + 12
DET_IGNORED     equ DETAILS + 16
DET_FAULTS_READ equ DETAILS + 24
DET_ITER        equ DETAILS + 28

start:
    GUEST_START GUEST_HOSTILE
    mov di, DATA
    mov cx, 0x200
    call zero_mem

    ; the seed
    mov eax, [BOOT_SEED]
    test eax, eax
    jnz .seeded
    mov eax, DEFAULT_SEED
.seeded:
    mov [RNG], eax
    mov [DET_SEED], eax

    ; a PASID of its own, bound
    mov dword [SCR + PR_ARGSZ], PR_SIZE
    mov dword [SCR + PR_FLAGS], PR_FLAG_ALLOC
    mov dword [SCR + PR_MIN], 1
    mov dword [SCR + PR_MAX], PASID_MAX
    PV PV_OP_IOCTL, VFIO_IOMMU_PASID_REQUEST, SCR
    mov [DET_OWN_PASID], eax
    cmp eax, 1
    jl .own_bad
    cmp eax, PASID_MAX
    jg .own_bad
    call note_owned
    mov ebx, OWN_GPASID
    call build_bind                  ; eax = hpasid, ebx = gpasid
    PV PV_OP_IOCTL, VFIO_IOMMU_NESTING_OP, SCR
    EXPECT 0
    jmp .loop_start
.own_bad:
    NOTE_BAD 0xA1
    inc dword [REPORT + REP_SENT]    ; keep requests_sent = 2 + HOSTILE_REQUESTS
.loop_start:

.loop:
    mov ecx, 11
    call rand_below
    shl ax, 1
    mov bx, ax
    call word [kinds + bx]
    inc dword [ITER]
    cmp dword [ITER], HOSTILE_REQUESTS
    jb .loop

    mov eax, [ITER]
    mov [DET_ITER], eax
    mov eax, [OWNED_N]
    mov [DET_OWNED], eax
    mov eax, [FAULTS_READ]
    mov [DET_FAULTS_READ], eax
    GUEST_END

kinds:
    dw k_random_op, k_pasid_request, k_nesting, k_bind_not_owned, k_inv_not_owned
    dw k_page_response, k_read_faults, k_fault_status, k_unknown_op, k_bad_doorbell
    dw k_bad_ioctl

; ---- kind 0: a random op ------------------------------------------------------------------
k_random_op:
    call rand
    mov ebx, eax
    call rand
    test al, 1
    jz .op_full
    and ebx, 7
.op_full:
    mov [CUR_OP], ebx
    mov ecx, 3
    call rand_below
    mov ebx, VFIO_IOMMU_PASID_REQUEST
    cmp al, 0
    je .arg0
    mov ebx, VFIO_IOMMU_NESTING_OP
    cmp al, 1
    je .arg0
    call rand
    mov ebx, eax
.arg0:
    mov [CUR_ARG0], ebx
    cmp dword [CUR_OP], PV_OP_READ_FAULTS
    jne .not_read
    call pick_wgpa
    jmp .send
.not_read:
    call fill_scratch
    call rand
    test al, 1
    jz .keep_argsz
    call pick_size
    mov [SCR], eax
.keep_argsz:
    call pick_gpa
.send:
    PV [CUR_OP], [CUR_ARG0], ecx
    cmp dword [CUR_OP], PV_OP_COUNT
    jb .known
    jmp chk_einval
.known:
    cmp eax, 0
    jle .checked
    cmp dword [CUR_OP], PV_OP_IOCTL
    jne .not_alloc
    cmp dword [CUR_ARG0], VFIO_IOMMU_PASID_REQUEST
    jne .checked
    call note_owned
    jmp .checked
.not_alloc:
    cmp dword [CUR_OP], PV_OP_READ_FAULTS
    jne .checked
    mov dword [FAULTS_READ], 1
.checked:
    mov edx, PASID_MAX
    jmp chk_plausible

; ---- kind 1: PASID_REQUEST ----------------------------------------------------------------
k_pasid_request:
    mov di, SCR
    mov cx, SCR_LEN
    call zero_mem
    mov dword [SCR + PR_ARGSZ], PR_SIZE
    call rand
    test al, 1
    jz .argsz_ok
    call pick_size
    mov [SCR + PR_ARGSZ], eax
.argsz_ok:
    mov ecx, 4
    call rand_below
    inc eax                          ; 1 ALLOC, 2 FREE, 3 both, 4 -> random
    cmp eax, 4
    jne .flags
    call rand
.flags:
    mov [SCR + PR_FLAGS], eax
    mov [CUR_ARG0], eax              ; the flags, for the check
    call rand_pasidish
    mov [SCR + PR_MIN], eax
    call rand_pasidish
    mov [SCR + PR_MAX], eax
    call pick_gpa
    PV PV_OP_IOCTL, VFIO_IOMMU_PASID_REQUEST, ecx
    cmp eax, 0
    jle .no_alloc
    call note_owned
.no_alloc:
    cmp dword [GPA_RANDOM], 0
    jne .lenient                     ; not our struct: its flags are unknown
    mov ebx, [CUR_ARG0]
    cmp ebx, PR_FLAG_ALLOC
    je .lenient
    cmp ebx, PR_FLAG_FREE
    je .lenient
    jmp chk_errno
.lenient:
    mov edx, PASID_MAX
    jmp chk_plausible

; ---- kind 2: NESTING_OP garbage -----------------------------------------------------------
k_nesting:
    call fill_scratch
    call pick_size
    mov [SCR + NEST_ARGSZ], eax
    mov ecx, 4
    call rand_below
    cmp eax, 3
    jne .op
    call rand
.op:
    mov [SCR + NEST_FLAGS], eax
    mov [CUR_ARG0], eax
    call rand
    test al, 1
    jz .inner_random
    call pick_size
    mov [SCR + NEST_DATA + 0], eax   ; the payload's own argsz
    mov dword [SCR + NEST_DATA + 4], 1   ; version 1
.inner_random:
    call pick_gpa
    PV PV_OP_IOCTL, VFIO_IOMMU_NESTING_OP, ecx
    cmp dword [GPA_RANDOM], 0
    jne .maybe_ok                    ; not our struct: its op is unknown
    cmp dword [CUR_ARG0], NEST_CACHE_INVLD
    jbe .maybe_ok
    jmp chk_errno
.maybe_ok:
    xor edx, edx
    jmp chk_plausible

; ---- kind 3: bind / unbind a PASID the guest does not own ---------------------------------
k_bind_not_owned:
    call pick_not_owned
    push eax
    call rand
    and eax, PASID_MAX
    mov ebx, eax                     ; a random guest PASID (0 is out of range: EINVAL too)
    pop eax
    call build_bind
    call rand
    and eax, 1
    mov [SCR + NEST_FLAGS], eax      ; BIND_PGTBL or UNBIND_PGTBL
    PV PV_OP_IOCTL, VFIO_IOMMU_NESTING_OP, SCR
    jmp chk_not_owned

; ---- kind 4: invalidate a PASID the guest does not own ------------------------------------
k_inv_not_owned:
    mov di, SCR
    mov cx, SCR_LEN
    call zero_mem
    mov dword [SCR + NEST_ARGSZ], NEST_DATA + INV_G1_SIZE
    mov dword [SCR + NEST_FLAGS], NEST_CACHE_INVLD
    mov dword [SCR + NEST_DATA + INV_ARGSZ], INV_G1_SIZE
    mov dword [SCR + NEST_DATA + INV_VERSION], 1
    call rand
    test al, 1
    jz .addr
    mov byte [SCR + NEST_DATA + INV_CACHE], CACHE_IOTLB
    mov byte [SCR + NEST_DATA + INV_GRANU], GRANU_PASID
    mov dword [SCR + NEST_DATA + PINFO_FLAGS], 1             ; PASID
    jmp .pasid
.addr:
    mov byte [SCR + NEST_DATA + INV_CACHE], CACHE_IOTLB | CACHE_DEV_IOTLB
    mov byte [SCR + NEST_DATA + INV_GRANU], GRANU_ADDR
    mov dword [SCR + NEST_DATA + AINFO_FLAGS], 5             ; PASID | LEAF
    call rand
    and eax, 0xFFFFF000
    mov [SCR + NEST_DATA + AINFO_ADDR], eax
    mov dword [SCR + NEST_DATA + AINFO_GRANULE], 4096
    mov dword [SCR + NEST_DATA + AINFO_NB], 1
.pasid:
    call pick_not_owned
    mov [SCR + NEST_DATA + PINFO_PASID], eax
    call rand
    test al, 3
    jnz .low_only
    mov [SCR + NEST_DATA + PINFO_PASID + 4], eax             ; a PASID above 32 bits
.low_only:
    PV PV_OP_IOCTL, VFIO_IOMMU_NESTING_OP, SCR
    jmp chk_not_owned

; ---- kind 5: a page response to a fault never received ------------------------------------
k_page_response:
    mov di, SCR
    mov cx, SCR_LEN
    call zero_mem
    mov dword [SCR + RESP_ARGSZ], RESP_SIZE
    call rand
    test al, 3
    jnz .argsz
    call pick_size
    mov [SCR + RESP_ARGSZ], eax
.argsz:
    mov dword [SCR + RESP_VERSION], 1
    call rand
    test al, 7
    jnz .version
    mov [SCR + RESP_VERSION], eax
.version:
    call rand
    mov [SCR + RESP_PASID], eax
    mov ebx, eax
    and ebx, PASID_MAX
    test ah, 1
    jz .pasid20
    mov [SCR + RESP_PASID], ebx
.pasid20:
    call rand
    mov ebx, eax
    and ebx, 1
    test ah, 7
    jz .flags
    mov ebx, eax
.flags:
    mov [SCR + RESP_FLAGS], ebx
    call rand
    mov ebx, eax
    and ebx, 0x1ff
    test ah, 3
    jz .grpid
    mov ebx, eax
.grpid:
    mov [SCR + RESP_GRPID], ebx
    call rand
    mov ebx, eax
    and ebx, 3
    test ah, 7
    jz .code
    mov ebx, eax
.code:
    mov [SCR + RESP_CODE], ebx
    ; the device: its own, a neighbour of it (another VM's, perhaps), or random
    mov ecx, 3
    call rand_below
    mov ebx, [BOOT_DEVICE_ID]
    cmp al, 0
    je .device
    push ebx
    call rand
    pop ebx
    cmp al, 128
    jb .random_device
    and eax, 0x3ff
    inc eax
    xor ebx, eax
    jmp .device
.random_device:
    call rand
    mov ebx, eax
.device:
    mov [CUR_ARG0], ebx
    call pick_gpa
    PV PV_OP_PAGE_RESPONSE, [CUR_ARG0], ecx
    cmp dword [FAULTS_READ], 0
    je .strict
    mov ebx, [CUR_ARG0]
    cmp ebx, [BOOT_DEVICE_ID]
    je .maybe
.strict:
    jmp chk_errno
.maybe:
    xor edx, edx
    jmp chk_plausible

; ---- kind 6: READ_FAULTS ------------------------------------------------------------------
k_read_faults:
    call pick_size
    mov [CUR_LEN], eax
    call pick_wgpa
    PV PV_OP_READ_FAULTS, [CUR_LEN], ecx
    call is_errno
    jnc .ok
    cmp eax, 0
    jl .bad
    cmp eax, [CUR_LEN]
    ja .bad
    test al, FAULT_SIZE - 1
    jnz .bad
    test eax, eax
    jz .ok
    mov dword [FAULTS_READ], 1
.ok:
    ret
.bad:
    NOTE_BAD 0x106
    ret

; ---- kind 7: FAULT_STATUS -----------------------------------------------------------------
k_fault_status:
    PV PV_OP_FAULT_STATUS, 0, 0
    cmp eax, 0
    jl .bad
    cmp eax, 0xFFFF
    jg .bad
    ret
.bad:
    NOTE_BAD 0x107
    ret

; ---- kind 8: an unknown op ----------------------------------------------------------------
k_unknown_op:
    call rand
    mov ebx, eax
    call rand
    test al, 1
    jz .full
    and ebx, 0xFF
.full:
    cmp ebx, PV_OP_COUNT
    jae .op
    add ebx, PV_OP_COUNT
.op:
    mov [CUR_OP], ebx
    call rand
    mov [CUR_ARG0], eax
    call rand
    and eax, 0xFFFFF
    mov [CUR_LEN], eax
    PV [CUR_OP], [CUR_ARG0], [CUR_LEN]
    jmp chk_einval

; ---- kind 9: doorbells the VMM must ignore ------------------------------------------------
k_bad_doorbell:
    ; mark the last 16 bytes of RAM and the usual block's result
    push es
    mov ax, 0xF000
    mov es, ax
    mov di, 0xFFF0
    mov cx, 16
    mov al, 0xA5
    rep stosb
    pop es
    mov dword [PV_CMD + CMD_OP], PV_OP_NOP
    mov dword [PV_CMD + CMD_RESULT], PV_SENTINEL
    mov ecx, 5
    call rand_below
    cmp al, 1
    jb .partial
    je .above
    cmp al, 3
    jb .wrap
    je .narrow16
    ; 1-byte out of the usual block's low byte
    mov dx, PV_PORT
    mov al, PV_CMD & 0xFF
    out dx, al
    jmp .sent
.narrow16:
    mov dx, PV_PORT
    mov ax, PV_CMD
    out dx, ax
    jmp .sent
.partial:                            ; 0xFFFF1 ..= 0xFFFFF: 1..15 bytes in RAM
    mov ecx, 15
    call rand_below
    add eax, 0xFFFF1
    jmp .ring
.above:                              ; 1 MiB ..< 2 MiB
    call rand
    and eax, 0xFFFFF
    or eax, 0x100000
    jmp .ring
.wrap:                               ; near 4 GiB: gpa + 16 wraps a u32
    call rand
    or eax, 0xFFFFFFF0
.ring:
    mov dx, PV_PORT
    out dx, eax
.sent:
    inc dword [REPORT + REP_SENT]
    inc dword [DET_IGNORED]
    inc dword [DET_STRICT]
    ; nothing may have been written
    mov eax, [PV_CMD + CMD_RESULT]
    cmp eax, PV_SENTINEL
    jne .bad
    push es
    mov ax, 0xF000
    mov es, ax
    mov di, 0xFFF0
    mov cx, 16
    mov al, 0xA5
    repe scasb
    pop es
    jne .bad
    ret
.bad:
    NOTE_BAD 0x109
    ret

; ---- kind 10: an ioctl that does not exist ------------------------------------------------
k_bad_ioctl:
    call rand
    mov ebx, eax
    cmp ebx, VFIO_IOMMU_PASID_REQUEST
    je .fix
    cmp ebx, VFIO_IOMMU_NESTING_OP
    jne .ok
.fix:
    xor ebx, 0x10000
.ok:
    mov [CUR_ARG0], ebx
    call fill_scratch
    call pick_gpa
    PV PV_OP_IOCTL, [CUR_ARG0], ecx
    jmp chk_errno

; ---- checks (tail-called by the kinds; eax = the result) ----------------------------------

; chk_errno: the result must be an errno.
chk_errno:
    inc dword [DET_STRICT]
    call is_errno
    jnc .ok
    NOTE_BAD 0x200
.ok:
    ret

; chk_einval: the result must be -EINVAL.
chk_einval:
    inc dword [DET_STRICT]
    EXPECT -EINVAL
    ret

; chk_not_owned: -EINVAL, unless the owned table overflowed (then: plausible).
chk_not_owned:
    cmp dword [OWNED_OVF], 0
    je chk_einval
    xor edx, edx
    ; fall through
; chk_plausible: an errno, or 0 <= result <= edx.
chk_plausible:
    call is_errno
    jnc .ok
    cmp eax, 0
    jl .bad
    cmp eax, edx
    jbe .ok
.bad:
    NOTE_BAD 0x201
.ok:
    ret

; ---- helpers ------------------------------------------------------------------------------
%include "report.inc"

; rand: eax = the next xorshift32 value. Preserves the other registers.
rand:
    push ebx
    mov eax, [RNG]
    mov ebx, eax
    shl ebx, 13
    xor eax, ebx
    mov ebx, eax
    shr ebx, 17
    xor eax, ebx
    mov ebx, eax
    shl ebx, 5
    xor eax, ebx
    mov [RNG], eax
    pop ebx
    ret

; rand_below: ecx = n > 0; eax = a random value in [0, n). Preserves the others.
rand_below:
    push edx
    call rand
    xor edx, edx
    div ecx
    mov eax, edx
    pop edx
    ret

; rand_pasidish: eax = a random 20-bit value (3/4) or a random 32-bit one.
rand_pasidish:
    push ebx
    call rand
    mov ebx, eax
    call rand
    test al, 3
    jz .full
    and ebx, PASID_MAX
.full:
    mov eax, ebx
    pop ebx
    ret

; pick_size: eax = an argsz / length: one of SIZES (3/4) or a random u32.
pick_size:
    push ecx
    call rand
    test al, 3
    jz .done
    mov ecx, SIZES_N
    call rand_below
    shl ax, 2
    push bx
    mov bx, ax
    mov eax, [sizes + bx]
    pop bx
.done:
    pop ecx
    ret

; fill_scratch: SCR = SCR_LEN random bytes.
fill_scratch:
    push di
    push cx
    mov di, SCR
    mov cx, SCR_LEN / 4
.next:
    call rand
    stosd
    loop .next
    pop cx
    pop di
    ret

; pick_gpa: ecx = where the user struct (prepared at SCR) is sent from; see the header.
pick_gpa:
    push eax
    mov dword [GPA_RANDOM], 0
    mov ecx, 8
    call rand_below
    cmp al, 5
    jb .scratch
    je .end_of_ram
    cmp al, 6
    je .above
    call rand                        ; anywhere in RAM (read only)
    and eax, 0xFFFFF
    mov ecx, eax
    mov dword [GPA_RANDOM], 1
    pop eax
    ret
.scratch:
    mov ecx, SCR
    pop eax
    ret
.end_of_ram:
    mov ecx, 40
    call rand_below
    inc eax                          ; k = 1 ..= 40 bytes in RAM
    push es
    push si
    push di
    mov cx, 0xF000
    mov es, cx
    xor di, di
    sub di, ax                       ; 0xF000:(0x10000 - k) = GPA 0x100000 - k
    mov si, SCR
    mov cx, ax
    rep movsb
    pop di
    pop si
    pop es
    mov ecx, 0x100000
    sub ecx, eax
    pop eax
    ret
.above:
    call rand
    test al, 1
    jz .wrap
    and eax, 0xFFFFF
    or eax, 0x100000                 ; 1 MiB ..< 2 MiB
    mov ecx, eax
    pop eax
    ret
.wrap:
    or eax, 0xFFFFFF00               ; near 4 GiB
    mov ecx, eax
    pop eax
    ret

; pick_wgpa: ecx = a READ_FAULTS buffer GPA: never below 64 KiB (the guest's own memory).
pick_wgpa:
    push eax
    mov ecx, 3
    call rand_below
    cmp al, 1
    jb .high_ram
    je .end_of_ram
    call rand                        ; outside RAM
    or eax, 0x100000
    mov ecx, eax
    pop eax
    ret
.high_ram:
    mov ecx, 0xF0000
    call rand_below
    add eax, 0x10000
    mov ecx, eax
    pop eax
    ret
.end_of_ram:
    mov ecx, 200
    call rand_below
    mov ecx, 0x100000
    sub ecx, eax
    pop eax
    ret

; pick_not_owned: eax = a random 20-bit PASID that no ALLOC ever returned to this guest.
pick_not_owned:
    call rand
    and eax, PASID_MAX
    call is_owned
    jc pick_not_owned
    ret

; is_owned: CF set when eax is in the owned table. Preserves the registers.
is_owned:
    push cx
    push si
    mov cx, [OWNED_N]
    mov si, OWNED
    jcxz .no
.next:
    cmp eax, [si]
    je .yes
    add si, 4
    loop .next
.no:
    pop si
    pop cx
    clc
    ret
.yes:
    pop si
    pop cx
    stc
    ret

; note_owned: records eax (a PASID an ALLOC returned) in the owned table.
note_owned:
    push bx
    call is_owned
    jc .done
    mov bx, [OWNED_N]
    cmp bx, OWNED_MAX
    jb .room
    mov dword [OWNED_OVF], 1
    jmp .done
.room:
    shl bx, 2
    mov [OWNED + bx], eax
    inc dword [OWNED_N]
.done:
    pop bx
    ret

; build_bind: eax = host PASID, ebx = guest PASID (GPASID_VAL). SCR = a G1 BIND_PGTBL
; envelope (VT-d, addr_width 48, gpgd 0x40000).
build_bind:
    push eax
    mov di, SCR
    mov cx, SCR_LEN
    call zero_mem
    pop eax
    mov dword [SCR + NEST_ARGSZ], NEST_DATA + BIND_G1_SIZE
    mov dword [SCR + NEST_FLAGS], NEST_BIND_PGTBL
    mov dword [SCR + NEST_DATA + BIND_ARGSZ], BIND_G1_SIZE
    mov dword [SCR + NEST_DATA + BIND_VERSION], 1
    mov dword [SCR + NEST_DATA + BIND_FORMAT], BIND_FORMAT_VTD
    mov dword [SCR + NEST_DATA + BIND_ADDR_WIDTH], 48
    mov dword [SCR + NEST_DATA + BIND_FLAGS], BIND_GPASID_VAL
    mov dword [SCR + NEST_DATA + BIND_GPGD], 0x40000
    mov [SCR + NEST_DATA + BIND_HPASID], eax
    mov [SCR + NEST_DATA + BIND_GPASID], ebx
    ret

; argsz / length values worth trying: around every struct's size, RAM and u32 limits
sizes:
    dd 0, 1, 4, 7, 8, 15, 16, 17, 23, 24, 25, 40, 55, 56, 57, 64
    dd 71, 72, 73, 80, 88, 96, 512, 4096, 4097, 0xFFFF, 0x10000, 0xF8000
    dd 0x100000, 0x100001, 0x7FFFFFFF, 0xFFFFFFFF
SIZES_N equ ($ - sizes) / 4
