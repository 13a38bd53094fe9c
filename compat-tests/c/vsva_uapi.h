/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vsva_uapi.h: the IOMMU userspace API as a C VMM (QEMU, crosvm's C peers, ...) would
 * declare it, written by hand FROM THE REFERENCE LAYOUT TABLES, never generated from
 * the Rust declarations:
 *
 *   - include/uapi/linux/iommu.h, Linux v5.10 (reference/uapi.md section 1.2, 1.3);
 *   - its out-of-tree members: iommu_nesting_info (late Liu Yi L vSVA layout) and
 *     iommu_pasid_table_config (final Auger SMMUv3 layout) (section 1.4);
 *   - the 2020 VFIO nesting envelope, series v3-v7, never merged (section 4);
 *   - include/uapi/linux/iommufd.h (about v6.17) and the VFIO cdev bind/attach/detach
 *     of include/uapi/linux/vfio.h (section 5; iommufd-7x.md sections 2 and 4);
 *   - VFIO's own structs of include/uapi/linux/vfio.h (group, device, region, IRQ and
 *     type1 info, DMA map / unmap, the type1 info capabilities).
 *
 * Field names, types, and named / anonymous unions follow the kernel headers, so that
 * `offsetof(struct iommu_cache_invalidate_info, granu.addr_info.addr)` means here what
 * it means in the kernel.  Type mapping: __u8/__u16/__u32/__u64 -> uint8_t/uint16_t/
 * uint32_t/uint64_t; iommufd's __aligned_u64 -> uint64_t __attribute__((aligned(8))).
 *
 * The _Static_asserts at the end pin the declarations to the reference's x86_64
 * numbers, so the C side is checked against the reference on its own, before Rust
 * compares anything.
 */
#ifndef VSVA_UAPI_H
#define VSVA_UAPI_H

#include <stddef.h>
#include <stdint.h>

/* iommufd's __aligned_u64: 8-byte aligned on every ABI. */
typedef uint64_t vsva_aligned_u64 __attribute__((aligned(8)));

/* ------------------------------------------------------------------------------------
 * include/uapi/linux/iommu.h (v5.10): constants (reference section 1.2)
 * ---------------------------------------------------------------------------------- */

#define IOMMU_FAULT_PERM_READ	(1 << 0)
#define IOMMU_FAULT_PERM_WRITE	(1 << 1)
#define IOMMU_FAULT_PERM_EXEC	(1 << 2)
#define IOMMU_FAULT_PERM_PRIV	(1 << 3)

enum iommu_fault_type {
	IOMMU_FAULT_DMA_UNRECOV = 1,
	IOMMU_FAULT_PAGE_REQ = 2,
};

enum iommu_fault_reason {
	IOMMU_FAULT_REASON_UNKNOWN = 0,
	IOMMU_FAULT_REASON_PASID_FETCH = 1,
	IOMMU_FAULT_REASON_BAD_PASID_ENTRY = 2,
	IOMMU_FAULT_REASON_PASID_INVALID = 3,
	IOMMU_FAULT_REASON_WALK_EABT = 4,
	IOMMU_FAULT_REASON_PTE_FETCH = 5,
	IOMMU_FAULT_REASON_PERMISSION = 6,
	IOMMU_FAULT_REASON_ACCESS = 7,
	IOMMU_FAULT_REASON_OOR_ADDRESS = 8,
};

#define IOMMU_FAULT_UNRECOV_PASID_VALID		(1 << 0)
#define IOMMU_FAULT_UNRECOV_ADDR_VALID		(1 << 1)
#define IOMMU_FAULT_UNRECOV_FETCH_ADDR_VALID	(1 << 2)

#define IOMMU_FAULT_PAGE_REQUEST_PASID_VALID	(1 << 0)
#define IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE	(1 << 1)
#define IOMMU_FAULT_PAGE_REQUEST_PRIV_DATA	(1 << 2)
/* Added after v5.10. */
#define IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID	(1 << 3)

enum iommu_page_response_code {
	IOMMU_PAGE_RESP_SUCCESS = 0,
	IOMMU_PAGE_RESP_INVALID = 1,
	IOMMU_PAGE_RESP_FAILURE = 2,
};

#define IOMMU_PAGE_RESP_VERSION_1	1
#define IOMMU_PAGE_RESP_PASID_VALID	(1 << 0)

enum iommu_inv_granularity {
	IOMMU_INV_GRANU_DOMAIN = 0,
	IOMMU_INV_GRANU_PASID = 1,
	IOMMU_INV_GRANU_ADDR = 2,
	IOMMU_INV_GRANU_NR = 3,
};

#define IOMMU_INV_ADDR_FLAGS_PASID	(1 << 0)
#define IOMMU_INV_ADDR_FLAGS_ARCHID	(1 << 1)
#define IOMMU_INV_ADDR_FLAGS_LEAF	(1 << 2)

