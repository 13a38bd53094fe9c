//! The scalable-mode table walk: root table → context entry → PASID directory → PASID
//! entry, read from guest memory with bounded, checked reads. A read outside guest
//! memory, a reserved bit, or an entry the unit cannot use is the specification's fault
//! reason, never an error of the VMM's.

use vm_memory::{Bytes, GuestAddress, GuestMemory};
use vsva_uapi::hw::vtd::{
    ContextEntry, FaultReason, PasidDirEntry, PasidEntry, RootEntry, PASID_TABLE_SHIFT,
};

/// Reads `N` little-endian words at `addr` (`None`: not entirely inside guest memory).
pub(crate) fn read_words<M: GuestMemory + ?Sized, const N: usize>(
    mem: &M,
    addr: u64,
) -> Option<[u64; N]> {
    let mut buf = [0u8; 64];
    let bytes = buf.get_mut(..N * 8)?;
    mem.read_slice(bytes, GuestAddress(addr)).ok()?;
    vsva_uapi::hw::words_from_le_bytes::<N>(bytes)
}

/// Where a walk stopped without a fault: nothing is there for the unit to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Absent {
    /// The root entry's half, the context entry, the directory entry or the PASID entry is
    /// not present.
    NotPresent,
    /// The PASID is beyond the context's directory, or the context does not enable
    /// PASIDs (for a PASID other than RID_PASID).
    OutOfRange,
}

/// A walk's fault: the reason, and whether a fault-processing-disable bit on the way
/// suppresses its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalkFault {
    pub reason: FaultReason,
    pub suppressed: bool,
}

/// The outcome of a walk.
pub(crate) type Walk<T> = Result<Result<T, Absent>, WalkFault>;

fn fault<T>(reason: FaultReason, suppressed: bool) -> Walk<T> {
    Err(WalkFault { reason, suppressed })
}

/// The context entry of `rid` under the root table at `root`.
pub(crate) fn context_entry<M: GuestMemory + ?Sized>(
    mem: &M,
    root: u64,
    rid: u16,
) -> Walk<ContextEntry> {
    let bus = u64::from(rid >> 8);
    let devfn = rid & 0xff;
    let Some(addr) = root.checked_add(bus * 16) else {
        return fault(FaultReason::RootEntryAccess, false);
    };
    let Some(words) = read_words::<M, 2>(mem, addr) else {
        return fault(FaultReason::RootEntryAccess, false);
    };
    if RootEntry::has_reserved(&words) {
        return fault(FaultReason::RootEntryReserved, false);
    }
    let re = RootEntry::decode(&words);
    let (present, table) = if devfn < 128 {
        (re.lp, re.lctp)
    } else {
        (re.up, re.uctp)
    };
    if !present {
        return Ok(Err(Absent::NotPresent));
    }
    let Some(words) = table
        .checked_add(u64::from(devfn & 0x7f) * 32)
        .and_then(|addr| read_words::<M, 4>(mem, addr))
    else {
        return fault(FaultReason::ContextEntryAccess, false);
    };
    let ce = ContextEntry::decode(&words);
    if !ce.p {
        return Ok(Err(Absent::NotPresent));
    }
    if ContextEntry::has_reserved(&words) {
        return fault(FaultReason::ContextEntryReserved, ce.fpd);
    }
    // RID_PASID other than 0 needs ECAP.RPS, which the unit does not offer; RID_PRIV is
    // kept at 0 for the same reason.
    if ce.rid_pasid != 0 || ce.rid_priv {
        return fault(FaultReason::RidPasidError, ce.fpd);
    }
    Ok(Ok(ce))
}

/// The PASID entry for `pasid` of a present context entry.
pub(crate) fn pasid_entry<M: GuestMemory + ?Sized>(
    mem: &M,
    ce: &ContextEntry,
    pasid: u32,
) -> Walk<PasidEntry> {
    if pasid != ce.rid_pasid && !ce.paside {
        return Ok(Err(Absent::OutOfRange));
    }
    let dir_index = pasid >> PASID_TABLE_SHIFT;
    if dir_index >= ce.pasid_dir_entries() {
        return Ok(Err(Absent::OutOfRange));
    }
    // A directory that wraps past the end of the address space is outside guest memory.
    let Some(words) = ce
        .pasiddirptr
        .checked_add(u64::from(dir_index) * 8)
        .and_then(|addr| read_words::<M, 1>(mem, addr))
    else {
        return fault(FaultReason::PasidDirAccess, ce.fpd);
    };
    let de = PasidDirEntry::decode(&words);
    if !de.p {
        return Ok(Err(Absent::NotPresent));
    }
    let suppressed = ce.fpd || de.fpd;
    if PasidDirEntry::has_reserved(&words) {
        return fault(FaultReason::PasidDirReserved, suppressed);
    }
    let Some(words) = de
        .smptblptr
        .checked_add(u64::from(pasid & ((1 << PASID_TABLE_SHIFT) - 1)) * 64)
        .and_then(|addr| read_words::<M, 8>(mem, addr))
    else {
        return fault(FaultReason::PasidEntryAccess, suppressed);
    };
    let pe = PasidEntry::decode(&words);
    if !pe.p {
        return Ok(Err(Absent::NotPresent));
    }
    if PasidEntry::has_reserved(&words) {
        return fault(FaultReason::PasidEntryReserved, suppressed || pe.fpd);
    }
    Ok(Ok(pe))
}

/// The PASID tables of a context entry: `(first PASID, table address)` of every present
/// directory entry, at most `budget` of them.
pub(crate) fn present_tables<M: GuestMemory + ?Sized>(
    mem: &M,
    ce: &ContextEntry,
    budget: usize,
) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let entries = if ce.paside { ce.pasid_dir_entries() } else { 1 };
    // The directory is read a page (512 entries) at a time.
    let mut page = [0u8; 4096];
    let mut i = 0u32;
    while i < entries && out.len() < budget {
        let n = (entries - i).min(512);
        let bytes = &mut page[..n as usize * 8];
        let Some(addr) = ce.pasiddirptr.checked_add(u64::from(i) * 8) else {
            break;
        };
        if mem.read_slice(bytes, GuestAddress(addr)).is_err() {
            break;
        }
        for (k, chunk) in bytes.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let de = PasidDirEntry::decode(&[u64::from_le_bytes(b)]);
            if de.p && out.len() < budget {
                out.push(((i + k as u32) << PASID_TABLE_SHIFT, de.smptblptr));
            }
        }
        i += n;
    }
    out
}

/// The PASIDs whose entries are present in the PASID table at `table` (its first PASID
/// `base`).
pub(crate) fn present_pasids<M: GuestMemory + ?Sized>(mem: &M, base: u32, table: u64) -> Vec<u32> {
    let mut page = [0u8; 4096];
    if mem.read_slice(&mut page, GuestAddress(table)).is_err() {
        return Vec::new();
    }
    page.chunks_exact(64)
        .enumerate()
        .filter(|(_, e)| e[0] & 1 == 1)
        .map(|(k, _)| base + k as u32)
        .collect()
}
