pub mod iommufd;
pub mod linux_guest;