#define IOMMU_INV_PASID_FLAGS_PASID	(1 << 0)
#define IOMMU_INV_PASID_FLAGS_ARCHID	(1 << 1)

#define IOMMU_CACHE_INVALIDATE_INFO_VERSION_1	1
#define IOMMU_CACHE_INV_TYPE_IOTLB	(1 << 0)
#define IOMMU_CACHE_INV_TYPE_DEV_IOTLB	(1 << 1)
#define IOMMU_CACHE_INV_TYPE_PASID	(1 << 2)
#define IOMMU_CACHE_INV_TYPE_NR		(3)

#define IOMMU_GPASID_BIND_VERSION_1	1
#define IOMMU_PASID_FORMAT_INTEL_VTD	1
#define IOMMU_PASID_FORMAT_LAST		2
#define IOMMU_SVA_GPASID_VAL		(1 << 0)

#define IOMMU_SVA_VTD_GPASID_SRE	(1 << 0)
#define IOMMU_SVA_VTD_GPASID_EAFE	(1 << 1)
#define IOMMU_SVA_VTD_GPASID_PCD	(1 << 2)
#define IOMMU_SVA_VTD_GPASID_PWT	(1 << 3)
#define IOMMU_SVA_VTD_GPASID_EMTE	(1 << 4)
#define IOMMU_SVA_VTD_GPASID_CD		(1 << 5)
/* Added after v5.10; it moved ..._LAST from (1 << 6) to (1 << 7). */
#define IOMMU_SVA_VTD_GPASID_WPE	(1 << 6)
#define IOMMU_SVA_VTD_GPASID_LAST	(1 << 7)
#define IOMMU_SVA_VTD_GPASID_MTS_MASK	(IOMMU_SVA_VTD_GPASID_CD | \
					 IOMMU_SVA_VTD_GPASID_EMTE | \
					 IOMMU_SVA_VTD_GPASID_PCD | \
					 IOMMU_SVA_VTD_GPASID_PWT)

/* Out of tree (section 1.4): Auger SMMUv3 series. */
#define PASID_TABLE_CFG_VERSION_1		1
#define PASID_TABLE_SMMUV3_CFG_VERSION_1	1
#define IOMMU_PASID_FORMAT_SMMUV3		1
#define IOMMU_PASID_CONFIG_TRANSLATE		1
#define IOMMU_PASID_CONFIG_BYPASS		2
#define IOMMU_PASID_CONFIG_ABORT		3

/*
 * Out of tree (section 1.4): late Liu series.  This header (the late layout) has only
 * BIND_PGTBL and CACHE_INVLD; no header ever numbered BIND_PASID_TABLE or PAGE_REQUEST.
 */
#define IOMMU_NESTING_FEAT_BIND_PGTBL	(1 << 0)
#define IOMMU_NESTING_FEAT_CACHE_INVLD	(1 << 1)

/* ------------------------------------------------------------------------------------
 * include/uapi/linux/iommu.h (v5.10): structs (reference section 1.3)
 * ---------------------------------------------------------------------------------- */

struct iommu_fault_unrecoverable {
	uint32_t reason;
	uint32_t flags;
	uint32_t pasid;
	uint32_t perm;
	uint64_t addr;
	uint64_t fetch_addr;
};

struct iommu_fault_page_request {
	uint32_t flags;
	uint32_t pasid;
	uint32_t grpid;
	uint32_t perm;
	uint64_t addr;
	uint64_t private_data[2];
};

struct iommu_fault {
	uint32_t type;
	uint32_t padding;
	union {
		struct iommu_fault_unrecoverable event;
		struct iommu_fault_page_request prm;
		uint8_t padding2[56];
	};
};

struct iommu_page_response {
	uint32_t argsz;
	uint32_t version;
	uint32_t flags;
	uint32_t pasid;
	uint32_t grpid;
	uint32_t code;
};

struct iommu_inv_addr_info {
	uint32_t flags;
	uint32_t archid;
	uint64_t pasid;
	uint64_t addr;
	uint64_t granule_size;
	uint64_t nb_granules;
};

struct iommu_inv_pasid_info {
	uint32_t flags;
	uint32_t archid;
	uint64_t pasid;
};

struct iommu_cache_invalidate_info {
	uint32_t argsz;
	uint32_t version;
	uint8_t cache;
	uint8_t granularity;
	uint8_t padding[6];
	union {
		struct iommu_inv_pasid_info pasid_info;
		struct iommu_inv_addr_info addr_info;
	} granu;
};

struct iommu_gpasid_bind_data_vtd {
	uint64_t flags;
	uint32_t pat;
	uint32_t emt;
};

