//! Every `unsafe` operation of vsva-vmm: [`kvm`] maps the guest RAM (`mmap(2)`), gives
//! it to KVM (`KVM_SET_USER_MEMORY_REGION`), hands out borrow-checked views of it, and
//! kicks an over-time vCPU out of `KVM_RUN` (`sigaction(2)`, `pthread_kill(3)`);
//! [`linux`] gives a Linux guest's RAM to KVM. Each
//! block has a `// SAFETY:` comment; the rest of the crate is safe code.

pub(crate) mod kvm;
#[cfg(feature = "linux")]
pub(crate) mod linux;
