//! The registry of declared structs, generated from the declarations.
//!
//! Each declaring module wraps its `uapi_struct!` blocks in one `uapi_structs!` list,
//! which registers them in the module's `STRUCTS` (as data) and `visit_structs` (as
//! types). [`ALL_STRUCTS`] and [`visit_all_structs`] concatenate those lists — no struct
//! is listed by hand — ordered as the documentation shows them: the structs with a size
//! field first, then the fixed-size records and union members, each group in module
//! order ([`crate::iommu`], [`crate::vfio_nesting`], [`crate::iommufd`],
//! [`crate::vfio_core`]) and declaration order.
//!
//! ```
//! use vsva_uapi::{visit_all_structs, StructVisitor, UapiStruct, ALL_STRUCTS};
//!
//! /// Collects the names of every declared struct, typed.
//! struct Names(Vec<&'static str>);
//! impl StructVisitor for Names {
//!     fn visit<T: UapiStruct>(&mut self) {
//!         self.0.push(T::DECL.name);
//!     }
//! }
//! let mut names = Names(Vec::new());
//! visit_all_structs(&mut names);
//! let listed: Vec<_> = ALL_STRUCTS.iter().map(|l| l.name).collect();
//! assert_eq!(names.0, listed);
//! assert!(listed.contains(&"vfio_iommu_type1_dma_map"));
//! ```

use crate::{iommu, iommufd, vfio_core, vfio_nesting, Layout, UapiStruct};

/// Something that wants every declared struct as a type (a typed dispatch table, a
/// fuzz target's selector): [`visit_all_structs`] calls [`visit`](StructVisitor::visit)
/// once per struct, in [`ALL_STRUCTS`] order.
pub trait StructVisitor {
    /// Called with one declared struct.
    fn visit<T: UapiStruct>(&mut self);
}

/// The modules' lists, in module order.
const MODULES: [&[&Layout]; 4] = [
    iommu::STRUCTS,
    vfio_nesting::STRUCTS,
    iommufd::STRUCTS,
    vfio_core::STRUCTS,
];

const COUNT: usize = {
    let mut n = 0;
    let mut m = 0;
    while m < MODULES.len() {
        n += MODULES[m].len();
        m += 1;
    }
    n
};

/// The modules' lists concatenated, sized structs first (see the [module docs](self)).
const ALL: [&Layout; COUNT] = {
    let mut out = [MODULES[0][0]; COUNT];
    let mut n = 0;
    let mut pass = 0;
    while pass < 2 {
        let mut m = 0;
        while m < MODULES.len() {
            let mut i = 0;
            while i < MODULES[m].len() {
                if MODULES[m][i].sized == (pass == 0) {
                    out[n] = MODULES[m][i];
                    n += 1;
                }
                i += 1;
            }
            m += 1;
        }
        pass += 1;
    }
    assert!(n == COUNT);
    out
};

/// Every declared struct, in documentation order: the structs with a size field
/// (`argsz` / `size`: the 2020 IOMMU UAPI, the VFIO nesting envelope, iommufd, VFIO
/// cdev, VFIO's own), then the fixed-size records and union members (fault records,
/// invalidation payloads, vendor data, capability records). Generated from the
/// declarations (see the [module docs](self)).
pub const ALL_STRUCTS: &[&Layout] = &ALL;

/// Calls `visitor.visit::<T>()` for every declared struct, in [`ALL_STRUCTS`] order.
pub fn visit_all_structs<V: StructVisitor + ?Sized>(visitor: &mut V) {
    /// Passes on only the structs with (`true`) or without a size field.
    struct BySizeField<'a, V: ?Sized>(&'a mut V, bool);
    impl<V: StructVisitor + ?Sized> StructVisitor for BySizeField<'_, V> {
        fn visit<T: UapiStruct>(&mut self) {
            if T::DECL.sized == self.1 {
                self.0.visit::<T>();
            }
        }
    }
    for sized in [true, false] {
        let mut v = BySizeField(&mut *visitor, sized);
        iommu::visit_structs(&mut v);
        vfio_nesting::visit_structs(&mut v);
        iommufd::visit_structs(&mut v);
        vfio_core::visit_structs(&mut v);
    }
}

/// The structs that start with a size field (`argsz` / `size`), in documentation order.
pub fn argsz_structs() -> impl Iterator<Item = &'static Layout> {
    ALL_STRUCTS.iter().copied().filter(|l| l.sized)
}

/// The declaration of the struct the kernel calls `name`, if vsva declares it.
pub fn layout_named(name: &str) -> Option<&'static Layout> {
    ALL_STRUCTS.iter().copied().find(|l| l.name == name)
}

/// The largest `size` among [`ALL_STRUCTS`]: a stack buffer of this many bytes holds
/// the kernel copy of any declared struct (for [`decode_into`](crate::decode_into)).
pub const MAX_STRUCT_SIZE: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < ALL_STRUCTS.len() {
        if ALL_STRUCTS[i].size > max {
            max = ALL_STRUCTS[i].size;
        }
        i += 1;
    }
    max
};