struct iommu_gpasid_bind_data {
	uint32_t argsz;
	uint32_t version;
	uint32_t format;
	uint32_t addr_width;
	uint64_t flags;
	uint64_t gpgd;
	uint64_t hpasid;
	uint64_t gpasid;
	uint8_t padding[8];
	union {
		struct iommu_gpasid_bind_data_vtd vtd;
	} vendor;
};

/* ------------------------------------------------------------------------------------
 * Out-of-tree members of the same header (reference section 1.4)
 * ---------------------------------------------------------------------------------- */

struct iommu_pasid_smmuv3 {
	uint32_t version;
	uint8_t s1fmt;
	uint8_t s1dss;
	uint8_t padding[2];
};

struct iommu_pasid_table_config {
	uint32_t argsz;
	uint32_t version;
	uint64_t base_ptr;
	uint32_t format;
	uint8_t pasid_bits;
	uint8_t config;
	uint8_t padding[2];
	union {
		struct iommu_pasid_smmuv3 smmuv3;
	} vendor_data;
};

struct iommu_nesting_info_vtd {
	uint32_t flags;
	uint8_t padding[12];
	uint64_t cap_reg;
	uint64_t ecap_reg;
};

struct iommu_nesting_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t format;
	uint32_t features;
	uint16_t addr_width;
	uint16_t pasid_bits;
	uint8_t padding[12];
	union {
		struct iommu_nesting_info_vtd vtd;
	} vendor;
};

/* ------------------------------------------------------------------------------------
 * VFIO nesting envelope, series v3-v7 (reference section 4; never merged)
 * ---------------------------------------------------------------------------------- */

#define VFIO_IOMMU_FLAG_ALLOC_PASID	(1 << 0)
#define VFIO_IOMMU_FLAG_FREE_PASID	(1 << 1)

struct vfio_iommu_type1_pasid_request {
	uint32_t argsz;
	uint32_t flags;
	struct {
		uint32_t min;
		uint32_t max;
	} range;
};

#define VFIO_NESTING_OP_MASK			(0xffff)
#define VFIO_IOMMU_NESTING_OP_BIND_PGTBL	(0)
#define VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL	(1)
#define VFIO_IOMMU_NESTING_OP_CACHE_INVLD	(2)

struct vfio_iommu_type1_nesting_op {
	uint32_t argsz;
	uint32_t flags;
	uint8_t data[];
};

/* ------------------------------------------------------------------------------------
 * include/uapi/linux/iommufd.h and the VFIO cdev (reference section 5)
 * ---------------------------------------------------------------------------------- */

enum iommu_hw_info_type {
	IOMMU_HW_INFO_TYPE_NONE = 0,
	IOMMU_HW_INFO_TYPE_DEFAULT = 0,
	IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
	IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2,
	IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3,
};

#define IOMMU_HW_INFO_FLAG_INPUT_TYPE	(1 << 0)
#define IOMMU_HW_CAP_DIRTY_TRACKING	(1 << 0)
#define IOMMU_HW_CAP_PCI_PASID_EXEC	(1 << 1)
#define IOMMU_HW_CAP_PCI_PASID_PRIV	(1 << 2)

struct iommu_hw_info {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t data_len;
	vsva_aligned_u64 data_uptr;
	union {
		uint32_t in_data_type;
		uint32_t out_data_type;
	};
	uint8_t out_max_pasid_log2;
	uint8_t __reserved[3];
	vsva_aligned_u64 out_capabilities;
};

#define IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17	(1 << 0)

struct iommu_hw_info_vtd {
	uint32_t flags;
	uint32_t __reserved;
	vsva_aligned_u64 cap_reg;
	vsva_aligned_u64 ecap_reg;
};

struct iommu_hw_info_arm_smmuv3 {
	uint32_t flags;
	uint32_t __reserved;
	uint32_t idr[6];
	uint32_t iidr;
	uint32_t aidr;
};

enum iommu_hwpt_data_type {
	IOMMU_HWPT_DATA_NONE = 0,
	IOMMU_HWPT_DATA_VTD_S1 = 1,
	IOMMU_HWPT_DATA_ARM_SMMUV3 = 2,
};

#define IOMMU_HWPT_ALLOC_NEST_PARENT	(1 << 0)
#define IOMMU_HWPT_ALLOC_DIRTY_TRACKING	(1 << 1)
#define IOMMU_HWPT_FAULT_ID_VALID	(1 << 2)
#define IOMMU_HWPT_ALLOC_PASID		(1 << 3)

struct iommu_hwpt_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t pt_id;
	uint32_t out_hwpt_id;
	uint32_t __reserved;
	uint32_t data_type;
	uint32_t data_len;
	vsva_aligned_u64 data_uptr;
	uint32_t fault_id;
	uint32_t __reserved2;
};

