; vtd_hostile.asm — a hostile guest of the mini-VMM's emulated VT-d: a xorshift32 PRNG
; drives ITERATIONS garbage accesses at the unit's register window.
;
; Build: nasm -f bin -o vtd_hostile.bin vtd_hostile.asm   (or ./build.sh)
; Load:  GPA 0x1000, CS:IP = 0:0x1000, real mode, 1 MiB RAM; the unit's window at GPA
;        0x100000 (vtd.inc). Boot info (optional): u32 PRNG seed at 0x04F4 (0: 0x2545F491).
;
; Each iteration picks a random dword-aligned offset of the 4 KiB window and one of
; (rand % 8): a 4-byte write of a random value; a 2-byte write at offset + 1 (misaligned);
; a 1-byte write at offset + 3; a 4-byte read; an IQT write with a random tail (wrapping
; and beyond the queue); a GCMD write of random bits (SRTP, QIE, TE with the root table and
; queue wherever the random writes put them: mostly outside RAM); an 8-byte RTADDR or IQA
; write of random values (MMX movq: one 8-byte exit); a PQT/PQH write of a random tail.
; The guest reports requests_sent = ITERATIONS and halts; the VMM must stay alive and the
; other VMs unchanged (tests/vmm_vtd.rs).

bits 16
org 0x1000

%include "pv.inc"
%include "vtd.inc"

ITERATIONS          equ 3000

start:
    GUEST_START GUEST_VTD_HOSTILE
    mov ax, VTD_SEG
    mov fs, ax
    mov eax, [BOOT_SEED]
    test eax, eax
    jnz .seeded
    mov eax, 0x2545F491
.seeded:
    mov [rng], eax
    mov ecx, ITERATIONS
.loop:
    call rand
    mov si, ax
    and si, 0xFFC
    call rand
    mov edx, eax
    call rand
    and eax, 7
    shl ax, 1
    mov bx, ax
    mov eax, edx
    jmp [kinds + bx]
.w32:
    mov [fs:VTD_BASE + si], eax
    jmp .next
.w16:
    mov [fs:VTD_BASE + si + 1], ax
    jmp .next
.w8:
    mov [fs:VTD_BASE + si + 3], al
    jmp .next
.r32:
    mov eax, [fs:VTD_BASE + si]
    jmp .next
.iqt:
    and eax, 0x7FFF0
    VTD_W32 VTD_IQT, eax
    jmp .next
.gcmd:
    and eax, 0xFF800000
    VTD_W32 VTD_GCMD, eax
    jmp .next
.q64:
    mov [qword_buf], eax
    call rand
    mov [qword_buf + 4], eax
    movq mm0, [qword_buf]
    test dl, 1
    jz .rtaddr
    movq [fs:VTD_BASE + VTD_IQA], mm0
    jmp .next
.rtaddr:
    movq [fs:VTD_BASE + VTD_RTADDR], mm0
    jmp .next
.pq:
    and eax, 0x7FFE0
    test dl, 1
    jz .pqh
    VTD_W32 VTD_PQT, eax
    jmp .next
.pqh:
    VTD_W32 VTD_PQH, eax
.next:
    inc dword [REPORT + REP_SENT]
    dec ecx
    jnz .loop
    mov dword [REPORT + REP_MAGIC], REPORT_MAGIC
    hlt
    jmp $ - 1

; rand: eax = the next xorshift32 value. Preserves the other registers.
rand:
    push ebx
    mov eax, [rng]
    mov ebx, eax
    shl ebx, 13
    xor eax, ebx
    mov ebx, eax
    shr ebx, 17
    xor eax, ebx
    mov ebx, eax
    shl ebx, 5
    xor eax, ebx
    mov [rng], eax
    pop ebx
    ret

align 4
rng:        dd 0
qword_buf:  dq 0
kinds:      dw start.w32, start.w16, start.w8, start.r32, start.iqt, start.gcmd, start.q64, start.pq
