//! Page requests: the page request descriptor the unit writes.

hw_struct! {
    /// A page request descriptor, as the unit writes it into the page request queue
    /// (256 bits; `QW2`/`QW3` held private data before revision 4.0).
    pub struct PageReqDesc = "vtd_page_req_desc", words 4 {
        /// Type (the unit writes 1).
        ty: u8 = 0 @ 0 : 8;
        /// PP: PASID present.
        pp: bool = 0 @ 8;
        /// PDP: private data present (before revision 4.0).
        pdp: bool = 0 @ 9;
        /// RID: the requester (bus:devfn).
        rid: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
        /// ER: execute requested.
        er: bool = 0 @ 52;
        /// PM: privileged-mode request.
        pm: bool = 0 @ 53;
        /// RD: read requested.
        rd: bool = 1 @ 0;
        /// WR: write requested.
        wr: bool = 1 @ 1;
        /// LPIG: last page in group (only the last request of a group is answered).
        lpig: bool = 1 @ 2;
        /// PRGI: page request group index.
        prgi: u16 = 1 @ 3 : 9;
        /// ADDR: page address.
        addr: u64 = 1 @ 12 : 52, addr;
        /// Private data, first word (before revision 4.0).
        priv_data0: u64 = 2 @ 0 : 64;
        /// Private data, second word (before revision 4.0).
        priv_data1: u64 = 3 @ 0 : 64;
    }
}

/// The type value the unit writes into a page request descriptor.
pub const PAGE_REQ_TYPE: u8 = 1;