#define IOMMU_VTD_S1_SRE	(1 << 0)
#define IOMMU_VTD_S1_EAFE	(1 << 1)
#define IOMMU_VTD_S1_WPE	(1 << 2)

struct iommu_hwpt_vtd_s1 {
	vsva_aligned_u64 flags;
	vsva_aligned_u64 pgtbl_addr;
	uint32_t addr_width;
	uint32_t __reserved;
};

enum iommu_hwpt_invalidate_data_type {
	IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0,
	IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1,
};

struct iommu_hwpt_invalidate {
	uint32_t size;
	uint32_t hwpt_id;
	vsva_aligned_u64 data_uptr;
	uint32_t data_type;
	uint32_t entry_len;
	uint32_t entry_num;
	uint32_t __reserved;
};

#define IOMMU_VTD_INV_FLAGS_LEAF	(1 << 0)

struct iommu_hwpt_vtd_s1_invalidate {
	vsva_aligned_u64 addr;
	vsva_aligned_u64 npages;
	uint32_t flags;
	uint32_t __reserved;
};

struct iommu_fault_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_fault_id;
	uint32_t out_fault_fd;
};

#define IOMMU_PGFAULT_FLAGS_PASID_VALID	(1 << 0)
#define IOMMU_PGFAULT_FLAGS_LAST_PAGE	(1 << 1)
#define IOMMU_PGFAULT_PERM_READ		(1 << 0)
#define IOMMU_PGFAULT_PERM_WRITE	(1 << 1)
#define IOMMU_PGFAULT_PERM_EXEC		(1 << 2)
#define IOMMU_PGFAULT_PERM_PRIV		(1 << 3)

struct iommu_hwpt_pgfault {
	uint32_t flags;
	uint32_t dev_id;
	uint32_t pasid;
	uint32_t grpid;
	uint32_t perm;
	uint32_t __reserved;
	vsva_aligned_u64 addr;
	uint32_t length;
	uint32_t cookie;
};

enum iommufd_page_response_code {
	IOMMUFD_PAGE_RESP_SUCCESS = 0,
	IOMMUFD_PAGE_RESP_INVALID = 1,
};

struct iommu_hwpt_page_response {
	uint32_t cookie;
	uint32_t code;
};

#define VFIO_DEVICE_ATTACH_PASID	(1 << 0)
#define VFIO_DEVICE_DETACH_PASID	(1 << 0)

struct vfio_device_attach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id;
	uint32_t pasid;
};

struct vfio_device_detach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pasid;
};

/* ------------------------------------------------------------------------------------
 * include/uapi/linux/iommufd.h: the objects every user starts with (IOMMU_DESTROY,
 * the IOAS ioctls; reference iommufd-7x.md sections 2.1-2.5, 2.7) and VFIO cdev bind
 * (section 4.1).
 * ---------------------------------------------------------------------------------- */

struct iommu_destroy {
	uint32_t size;
	uint32_t id;
};

struct iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

#define IOMMU_IOAS_MAP_FIXED_IOVA	(1 << 0)
#define IOMMU_IOAS_MAP_WRITEABLE	(1 << 1)
#define IOMMU_IOAS_MAP_READABLE		(1 << 2)

struct iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t __reserved;
	vsva_aligned_u64 user_va;
	vsva_aligned_u64 length;
	vsva_aligned_u64 iova;
};

struct iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	vsva_aligned_u64 iova;
	vsva_aligned_u64 length;
};

struct iommu_iova_range {
	vsva_aligned_u64 start;
	vsva_aligned_u64 last;
};

struct iommu_ioas_iova_ranges {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas;
	uint32_t __reserved;
	vsva_aligned_u64 allowed_iovas;
	vsva_aligned_u64 out_iova_alignment;
};

#define IOMMU_HWPT_DIRTY_TRACKING_ENABLE	(1 << 0)

struct iommu_hwpt_set_dirty_tracking {
	uint32_t size;
	uint32_t flags;
	uint32_t hwpt_id;
	uint32_t __reserved;
};

/* iommufd-7x.md sections 2.4, 2.6, 2.7, 2.9, 2.11, 2.12: the rest of the IOAS family. */
struct iommu_ioas_allow_iovas {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas;
	uint32_t __reserved;
	vsva_aligned_u64 allowed_iovas;
};

struct iommu_ioas_copy {
	uint32_t size;
	uint32_t flags;
	uint32_t dst_ioas_id;
	uint32_t src_ioas_id;
	vsva_aligned_u64 length;
	vsva_aligned_u64 dst_iova;
	vsva_aligned_u64 src_iova;
};

struct iommu_option {
	uint32_t size;
	uint32_t option_id;
	uint16_t op;
	uint16_t __reserved;
	uint32_t object_id;
	vsva_aligned_u64 val64;
};

struct iommu_vfio_ioas {
	uint32_t size;
	uint32_t ioas_id;
	uint16_t op;
	uint16_t __reserved;
};

struct iommu_ioas_map_file {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	int32_t fd;
	vsva_aligned_u64 start;
	vsva_aligned_u64 length;
	vsva_aligned_u64 iova;
};

struct iommu_ioas_change_process {
	uint32_t size;
	uint32_t __reserved;
};

/* iommufd-7x.md section 3: driver data of SMMUv3, Tegra241 CMDQV and AMD. */
struct iommu_hw_info_tegra241_cmdqv {
	uint32_t flags;
	uint8_t version;
	uint8_t log2vcmdqs;
	uint8_t log2vsids;
	uint8_t __reserved;
};

struct iommu_hw_info_amd {
	vsva_aligned_u64 efr;
	vsva_aligned_u64 efr2;
};

struct iommu_hwpt_arm_smmuv3 {
	vsva_aligned_u64 ste[2];
};

struct iommu_hwpt_amd_guest {
	vsva_aligned_u64 dte[4];
};

struct iommu_viommu_arm_smmuv3_invalidate {
	vsva_aligned_u64 cmd[2];
};

struct iommu_viommu_tegra241_cmdqv {
	vsva_aligned_u64 out_vintf_mmap_offset;
	vsva_aligned_u64 out_vintf_mmap_length;
};

struct iommu_vevent_arm_smmuv3 {
	vsva_aligned_u64 evt[4];
};

struct iommu_vevent_tegra241_cmdqv {
	vsva_aligned_u64 lvcmdq_err_map[2];
};

/* iommufd-7x.md sections 2.16, 2.19-2.22: the vIOMMU object model (6.13-6.17). */
struct iommu_hwpt_get_dirty_bitmap {
	uint32_t size;
	uint32_t hwpt_id;
	uint32_t flags;
	uint32_t __reserved;
	vsva_aligned_u64 iova;
	vsva_aligned_u64 length;
	vsva_aligned_u64 page_size;
	vsva_aligned_u64 data;
};

struct iommu_viommu_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t type;
	uint32_t dev_id;
	uint32_t hwpt_id;
	uint32_t out_viommu_id;
	uint32_t data_len;
	uint32_t __reserved;
	vsva_aligned_u64 data_uptr;
};

struct iommu_vdevice_alloc {
	uint32_t size;
	uint32_t viommu_id;
	uint32_t dev_id;
	uint32_t out_vdevice_id;
	vsva_aligned_u64 virt_id;
};

struct iommu_veventq_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t viommu_id;
	uint32_t type;
	uint32_t veventq_depth;
	uint32_t out_veventq_id;
	uint32_t out_veventq_fd;
	uint32_t __reserved;
};

struct iommu_hw_queue_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t viommu_id;
	uint32_t type;
	uint32_t index;
	uint32_t out_hw_queue_id;
	vsva_aligned_u64 nesting_parent_iova;
	vsva_aligned_u64 length;
};

struct iommufd_vevent_header {
	uint32_t flags;
	uint32_t sequence;
};

#define VFIO_DEVICE_BIND_FLAG_TOKEN	(1 << 0)

struct vfio_device_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
	vsva_aligned_u64 token_uuid_ptr;
};

/* ------------------------------------------------------------------------------------
 * include/uapi/linux/vfio.h: VFIO's own size-first structs (group, device, region and
 * IRQ info, type1 info and DMA map / unmap) and the type1 info capability records.
 * __u64 is 8-byte aligned on x86_64, where vsva's numbers hold.
 * ---------------------------------------------------------------------------------- */

#define VFIO_GROUP_FLAGS_VIABLE		(1 << 0)
#define VFIO_GROUP_FLAGS_CONTAINER_SET	(1 << 1)

struct vfio_group_status {
	uint32_t argsz;
	uint32_t flags;
};

#define VFIO_DEVICE_FLAGS_RESET	(1 << 0)
#define VFIO_DEVICE_FLAGS_PCI	(1 << 1)
#define VFIO_DEVICE_FLAGS_CAPS	(1 << 7)

struct vfio_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
	uint32_t cap_offset;
	uint32_t pad;
};

#define VFIO_REGION_INFO_FLAG_READ	(1 << 0)
#define VFIO_REGION_INFO_FLAG_WRITE	(1 << 1)
#define VFIO_REGION_INFO_FLAG_MMAP	(1 << 2)
#define VFIO_REGION_INFO_FLAG_CAPS	(1 << 3)

struct vfio_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
};

struct vfio_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};

#define VFIO_IOMMU_INFO_PGSIZES	(1 << 0)
#define VFIO_IOMMU_INFO_CAPS	(1 << 1)

struct vfio_iommu_type1_info {
	uint32_t argsz;
	uint32_t flags;
	uint64_t iova_pgsizes;
	uint32_t cap_offset;
	uint32_t pad;
};

#define VFIO_DMA_MAP_FLAG_READ	(1 << 0)
#define VFIO_DMA_MAP_FLAG_WRITE	(1 << 1)
#define VFIO_DMA_MAP_FLAG_VADDR	(1 << 2)

struct vfio_iommu_type1_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t vaddr;
	uint64_t iova;
	uint64_t size;
};

#define VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP	(1 << 0)
#define VFIO_DMA_UNMAP_FLAG_ALL			(1 << 1)
#define VFIO_DMA_UNMAP_FLAG_VADDR		(1 << 2)

struct vfio_iommu_type1_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t iova;
	uint64_t size;
	uint8_t data[];
};

struct vfio_info_cap_header {
	uint16_t id;
	uint16_t version;
	uint32_t next;
};

struct vfio_iova_range {
	uint64_t start;
	uint64_t end;
};

#define VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE	1

struct vfio_iommu_type1_info_cap_iova_range {
	struct vfio_info_cap_header header;
	uint32_t nr_iovas;
	uint32_t reserved;
	struct vfio_iova_range iova_ranges[];
};

#define VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION	2

struct vfio_iommu_type1_info_cap_migration {
	struct vfio_info_cap_header header;
	uint32_t flags;
	uint64_t pgsize_bitmap;
	uint64_t max_dirty_bitmap_size;
};

#define VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL	3

struct vfio_iommu_type1_info_dma_avail {
	struct vfio_info_cap_header header;
	uint32_t avail;
};

/* ------------------------------------------------------------------------------------
 * The ioctl numbers: _IO(type, nr) is (type << 8) | nr (no size, no direction);
 * iommufd's commands are IOMMUFD_CMD_BASE (0x80) + n (iommufd-7x.md section 1.5), the
 * VFIO cdev's VFIO_BASE (100) + n (vfio.h).
 * ---------------------------------------------------------------------------------- */

#define VSVA_IO(type, nr)	((uint32_t)(((type) << 8) | (nr)))
#define IOMMUFD_TYPE		(';')
#define VFIO_TYPE		(';')
#define VFIO_BASE		100

#define IOMMU_DESTROY			VSVA_IO(IOMMUFD_TYPE, 0x80)
#define IOMMU_IOAS_ALLOC		VSVA_IO(IOMMUFD_TYPE, 0x81)
#define IOMMU_IOAS_IOVA_RANGES		VSVA_IO(IOMMUFD_TYPE, 0x84)
#define IOMMU_IOAS_MAP			VSVA_IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_IOAS_UNMAP		VSVA_IO(IOMMUFD_TYPE, 0x86)
#define IOMMU_HWPT_ALLOC		VSVA_IO(IOMMUFD_TYPE, 0x89)
#define IOMMU_GET_HW_INFO		VSVA_IO(IOMMUFD_TYPE, 0x8a)
#define IOMMU_HWPT_SET_DIRTY_TRACKING	VSVA_IO(IOMMUFD_TYPE, 0x8b)
#define IOMMU_HWPT_INVALIDATE		VSVA_IO(IOMMUFD_TYPE, 0x8d)
#define IOMMU_FAULT_QUEUE_ALLOC		VSVA_IO(IOMMUFD_TYPE, 0x8e)
#define IOMMU_IOAS_ALLOW_IOVAS	VSVA_IO(IOMMUFD_TYPE, 0x82)
#define IOMMU_IOAS_COPY	VSVA_IO(IOMMUFD_TYPE, 0x83)
#define IOMMU_OPTION	VSVA_IO(IOMMUFD_TYPE, 0x87)
#define IOMMU_VFIO_IOAS	VSVA_IO(IOMMUFD_TYPE, 0x88)
#define IOMMU_IOAS_MAP_FILE	VSVA_IO(IOMMUFD_TYPE, 0x8f)
#define IOMMU_IOAS_CHANGE_PROCESS	VSVA_IO(IOMMUFD_TYPE, 0x92)
#define IOMMU_HWPT_GET_DIRTY_BITMAP	VSVA_IO(IOMMUFD_TYPE, 0x8c)
#define IOMMU_VIOMMU_ALLOC	VSVA_IO(IOMMUFD_TYPE, 0x90)
#define IOMMU_VDEVICE_ALLOC	VSVA_IO(IOMMUFD_TYPE, 0x91)
#define IOMMU_VEVENTQ_ALLOC	VSVA_IO(IOMMUFD_TYPE, 0x93)
#define IOMMU_HW_QUEUE_ALLOC	VSVA_IO(IOMMUFD_TYPE, 0x94)
#define VFIO_DEVICE_BIND_IOMMUFD	VSVA_IO(VFIO_TYPE, VFIO_BASE + 18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT	VSVA_IO(VFIO_TYPE, VFIO_BASE + 19)
#define VFIO_DEVICE_DETACH_IOMMUFD_PT	VSVA_IO(VFIO_TYPE, VFIO_BASE + 20)

/* ------------------------------------------------------------------------------------
 * The reference's x86_64 numbers, checked by the C compiler alone.
 * ---------------------------------------------------------------------------------- */

#if defined(__x86_64__)
#define VSVA_OFFSETOFEND(s, m) (offsetof(struct s, m) + sizeof(((struct s *)0)->m))

/* Section 1.3. */
_Static_assert(sizeof(struct iommu_fault_unrecoverable) == 32, "fault_unrecoverable");
_Static_assert(sizeof(struct iommu_fault_page_request) == 40, "fault_page_request");
_Static_assert(sizeof(struct iommu_fault) == 64, "iommu_fault is 64 bytes");
_Static_assert(offsetof(struct iommu_fault, prm) == 8, "iommu_fault union at 8");
_Static_assert(sizeof(struct iommu_page_response) == 24, "page_response v5.10");
_Static_assert(sizeof(struct iommu_inv_addr_info) == 40, "inv_addr_info");
_Static_assert(sizeof(struct iommu_inv_pasid_info) == 16, "inv_pasid_info");
_Static_assert(sizeof(struct iommu_cache_invalidate_info) == 56, "cache_invalidate_info");
_Static_assert(offsetof(struct iommu_cache_invalidate_info, granu) == 16, "minsz");
_Static_assert(VSVA_OFFSETOFEND(iommu_cache_invalidate_info, granu.pasid_info) == 32,
	       "offsetofend(granu.pasid_info)");
_Static_assert(VSVA_OFFSETOFEND(iommu_cache_invalidate_info, granu.addr_info) == 56,
	       "offsetofend(granu.addr_info)");
_Static_assert(sizeof(struct iommu_gpasid_bind_data_vtd) == 16, "bind_data_vtd");
_Static_assert(sizeof(struct iommu_gpasid_bind_data) == 72, "gpasid_bind_data");
_Static_assert(offsetof(struct iommu_gpasid_bind_data, vendor) == 56, "minsz");
_Static_assert(VSVA_OFFSETOFEND(iommu_gpasid_bind_data, vendor.vtd) == 72,
	       "offsetofend(vendor.vtd)");
/* Section 1.4. */
_Static_assert(sizeof(struct iommu_pasid_smmuv3) == 8, "pasid_smmuv3");
_Static_assert(sizeof(struct iommu_pasid_table_config) == 32, "pasid_table_config");
_Static_assert(offsetof(struct iommu_pasid_table_config, vendor_data) == 24, "minsz");
_Static_assert(sizeof(struct iommu_nesting_info_vtd) == 32, "nesting_info_vtd");
_Static_assert(sizeof(struct iommu_nesting_info) == 64, "nesting_info");
_Static_assert(offsetof(struct iommu_nesting_info, vendor) == 32, "minsz");
/* Section 4. */
_Static_assert(sizeof(struct vfio_iommu_type1_pasid_request) == 16, "pasid_request");
_Static_assert(VSVA_OFFSETOFEND(vfio_iommu_type1_pasid_request, range) == 16, "minsz");
_Static_assert(sizeof(struct vfio_iommu_type1_nesting_op) == 8, "nesting_op header");
_Static_assert(offsetof(struct vfio_iommu_type1_nesting_op, data) == 8, "data[] at 8");
/* Section 5. */
_Static_assert(sizeof(struct iommu_hw_info) == 40, "hw_info");
_Static_assert(offsetof(struct iommu_hw_info, out_data_type) == 24, "data type at 24");
_Static_assert(offsetof(struct iommu_hw_info, out_capabilities) == 32, "caps at 32");
_Static_assert(sizeof(struct iommu_hw_info_vtd) == 24, "hw_info_vtd");
_Static_assert(sizeof(struct iommu_hw_info_arm_smmuv3) == 40, "hw_info_arm_smmuv3");
_Static_assert(sizeof(struct iommu_hwpt_alloc) == 48, "hwpt_alloc");
_Static_assert(VSVA_OFFSETOFEND(iommu_hwpt_alloc, __reserved) == 24, "min_size");
_Static_assert(VSVA_OFFSETOFEND(iommu_hwpt_alloc, data_uptr) == 40, "v6.7 size");
_Static_assert(sizeof(struct iommu_hwpt_vtd_s1) == 24, "hwpt_vtd_s1");
_Static_assert(sizeof(struct iommu_hwpt_invalidate) == 32, "hwpt_invalidate");
_Static_assert(sizeof(struct iommu_hwpt_vtd_s1_invalidate) == 24, "vtd_s1_invalidate");
_Static_assert(sizeof(struct iommu_fault_alloc) == 16, "fault_alloc");
_Static_assert(sizeof(struct iommu_hwpt_pgfault) == 40, "hwpt_pgfault");
_Static_assert(sizeof(struct iommu_hwpt_page_response) == 8, "hwpt_page_response");
_Static_assert(sizeof(struct vfio_device_attach_iommufd_pt) == 16, "attach_pt");
_Static_assert(VSVA_OFFSETOFEND(vfio_device_attach_iommufd_pt, pt_id) == 12, "minsz");
_Static_assert(sizeof(struct vfio_device_detach_iommufd_pt) == 12, "detach_pt");
/* iommufd-7x.md section 1.5 and 4.1. */
_Static_assert(sizeof(struct iommu_destroy) == 8, "destroy");
_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "ioas_alloc");
_Static_assert(sizeof(struct iommu_ioas_map) == 40, "ioas_map");
_Static_assert(sizeof(struct iommu_ioas_unmap) == 24, "ioas_unmap");
_Static_assert(sizeof(struct iommu_ioas_iova_ranges) == 32, "ioas_iova_ranges");
_Static_assert(sizeof(struct iommu_hwpt_set_dirty_tracking) == 16, "set_dirty_tracking");
_Static_assert(sizeof(struct iommu_hw_info_tegra241_cmdqv) == 8, "iommu_hw_info_tegra241_cmdqv");
_Static_assert(sizeof(struct iommu_hw_info_amd) == 16, "iommu_hw_info_amd");
_Static_assert(sizeof(struct iommu_hwpt_arm_smmuv3) == 16, "iommu_hwpt_arm_smmuv3");
_Static_assert(sizeof(struct iommu_hwpt_amd_guest) == 32, "iommu_hwpt_amd_guest");
_Static_assert(sizeof(struct iommu_viommu_arm_smmuv3_invalidate) == 16, "iommu_viommu_arm_smmuv3_invalidate");
_Static_assert(sizeof(struct iommu_viommu_tegra241_cmdqv) == 16, "iommu_viommu_tegra241_cmdqv");
_Static_assert(sizeof(struct iommu_vevent_arm_smmuv3) == 32, "iommu_vevent_arm_smmuv3");
_Static_assert(sizeof(struct iommu_vevent_tegra241_cmdqv) == 16, "iommu_vevent_tegra241_cmdqv");
_Static_assert(sizeof(struct iommu_ioas_allow_iovas) == 24, "allow_iovas");
_Static_assert(sizeof(struct iommu_ioas_copy) == 40, "ioas_copy");
_Static_assert(sizeof(struct iommu_option) == 24, "option");
_Static_assert(sizeof(struct iommu_vfio_ioas) == 12, "vfio_ioas");
_Static_assert(sizeof(struct iommu_ioas_map_file) == 40, "map_file");
_Static_assert(sizeof(struct iommu_ioas_change_process) == 8, "change_process");
_Static_assert(sizeof(struct iommu_hwpt_get_dirty_bitmap) == 48, "get_dirty_bitmap");
_Static_assert(sizeof(struct iommu_viommu_alloc) == 40, "viommu_alloc");
_Static_assert(sizeof(struct iommu_vdevice_alloc) == 24, "vdevice_alloc");
_Static_assert(sizeof(struct iommu_veventq_alloc) == 32, "veventq_alloc");
_Static_assert(sizeof(struct iommu_hw_queue_alloc) == 40, "hw_queue_alloc");
_Static_assert(sizeof(struct iommufd_vevent_header) == 8, "vevent_header");
_Static_assert(VSVA_OFFSETOFEND(iommu_viommu_alloc, out_viommu_id) == 24, "viommu 6.13 size");
_Static_assert(VSVA_OFFSETOFEND(iommu_veventq_alloc, out_veventq_fd) == 28, "veventq min_size");
_Static_assert(sizeof(struct vfio_device_bind_iommufd) == 24, "bind_iommufd");
_Static_assert(VSVA_OFFSETOFEND(vfio_device_bind_iommufd, out_devid) == 16, "bind minsz");
/* vfio.h: minsz of the info replies is offsetofend of the field before cap_offset. */
_Static_assert(VSVA_OFFSETOFEND(vfio_device_info, num_irqs) == 16, "device_info minsz");
_Static_assert(VSVA_OFFSETOFEND(vfio_iommu_type1_info, iova_pgsizes) == 16, "type1 minsz");
_Static_assert(sizeof(struct vfio_iommu_type1_dma_unmap) == 24, "dma_unmap");
_Static_assert(offsetof(struct vfio_iommu_type1_info_cap_migration, pgsize_bitmap) == 16,
	       "migration: implicit padding at 12");
#endif /* __x86_64__ */

#endif /* VSVA_UAPI_H */
