/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * conformance.c: what a C VMM compiled against vsva_uapi.h sees of the ABI.
 *
 *  (a) the layout of every struct: sizeof / _Alignof per struct, and offsetof /
 *      sizeof of every field, union members included (offsetof on nested member
 *      designators such as granu.addr_info.addr);
 *  (b) fill functions: known values written into a caller's buffer;
 *  (c) check functions: bytes produced elsewhere (by Rust) copied into the C struct
 *      and compared field by field against the same known values.
 *
 * Field paths.  Every field-table entry carries two names: `path`, the name vsva
 * gives the field (what vsva_uapi::field_entries prints: `granu.addr_info.addr`), and
 * `c_member`, the member designator given to offsetof.  They are equal except where
 * the kernel's C has a name vsva's flat Rust declaration does not:
 *   - iommu_fault's union is anonymous in C; vsva names it `data`
 *     (path `data.prm.grpid`, C `prm.grpid`; the union itself: C `padding2`, its
 *     largest member, which fixes its offset and size);
 *   - iommu_hw_info's anonymous union { in_data_type; out_data_type } is vsva's
 *     single `data_type` (two C entries, one path);
 *   - vfio_iommu_type1_pasid_request's `struct { min; max } range` is vsva's flat
 *     `min` / `max`.
 *   - a VFIO capability record's `struct vfio_info_cap_header header` is vsva's flat
 *     `id` / `version` / `next`;
 *   - vfio_iommu_type1_info_cap_migration's implicit padding after `flags` is vsva's
 *     `__pad` (an entry measured between `flags` and `pgsize_bitmap`).
 * The flexible arrays (vfio_iommu_type1_nesting_op's `data[]`, DMA unmap's `data[]`,
 * the IOVA range capability's `iova_ranges[]`) have no size and no table entry.
 *
 * Only the functions declared in the "Exported API" section are visible to Rust; the
 * Rust declarations are in compat-tests/src/sys.rs and must match them.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vsva_uapi.h"

/* ====================================================================================
 * Exported API
 * ================================================================================== */

/* One struct: its kernel name, sizeof and _Alignof. */
struct vsva_c_struct_info {
	const char *name;
	size_t size;
	size_t align;
};

/* A field-table entry's role. */
enum vsva_c_field_role {
	/* A field: a top-level member, or a member of a union member. */
	VSVA_C_ROLE_FIELD = 0,
	/* A union as a whole (vsva's raw union storage). */
	VSVA_C_ROLE_UNION = 1,
};

/* One field-table entry. */
struct vsva_c_field_info {
	const char *strukt;
	const char *path;
	const char *c_member;
	size_t offset;
	size_t size;
	uint32_t role;
};

/* One constant of the header. */
struct vsva_c_const_info {
	const char *name;
	uint64_t value;
};

size_t vsva_c_struct_count(void);
const struct vsva_c_struct_info *vsva_c_struct(size_t i);
size_t vsva_c_field_count(void);
const struct vsva_c_field_info *vsva_c_field(size_t i);
size_t vsva_c_const_count(void);
const struct vsva_c_const_info *vsva_c_const(size_t i);
size_t vsva_c_sample_count(void);
const char *vsva_c_sample_name(size_t i);
const char *vsva_c_sample_struct(size_t i);
size_t vsva_c_sample_len(size_t i);
size_t vsva_c_sample_fill(size_t i, void *buf, size_t len);
int vsva_c_sample_check(size_t i, const void *buf, size_t len, const char **field);

/* vsva_c_sample_check's results besides 0 (match) and n > 0 (field n differs). */
#define VSVA_C_CHECK_NO_SAMPLE	(-1)
#define VSVA_C_CHECK_TOO_SHORT	(-2)

/* ====================================================================================
 * (a) Layout tables
 * ================================================================================== */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define STRUCT(s) { #s, sizeof(struct s), _Alignof(struct s) }

static const struct vsva_c_struct_info structs[] = {
	STRUCT(iommu_cache_invalidate_info),
	STRUCT(iommu_gpasid_bind_data),
	STRUCT(iommu_page_response),
	STRUCT(iommu_pasid_table_config),
	STRUCT(iommu_nesting_info),
	STRUCT(vfio_iommu_type1_pasid_request),
	STRUCT(vfio_iommu_type1_nesting_op),
	STRUCT(iommu_hw_info),
	STRUCT(iommu_hwpt_alloc),
	STRUCT(iommu_hwpt_invalidate),
	STRUCT(iommu_fault_alloc),
	STRUCT(vfio_device_attach_iommufd_pt),
	STRUCT(vfio_device_detach_iommufd_pt),
	STRUCT(iommu_fault),
	STRUCT(iommu_fault_unrecoverable),
	STRUCT(iommu_fault_page_request),
	STRUCT(iommu_inv_addr_info),
	STRUCT(iommu_inv_pasid_info),
	STRUCT(iommu_gpasid_bind_data_vtd),
	STRUCT(iommu_pasid_smmuv3),
	STRUCT(iommu_nesting_info_vtd),
	STRUCT(iommu_hw_info_vtd),
	STRUCT(iommu_hw_info_arm_smmuv3),
	STRUCT(iommu_hwpt_vtd_s1),
	STRUCT(iommu_hwpt_vtd_s1_invalidate),
	STRUCT(iommu_hwpt_pgfault),
	STRUCT(iommu_hwpt_page_response),
	STRUCT(iommu_destroy),
	STRUCT(iommu_hwpt_set_dirty_tracking),
	STRUCT(iommu_hw_info_tegra241_cmdqv),
	STRUCT(iommu_hw_info_amd),
	STRUCT(iommu_hwpt_arm_smmuv3),
	STRUCT(iommu_hwpt_amd_guest),
	STRUCT(iommu_viommu_arm_smmuv3_invalidate),
	STRUCT(iommu_viommu_tegra241_cmdqv),
	STRUCT(iommu_vevent_arm_smmuv3),
	STRUCT(iommu_vevent_tegra241_cmdqv),
	STRUCT(iommu_ioas_allow_iovas),
	STRUCT(iommu_ioas_copy),
	STRUCT(iommu_option),
	STRUCT(iommu_vfio_ioas),
	STRUCT(iommu_ioas_map_file),
	STRUCT(iommu_ioas_change_process),
	STRUCT(iommu_hwpt_get_dirty_bitmap),
	STRUCT(iommu_viommu_alloc),
	STRUCT(iommu_vdevice_alloc),
	STRUCT(iommu_veventq_alloc),
	STRUCT(iommu_hw_queue_alloc),
	STRUCT(iommufd_vevent_header),
	STRUCT(iommu_ioas_alloc),
	STRUCT(iommu_ioas_map),
	STRUCT(iommu_ioas_unmap),
	STRUCT(iommu_ioas_iova_ranges),
	STRUCT(vfio_device_bind_iommufd),
	STRUCT(vfio_group_status),
	STRUCT(vfio_device_info),
	STRUCT(vfio_region_info),
	STRUCT(vfio_irq_info),
	STRUCT(vfio_iommu_type1_info),
	STRUCT(vfio_iommu_type1_dma_map),
	STRUCT(vfio_iommu_type1_dma_unmap),
	STRUCT(iommu_iova_range),
	STRUCT(vfio_info_cap_header),
	STRUCT(vfio_iommu_type1_info_cap_iova_range),
	STRUCT(vfio_iova_range),
	STRUCT(vfio_iommu_type1_info_cap_migration),
	STRUCT(vfio_iommu_type1_info_dma_avail),
};

#define MEMBER_SIZE(s, m) sizeof(((struct s *)0)->m)

/* A field whose vsva path is its C member designator. */
#define FLD(s, m) \
	{ #s, #m, #m, offsetof(struct s, m), MEMBER_SIZE(s, m), VSVA_C_ROLE_FIELD }
/* A field vsva names `path`. */
#define FLD_AS(s, path, m) \
	{ #s, path, #m, offsetof(struct s, m), MEMBER_SIZE(s, m), VSVA_C_ROLE_FIELD }
/* A named union as a whole. */
#define UNI(s, m) \
	{ #s, #m, #m, offsetof(struct s, m), MEMBER_SIZE(s, m), VSVA_C_ROLE_UNION }
/* iommu_fault's anonymous union, which vsva calls `data`: member `mem`, field `f`. */
#define FAULT_FLD(mem, f) \
	FLD_AS(iommu_fault, "data." #mem "." #f, mem.f)

/* The vfio_info_cap_header a capability record starts with: vsva flattens it. */
#define CAP_HEADER(s) \
	FLD_AS(s, "id", header.id), FLD_AS(s, "version", header.version), \
	FLD_AS(s, "next", header.next)

static const struct vsva_c_field_info fields[] = {
	/* iommu_cache_invalidate_info */
	FLD(iommu_cache_invalidate_info, argsz),
	FLD(iommu_cache_invalidate_info, version),
	FLD(iommu_cache_invalidate_info, cache),
	FLD(iommu_cache_invalidate_info, granularity),
	FLD(iommu_cache_invalidate_info, padding),
	UNI(iommu_cache_invalidate_info, granu),
	FLD(iommu_cache_invalidate_info, granu.pasid_info.flags),
	FLD(iommu_cache_invalidate_info, granu.pasid_info.archid),
	FLD(iommu_cache_invalidate_info, granu.pasid_info.pasid),
	FLD(iommu_cache_invalidate_info, granu.addr_info.flags),
	FLD(iommu_cache_invalidate_info, granu.addr_info.archid),
	FLD(iommu_cache_invalidate_info, granu.addr_info.pasid),
	FLD(iommu_cache_invalidate_info, granu.addr_info.addr),
	FLD(iommu_cache_invalidate_info, granu.addr_info.granule_size),
	FLD(iommu_cache_invalidate_info, granu.addr_info.nb_granules),

	/* iommu_gpasid_bind_data */
	FLD(iommu_gpasid_bind_data, argsz),
	FLD(iommu_gpasid_bind_data, version),
	FLD(iommu_gpasid_bind_data, format),
	FLD(iommu_gpasid_bind_data, addr_width),
	FLD(iommu_gpasid_bind_data, flags),
	FLD(iommu_gpasid_bind_data, gpgd),
	FLD(iommu_gpasid_bind_data, hpasid),
	FLD(iommu_gpasid_bind_data, gpasid),
	FLD(iommu_gpasid_bind_data, padding),
	UNI(iommu_gpasid_bind_data, vendor),
	FLD(iommu_gpasid_bind_data, vendor.vtd.flags),
	FLD(iommu_gpasid_bind_data, vendor.vtd.pat),
	FLD(iommu_gpasid_bind_data, vendor.vtd.emt),

	/* iommu_page_response */
	FLD(iommu_page_response, argsz),
	FLD(iommu_page_response, version),
	FLD(iommu_page_response, flags),
	FLD(iommu_page_response, pasid),
	FLD(iommu_page_response, grpid),
	FLD(iommu_page_response, code),

	/* iommu_pasid_table_config */
	FLD(iommu_pasid_table_config, argsz),
	FLD(iommu_pasid_table_config, version),
	FLD(iommu_pasid_table_config, base_ptr),
	FLD(iommu_pasid_table_config, format),
	FLD(iommu_pasid_table_config, pasid_bits),
	FLD(iommu_pasid_table_config, config),
	FLD(iommu_pasid_table_config, padding),
	UNI(iommu_pasid_table_config, vendor_data),
	FLD(iommu_pasid_table_config, vendor_data.smmuv3.version),
	FLD(iommu_pasid_table_config, vendor_data.smmuv3.s1fmt),
	FLD(iommu_pasid_table_config, vendor_data.smmuv3.s1dss),
	FLD(iommu_pasid_table_config, vendor_data.smmuv3.padding),

	/* iommu_nesting_info */
	FLD(iommu_nesting_info, argsz),
	FLD(iommu_nesting_info, flags),
	FLD(iommu_nesting_info, format),
	FLD(iommu_nesting_info, features),
	FLD(iommu_nesting_info, addr_width),
	FLD(iommu_nesting_info, pasid_bits),
	FLD(iommu_nesting_info, padding),
	UNI(iommu_nesting_info, vendor),
	FLD(iommu_nesting_info, vendor.vtd.flags),
	FLD(iommu_nesting_info, vendor.vtd.padding),
	FLD(iommu_nesting_info, vendor.vtd.cap_reg),
	FLD(iommu_nesting_info, vendor.vtd.ecap_reg),

	/* vfio_iommu_type1_pasid_request */
	FLD(vfio_iommu_type1_pasid_request, argsz),
	FLD(vfio_iommu_type1_pasid_request, flags),
	FLD_AS(vfio_iommu_type1_pasid_request, "min", range.min),
	FLD_AS(vfio_iommu_type1_pasid_request, "max", range.max),

	/* vfio_iommu_type1_nesting_op (data[] is a flexible array: no entry) */
	FLD(vfio_iommu_type1_nesting_op, argsz),
	FLD(vfio_iommu_type1_nesting_op, flags),

	/* iommu_hw_info */
	FLD(iommu_hw_info, size),
	FLD(iommu_hw_info, flags),
	FLD(iommu_hw_info, dev_id),
	FLD(iommu_hw_info, data_len),
	FLD(iommu_hw_info, data_uptr),
	FLD_AS(iommu_hw_info, "data_type", in_data_type),
	FLD_AS(iommu_hw_info, "data_type", out_data_type),
	FLD(iommu_hw_info, out_max_pasid_log2),
	FLD(iommu_hw_info, __reserved),
	FLD(iommu_hw_info, out_capabilities),

	/* iommu_hwpt_alloc */
	FLD(iommu_hwpt_alloc, size),
	FLD(iommu_hwpt_alloc, flags),
	FLD(iommu_hwpt_alloc, dev_id),
	FLD(iommu_hwpt_alloc, pt_id),
	FLD(iommu_hwpt_alloc, out_hwpt_id),
	FLD(iommu_hwpt_alloc, __reserved),
	FLD(iommu_hwpt_alloc, data_type),
	FLD(iommu_hwpt_alloc, data_len),
	FLD(iommu_hwpt_alloc, data_uptr),
	FLD(iommu_hwpt_alloc, fault_id),
	FLD(iommu_hwpt_alloc, __reserved2),

	/* iommu_hwpt_invalidate */
	FLD(iommu_hwpt_invalidate, size),
	FLD(iommu_hwpt_invalidate, hwpt_id),
	FLD(iommu_hwpt_invalidate, data_uptr),
	FLD(iommu_hwpt_invalidate, data_type),
	FLD(iommu_hwpt_invalidate, entry_len),
	FLD(iommu_hwpt_invalidate, entry_num),
	FLD(iommu_hwpt_invalidate, __reserved),

	/* iommu_fault_alloc */
	FLD(iommu_fault_alloc, size),
	FLD(iommu_fault_alloc, flags),
	FLD(iommu_fault_alloc, out_fault_id),
	FLD(iommu_fault_alloc, out_fault_fd),

	/* vfio_device_attach_iommufd_pt */
	FLD(vfio_device_attach_iommufd_pt, argsz),
	FLD(vfio_device_attach_iommufd_pt, flags),
	FLD(vfio_device_attach_iommufd_pt, pt_id),
	FLD(vfio_device_attach_iommufd_pt, pasid),

	/* vfio_device_detach_iommufd_pt */
	FLD(vfio_device_detach_iommufd_pt, argsz),
	FLD(vfio_device_detach_iommufd_pt, flags),
	FLD(vfio_device_detach_iommufd_pt, pasid),

	/* iommu_fault: the anonymous union is vsva's `data`; padding2 is its largest member */
	FLD(iommu_fault, type),
	FLD(iommu_fault, padding),
	{ "iommu_fault", "data", "padding2", offsetof(struct iommu_fault, padding2),
	  MEMBER_SIZE(iommu_fault, padding2), VSVA_C_ROLE_UNION },
	FAULT_FLD(event, reason),
	FAULT_FLD(event, flags),
	FAULT_FLD(event, pasid),
	FAULT_FLD(event, perm),
	FAULT_FLD(event, addr),
	FAULT_FLD(event, fetch_addr),
	FAULT_FLD(prm, flags),
	FAULT_FLD(prm, pasid),
	FAULT_FLD(prm, grpid),
	FAULT_FLD(prm, perm),
	FAULT_FLD(prm, addr),
	FAULT_FLD(prm, private_data),

	/* iommu_fault_unrecoverable */
	FLD(iommu_fault_unrecoverable, reason),
	FLD(iommu_fault_unrecoverable, flags),
	FLD(iommu_fault_unrecoverable, pasid),
	FLD(iommu_fault_unrecoverable, perm),
	FLD(iommu_fault_unrecoverable, addr),
	FLD(iommu_fault_unrecoverable, fetch_addr),

	/* iommu_fault_page_request */
	FLD(iommu_fault_page_request, flags),
	FLD(iommu_fault_page_request, pasid),
	FLD(iommu_fault_page_request, grpid),
	FLD(iommu_fault_page_request, perm),
	FLD(iommu_fault_page_request, addr),
	FLD(iommu_fault_page_request, private_data),

	/* iommu_inv_addr_info */
	FLD(iommu_inv_addr_info, flags),
	FLD(iommu_inv_addr_info, archid),
	FLD(iommu_inv_addr_info, pasid),
	FLD(iommu_inv_addr_info, addr),
	FLD(iommu_inv_addr_info, granule_size),
	FLD(iommu_inv_addr_info, nb_granules),

	/* iommu_inv_pasid_info */
	FLD(iommu_inv_pasid_info, flags),
	FLD(iommu_inv_pasid_info, archid),
	FLD(iommu_inv_pasid_info, pasid),

	/* iommu_gpasid_bind_data_vtd */
	FLD(iommu_gpasid_bind_data_vtd, flags),
	FLD(iommu_gpasid_bind_data_vtd, pat),
	FLD(iommu_gpasid_bind_data_vtd, emt),

	/* iommu_pasid_smmuv3 */
	FLD(iommu_pasid_smmuv3, version),
	FLD(iommu_pasid_smmuv3, s1fmt),
	FLD(iommu_pasid_smmuv3, s1dss),
	FLD(iommu_pasid_smmuv3, padding),

	/* iommu_nesting_info_vtd */
	FLD(iommu_nesting_info_vtd, flags),
	FLD(iommu_nesting_info_vtd, padding),
	FLD(iommu_nesting_info_vtd, cap_reg),
	FLD(iommu_nesting_info_vtd, ecap_reg),

	/* iommu_hw_info_vtd */
	FLD(iommu_hw_info_vtd, flags),
	FLD(iommu_hw_info_vtd, __reserved),
	FLD(iommu_hw_info_vtd, cap_reg),
	FLD(iommu_hw_info_vtd, ecap_reg),

	/* iommu_hw_info_arm_smmuv3 */
	FLD(iommu_hw_info_arm_smmuv3, flags),
	FLD(iommu_hw_info_arm_smmuv3, __reserved),
	FLD(iommu_hw_info_arm_smmuv3, idr),
	FLD(iommu_hw_info_arm_smmuv3, iidr),
	FLD(iommu_hw_info_arm_smmuv3, aidr),

	/* iommu_hwpt_vtd_s1 */
	FLD(iommu_hwpt_vtd_s1, flags),
	FLD(iommu_hwpt_vtd_s1, pgtbl_addr),
	FLD(iommu_hwpt_vtd_s1, addr_width),
	FLD(iommu_hwpt_vtd_s1, __reserved),

	/* iommu_hwpt_vtd_s1_invalidate */
	FLD(iommu_hwpt_vtd_s1_invalidate, addr),
	FLD(iommu_hwpt_vtd_s1_invalidate, npages),
	FLD(iommu_hwpt_vtd_s1_invalidate, flags),
	FLD(iommu_hwpt_vtd_s1_invalidate, __reserved),

	/* iommu_hwpt_pgfault */
	FLD(iommu_hwpt_pgfault, flags),
	FLD(iommu_hwpt_pgfault, dev_id),
	FLD(iommu_hwpt_pgfault, pasid),
	FLD(iommu_hwpt_pgfault, grpid),
	FLD(iommu_hwpt_pgfault, perm),
	FLD(iommu_hwpt_pgfault, __reserved),
	FLD(iommu_hwpt_pgfault, addr),
	FLD(iommu_hwpt_pgfault, length),
	FLD(iommu_hwpt_pgfault, cookie),

	/* iommu_hwpt_page_response */
	FLD(iommu_hwpt_page_response, cookie),
	FLD(iommu_hwpt_page_response, code),

	/* iommu_hwpt_get_dirty_bitmap */
	FLD(iommu_hwpt_get_dirty_bitmap, size),
	FLD(iommu_hwpt_get_dirty_bitmap, hwpt_id),
	FLD(iommu_hwpt_get_dirty_bitmap, flags),
	FLD(iommu_hwpt_get_dirty_bitmap, __reserved),
	FLD(iommu_hwpt_get_dirty_bitmap, iova),
	FLD(iommu_hwpt_get_dirty_bitmap, length),
	FLD(iommu_hwpt_get_dirty_bitmap, page_size),
	FLD(iommu_hwpt_get_dirty_bitmap, data),

	/* iommu_viommu_alloc */
	FLD(iommu_viommu_alloc, size),
	FLD(iommu_viommu_alloc, flags),
	FLD(iommu_viommu_alloc, type),
	FLD(iommu_viommu_alloc, dev_id),
	FLD(iommu_viommu_alloc, hwpt_id),
	FLD(iommu_viommu_alloc, out_viommu_id),
	FLD(iommu_viommu_alloc, data_len),
	FLD(iommu_viommu_alloc, __reserved),
	FLD(iommu_viommu_alloc, data_uptr),

	/* iommu_vdevice_alloc */
	FLD(iommu_vdevice_alloc, size),
	FLD(iommu_vdevice_alloc, viommu_id),
	FLD(iommu_vdevice_alloc, dev_id),
	FLD(iommu_vdevice_alloc, out_vdevice_id),
	FLD(iommu_vdevice_alloc, virt_id),

	/* iommu_veventq_alloc */
	FLD(iommu_veventq_alloc, size),
	FLD(iommu_veventq_alloc, flags),
	FLD(iommu_veventq_alloc, viommu_id),
	FLD(iommu_veventq_alloc, type),
	FLD(iommu_veventq_alloc, veventq_depth),
	FLD(iommu_veventq_alloc, out_veventq_id),
	FLD(iommu_veventq_alloc, out_veventq_fd),
	FLD(iommu_veventq_alloc, __reserved),

	/* iommu_hw_queue_alloc */
	FLD(iommu_hw_queue_alloc, size),
	FLD(iommu_hw_queue_alloc, flags),
	FLD(iommu_hw_queue_alloc, viommu_id),
	FLD(iommu_hw_queue_alloc, type),
	FLD(iommu_hw_queue_alloc, index),
	FLD(iommu_hw_queue_alloc, out_hw_queue_id),
	FLD(iommu_hw_queue_alloc, nesting_parent_iova),
	FLD(iommu_hw_queue_alloc, length),

	/* iommufd_vevent_header */
	FLD(iommufd_vevent_header, flags),
	FLD(iommufd_vevent_header, sequence),

	/* iommu_ioas_allow_iovas */
	FLD(iommu_ioas_allow_iovas, size),
	FLD(iommu_ioas_allow_iovas, ioas_id),
	FLD(iommu_ioas_allow_iovas, num_iovas),
	FLD(iommu_ioas_allow_iovas, __reserved),
	FLD(iommu_ioas_allow_iovas, allowed_iovas),

	/* iommu_ioas_copy */
	FLD(iommu_ioas_copy, size),
	FLD(iommu_ioas_copy, flags),
	FLD(iommu_ioas_copy, dst_ioas_id),
	FLD(iommu_ioas_copy, src_ioas_id),
	FLD(iommu_ioas_copy, length),
	FLD(iommu_ioas_copy, dst_iova),
	FLD(iommu_ioas_copy, src_iova),

	/* iommu_option */
	FLD(iommu_option, size),
	FLD(iommu_option, option_id),
	FLD(iommu_option, op),
	FLD(iommu_option, __reserved),
	FLD(iommu_option, object_id),
	FLD(iommu_option, val64),

	/* iommu_vfio_ioas */
	FLD(iommu_vfio_ioas, size),
	FLD(iommu_vfio_ioas, ioas_id),
	FLD(iommu_vfio_ioas, op),
	FLD(iommu_vfio_ioas, __reserved),

	/* iommu_ioas_map_file */
	FLD(iommu_ioas_map_file, size),
	FLD(iommu_ioas_map_file, flags),
	FLD(iommu_ioas_map_file, ioas_id),
	FLD(iommu_ioas_map_file, fd),
	FLD(iommu_ioas_map_file, start),
	FLD(iommu_ioas_map_file, length),
	FLD(iommu_ioas_map_file, iova),

	/* iommu_ioas_change_process */
	FLD(iommu_ioas_change_process, size),
	FLD(iommu_ioas_change_process, __reserved),

	/* iommu_hw_info_tegra241_cmdqv */
	FLD(iommu_hw_info_tegra241_cmdqv, flags),
	FLD(iommu_hw_info_tegra241_cmdqv, version),
	FLD(iommu_hw_info_tegra241_cmdqv, log2vcmdqs),
	FLD(iommu_hw_info_tegra241_cmdqv, log2vsids),
	FLD(iommu_hw_info_tegra241_cmdqv, __reserved),

	/* iommu_hw_info_amd */
	FLD(iommu_hw_info_amd, efr),
	FLD(iommu_hw_info_amd, efr2),

	/* iommu_hwpt_arm_smmuv3 */
	FLD(iommu_hwpt_arm_smmuv3, ste),

	/* iommu_hwpt_amd_guest */
	FLD(iommu_hwpt_amd_guest, dte),

	/* iommu_viommu_arm_smmuv3_invalidate */
	FLD(iommu_viommu_arm_smmuv3_invalidate, cmd),

	/* iommu_viommu_tegra241_cmdqv */
	FLD(iommu_viommu_tegra241_cmdqv, out_vintf_mmap_offset),
	FLD(iommu_viommu_tegra241_cmdqv, out_vintf_mmap_length),

	/* iommu_vevent_arm_smmuv3 */
	FLD(iommu_vevent_arm_smmuv3, evt),

	/* iommu_vevent_tegra241_cmdqv */
	FLD(iommu_vevent_tegra241_cmdqv, lvcmdq_err_map),

	/* iommu_hwpt_set_dirty_tracking */
	FLD(iommu_hwpt_set_dirty_tracking, size),
	FLD(iommu_hwpt_set_dirty_tracking, flags),
	FLD(iommu_hwpt_set_dirty_tracking, hwpt_id),
	FLD(iommu_hwpt_set_dirty_tracking, __reserved),

	/* iommu_destroy */
	FLD(iommu_destroy, size),
	FLD(iommu_destroy, id),

	/* iommu_ioas_alloc */
	FLD(iommu_ioas_alloc, size),
	FLD(iommu_ioas_alloc, flags),
	FLD(iommu_ioas_alloc, out_ioas_id),

	/* iommu_ioas_map */
	FLD(iommu_ioas_map, size),
	FLD(iommu_ioas_map, flags),
	FLD(iommu_ioas_map, ioas_id),
	FLD(iommu_ioas_map, __reserved),
	FLD(iommu_ioas_map, user_va),
	FLD(iommu_ioas_map, length),
	FLD(iommu_ioas_map, iova),

	/* iommu_ioas_unmap */
	FLD(iommu_ioas_unmap, size),
	FLD(iommu_ioas_unmap, ioas_id),
	FLD(iommu_ioas_unmap, iova),
	FLD(iommu_ioas_unmap, length),

	/* iommu_ioas_iova_ranges */
	FLD(iommu_ioas_iova_ranges, size),
	FLD(iommu_ioas_iova_ranges, ioas_id),
	FLD(iommu_ioas_iova_ranges, num_iovas),
	FLD(iommu_ioas_iova_ranges, __reserved),
	FLD(iommu_ioas_iova_ranges, allowed_iovas),
	FLD(iommu_ioas_iova_ranges, out_iova_alignment),

	/* vfio_device_bind_iommufd */
	FLD(vfio_device_bind_iommufd, argsz),
	FLD(vfio_device_bind_iommufd, flags),
	FLD(vfio_device_bind_iommufd, iommufd),
	FLD(vfio_device_bind_iommufd, out_devid),
	FLD(vfio_device_bind_iommufd, token_uuid_ptr),

	/* vfio_group_status */
	FLD(vfio_group_status, argsz),
	FLD(vfio_group_status, flags),

	/* vfio_device_info */
	FLD(vfio_device_info, argsz),
	FLD(vfio_device_info, flags),
	FLD(vfio_device_info, num_regions),
	FLD(vfio_device_info, num_irqs),
	FLD(vfio_device_info, cap_offset),
	FLD(vfio_device_info, pad),

	/* vfio_region_info */
	FLD(vfio_region_info, argsz),
	FLD(vfio_region_info, flags),
	FLD(vfio_region_info, index),
	FLD(vfio_region_info, cap_offset),
	FLD(vfio_region_info, size),
	FLD(vfio_region_info, offset),

	/* vfio_irq_info */
	FLD(vfio_irq_info, argsz),
	FLD(vfio_irq_info, flags),
	FLD(vfio_irq_info, index),
	FLD(vfio_irq_info, count),

	/* vfio_iommu_type1_info */
	FLD(vfio_iommu_type1_info, argsz),
	FLD(vfio_iommu_type1_info, flags),
	FLD(vfio_iommu_type1_info, iova_pgsizes),
	FLD(vfio_iommu_type1_info, cap_offset),
	FLD(vfio_iommu_type1_info, pad),

	/* vfio_iommu_type1_dma_map */
	FLD(vfio_iommu_type1_dma_map, argsz),
	FLD(vfio_iommu_type1_dma_map, flags),
	FLD(vfio_iommu_type1_dma_map, vaddr),
	FLD(vfio_iommu_type1_dma_map, iova),
	FLD(vfio_iommu_type1_dma_map, size),

	/* vfio_iommu_type1_dma_unmap (data[] is a flexible array: no entry) */
	FLD(vfio_iommu_type1_dma_unmap, argsz),
	FLD(vfio_iommu_type1_dma_unmap, flags),
	FLD(vfio_iommu_type1_dma_unmap, iova),
	FLD(vfio_iommu_type1_dma_unmap, size),

	/* iommu_iova_range */
	FLD(iommu_iova_range, start),
	FLD(iommu_iova_range, last),

	/* vfio_info_cap_header */
	FLD(vfio_info_cap_header, id),
	FLD(vfio_info_cap_header, version),
	FLD(vfio_info_cap_header, next),

	/* vfio_iommu_type1_info_cap_iova_range (iova_ranges[] is a flexible array: no entry) */
	CAP_HEADER(vfio_iommu_type1_info_cap_iova_range),
	FLD(vfio_iommu_type1_info_cap_iova_range, nr_iovas),
	FLD(vfio_iommu_type1_info_cap_iova_range, reserved),

	/* vfio_iova_range */
	FLD(vfio_iova_range, start),
	FLD(vfio_iova_range, end),

	/* vfio_iommu_type1_info_cap_migration */
	CAP_HEADER(vfio_iommu_type1_info_cap_migration),
	FLD(vfio_iommu_type1_info_cap_migration, flags),
	{ "vfio_iommu_type1_info_cap_migration", "__pad", "(padding after flags)",
	  offsetof(struct vfio_iommu_type1_info_cap_migration, flags) +
		  MEMBER_SIZE(vfio_iommu_type1_info_cap_migration, flags),
	  offsetof(struct vfio_iommu_type1_info_cap_migration, pgsize_bitmap) -
		  offsetof(struct vfio_iommu_type1_info_cap_migration, flags) -
		  MEMBER_SIZE(vfio_iommu_type1_info_cap_migration, flags),
	  VSVA_C_ROLE_FIELD },
	FLD(vfio_iommu_type1_info_cap_migration, pgsize_bitmap),
	FLD(vfio_iommu_type1_info_cap_migration, max_dirty_bitmap_size),

	/* vfio_iommu_type1_info_dma_avail */
	CAP_HEADER(vfio_iommu_type1_info_dma_avail),
	FLD(vfio_iommu_type1_info_dma_avail, avail),
};

#define CONST(c) { #c, (uint64_t)(c) }

static const struct vsva_c_const_info consts[] = {
	CONST(IOMMU_FAULT_PERM_READ),
	CONST(IOMMU_FAULT_PERM_WRITE),
	CONST(IOMMU_FAULT_PERM_EXEC),
	CONST(IOMMU_FAULT_PERM_PRIV),
	CONST(IOMMU_FAULT_DMA_UNRECOV),
	CONST(IOMMU_FAULT_PAGE_REQ),
	CONST(IOMMU_FAULT_REASON_UNKNOWN),
	CONST(IOMMU_FAULT_REASON_PASID_FETCH),
	CONST(IOMMU_FAULT_REASON_BAD_PASID_ENTRY),
	CONST(IOMMU_FAULT_REASON_PASID_INVALID),
	CONST(IOMMU_FAULT_REASON_WALK_EABT),
	CONST(IOMMU_FAULT_REASON_PTE_FETCH),
	CONST(IOMMU_FAULT_REASON_PERMISSION),
	CONST(IOMMU_FAULT_REASON_ACCESS),
	CONST(IOMMU_FAULT_REASON_OOR_ADDRESS),
	CONST(IOMMU_FAULT_UNRECOV_PASID_VALID),
	CONST(IOMMU_FAULT_UNRECOV_ADDR_VALID),
	CONST(IOMMU_FAULT_UNRECOV_FETCH_ADDR_VALID),
	CONST(IOMMU_FAULT_PAGE_REQUEST_PASID_VALID),
	CONST(IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE),
	CONST(IOMMU_FAULT_PAGE_REQUEST_PRIV_DATA),
	CONST(IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID),
	CONST(IOMMU_PAGE_RESP_SUCCESS),
	CONST(IOMMU_PAGE_RESP_INVALID),
	CONST(IOMMU_PAGE_RESP_FAILURE),
	CONST(IOMMU_PAGE_RESP_VERSION_1),
	CONST(IOMMU_PAGE_RESP_PASID_VALID),
	CONST(IOMMU_INV_GRANU_DOMAIN),
	CONST(IOMMU_INV_GRANU_PASID),
	CONST(IOMMU_INV_GRANU_ADDR),
	CONST(IOMMU_INV_GRANU_NR),
	CONST(IOMMU_INV_ADDR_FLAGS_PASID),
	CONST(IOMMU_INV_ADDR_FLAGS_ARCHID),
	CONST(IOMMU_INV_ADDR_FLAGS_LEAF),
	CONST(IOMMU_INV_PASID_FLAGS_PASID),
	CONST(IOMMU_INV_PASID_FLAGS_ARCHID),
	CONST(IOMMU_CACHE_INVALIDATE_INFO_VERSION_1),
	CONST(IOMMU_CACHE_INV_TYPE_IOTLB),
	CONST(IOMMU_CACHE_INV_TYPE_DEV_IOTLB),
	CONST(IOMMU_CACHE_INV_TYPE_PASID),
	CONST(IOMMU_CACHE_INV_TYPE_NR),
	CONST(IOMMU_GPASID_BIND_VERSION_1),
	CONST(IOMMU_PASID_FORMAT_INTEL_VTD),
	CONST(IOMMU_PASID_FORMAT_LAST),
	CONST(IOMMU_SVA_GPASID_VAL),
	CONST(IOMMU_SVA_VTD_GPASID_SRE),
	CONST(IOMMU_SVA_VTD_GPASID_EAFE),
	CONST(IOMMU_SVA_VTD_GPASID_PCD),
	CONST(IOMMU_SVA_VTD_GPASID_PWT),
	CONST(IOMMU_SVA_VTD_GPASID_EMTE),
	CONST(IOMMU_SVA_VTD_GPASID_CD),
	CONST(IOMMU_SVA_VTD_GPASID_WPE),
	CONST(IOMMU_SVA_VTD_GPASID_LAST),
	CONST(IOMMU_SVA_VTD_GPASID_MTS_MASK),
	CONST(PASID_TABLE_CFG_VERSION_1),
	CONST(PASID_TABLE_SMMUV3_CFG_VERSION_1),
	CONST(IOMMU_PASID_FORMAT_SMMUV3),
	CONST(IOMMU_PASID_CONFIG_TRANSLATE),
	CONST(IOMMU_PASID_CONFIG_BYPASS),
	CONST(IOMMU_PASID_CONFIG_ABORT),
	CONST(IOMMU_NESTING_FEAT_BIND_PGTBL),
	CONST(IOMMU_NESTING_FEAT_CACHE_INVLD),
	CONST(VFIO_IOMMU_FLAG_ALLOC_PASID),
	CONST(VFIO_IOMMU_FLAG_FREE_PASID),
	CONST(VFIO_NESTING_OP_MASK),
	CONST(VFIO_IOMMU_NESTING_OP_BIND_PGTBL),
	CONST(VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL),
	CONST(VFIO_IOMMU_NESTING_OP_CACHE_INVLD),
	CONST(IOMMU_HW_INFO_TYPE_NONE),
	CONST(IOMMU_HW_INFO_TYPE_INTEL_VTD),
	CONST(IOMMU_HW_INFO_TYPE_ARM_SMMUV3),
	CONST(IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV),
	CONST(IOMMU_HW_INFO_FLAG_INPUT_TYPE),
	CONST(IOMMU_HW_CAP_DIRTY_TRACKING),
	CONST(IOMMU_HW_CAP_PCI_PASID_EXEC),
	CONST(IOMMU_HW_CAP_PCI_PASID_PRIV),
	CONST(IOMMU_HWPT_DATA_NONE),
	CONST(IOMMU_HWPT_DATA_VTD_S1),
	CONST(IOMMU_HWPT_DATA_ARM_SMMUV3),
	CONST(IOMMU_HWPT_ALLOC_NEST_PARENT),
	CONST(IOMMU_HWPT_ALLOC_DIRTY_TRACKING),
	CONST(IOMMU_HWPT_FAULT_ID_VALID),
	CONST(IOMMU_HWPT_ALLOC_PASID),
	CONST(IOMMU_VTD_S1_SRE),
	CONST(IOMMU_VTD_S1_EAFE),
	CONST(IOMMU_VTD_S1_WPE),
	CONST(IOMMU_HWPT_INVALIDATE_DATA_VTD_S1),
	CONST(IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3),
	CONST(IOMMU_VTD_INV_FLAGS_LEAF),
	CONST(IOMMU_PGFAULT_FLAGS_PASID_VALID),
	CONST(IOMMU_PGFAULT_FLAGS_LAST_PAGE),
	CONST(IOMMU_PGFAULT_PERM_READ),
	CONST(IOMMU_PGFAULT_PERM_WRITE),
	CONST(IOMMU_PGFAULT_PERM_EXEC),
	CONST(IOMMU_PGFAULT_PERM_PRIV),
	CONST(IOMMUFD_PAGE_RESP_SUCCESS),
	CONST(IOMMUFD_PAGE_RESP_INVALID),
	CONST(VFIO_DEVICE_ATTACH_PASID),
	CONST(VFIO_DEVICE_DETACH_PASID),
	/* ioctl numbers */
	CONST(IOMMU_DESTROY),
	CONST(IOMMU_IOAS_ALLOC),
	CONST(IOMMU_IOAS_IOVA_RANGES),
	CONST(IOMMU_IOAS_MAP),
	CONST(IOMMU_IOAS_UNMAP),
	CONST(IOMMU_HWPT_ALLOC),
	CONST(IOMMU_GET_HW_INFO),
	CONST(IOMMU_HWPT_SET_DIRTY_TRACKING),
	CONST(IOMMU_HWPT_INVALIDATE),
	CONST(IOMMU_FAULT_QUEUE_ALLOC),
	CONST(IOMMU_IOAS_ALLOW_IOVAS),
	CONST(IOMMU_IOAS_COPY),
	CONST(IOMMU_OPTION),
	CONST(IOMMU_VFIO_IOAS),
	CONST(IOMMU_IOAS_MAP_FILE),
	CONST(IOMMU_IOAS_CHANGE_PROCESS),
	CONST(IOMMU_HWPT_GET_DIRTY_BITMAP),
	CONST(IOMMU_VIOMMU_ALLOC),
	CONST(IOMMU_VDEVICE_ALLOC),
	CONST(IOMMU_VEVENTQ_ALLOC),
	CONST(IOMMU_HW_QUEUE_ALLOC),
	CONST(VFIO_DEVICE_BIND_IOMMUFD),
	CONST(VFIO_DEVICE_ATTACH_IOMMUFD_PT),
	CONST(VFIO_DEVICE_DETACH_IOMMUFD_PT),
};

size_t vsva_c_struct_count(void)
{
	return ARRAY_LEN(structs);
}

const struct vsva_c_struct_info *vsva_c_struct(size_t i)
{
	return i < ARRAY_LEN(structs) ? &structs[i] : NULL;
}

size_t vsva_c_field_count(void)
{
	return ARRAY_LEN(fields);
}

const struct vsva_c_field_info *vsva_c_field(size_t i)
{
	return i < ARRAY_LEN(fields) ? &fields[i] : NULL;
}

size_t vsva_c_const_count(void)
{
	return ARRAY_LEN(consts);
}

const struct vsva_c_const_info *vsva_c_const(size_t i)
{
	return i < ARRAY_LEN(consts) ? &consts[i] : NULL;
}

/* ====================================================================================
 * (b) Known values, one function per sample, and (c) field-by-field comparisons.
 *
 * A compare function walks the fields in table order (for a union: the member the
 * known value's selector picks) and returns 0 or the 1-based position of the first
 * field whose value differs, storing that field's vsva path in *field.
 * ================================================================================== */

/* Compare `got.m` with `want.m`; `path` names the field. */
#define CMP_AS(path, m)							\
	do {								\
		++idx;							\
		if (memcmp(&got->m, &want->m, sizeof(got->m)) != 0) {	\
			*field = (path);				\
			return idx;					\
		}							\
	} while (0)
#define CMP(m) CMP_AS(#m, m)

static void known_cache_addr(struct iommu_cache_invalidate_info *s)
{
	s->argsz = sizeof(*s);
	s->version = IOMMU_CACHE_INVALIDATE_INFO_VERSION_1;
	s->cache = IOMMU_CACHE_INV_TYPE_IOTLB;
	s->granularity = IOMMU_INV_GRANU_ADDR;
	s->granu.addr_info.flags = IOMMU_INV_ADDR_FLAGS_PASID | IOMMU_INV_ADDR_FLAGS_ARCHID |
				   IOMMU_INV_ADDR_FLAGS_LEAF;
	s->granu.addr_info.archid = 0x2a;
	s->granu.addr_info.pasid = 5;
	s->granu.addr_info.addr = 0x1000;
	s->granu.addr_info.granule_size = 4096;
	s->granu.addr_info.nb_granules = 4;
}

static void known_cache_pasid(struct iommu_cache_invalidate_info *s)
{
	s->argsz = sizeof(*s);
	s->version = IOMMU_CACHE_INVALIDATE_INFO_VERSION_1;
	s->cache = IOMMU_CACHE_INV_TYPE_IOTLB | IOMMU_CACHE_INV_TYPE_PASID;
	s->granularity = IOMMU_INV_GRANU_PASID;
	s->granu.pasid_info.flags = IOMMU_INV_PASID_FLAGS_PASID | IOMMU_INV_PASID_FLAGS_ARCHID;
	s->granu.pasid_info.archid = 0x2b;
	s->granu.pasid_info.pasid = 6;
}

static int cmp_cache(const struct iommu_cache_invalidate_info *got,
		     const struct iommu_cache_invalidate_info *want, int idx,
		     const char **field)
{
	CMP(argsz);
	CMP(version);
	CMP(cache);
	CMP(granularity);
	CMP(padding);
	switch (want->granularity) {
	case IOMMU_INV_GRANU_PASID:
		CMP(granu.pasid_info.flags);
		CMP(granu.pasid_info.archid);
		CMP(granu.pasid_info.pasid);
		break;
	case IOMMU_INV_GRANU_ADDR:
		CMP(granu.addr_info.flags);
		CMP(granu.addr_info.archid);
		CMP(granu.addr_info.pasid);
		CMP(granu.addr_info.addr);
		CMP(granu.addr_info.granule_size);
		CMP(granu.addr_info.nb_granules);
		break;
	default:
		break;
	}
	return 0;
}

static void known_bind(struct iommu_gpasid_bind_data *s)
{
	s->argsz = sizeof(*s);
	s->version = IOMMU_GPASID_BIND_VERSION_1;
	s->format = IOMMU_PASID_FORMAT_INTEL_VTD;
	s->addr_width = 48;
	s->flags = IOMMU_SVA_GPASID_VAL;
	s->gpgd = 0x12345000;
	s->hpasid = 100;
	s->gpasid = 7;
	s->vendor.vtd.flags = IOMMU_SVA_VTD_GPASID_SRE;
	s->vendor.vtd.pat = 0x00070406;
	s->vendor.vtd.emt = 6;
}

static int cmp_bind(const struct iommu_gpasid_bind_data *got,
		    const struct iommu_gpasid_bind_data *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(version);
	CMP(format);
	CMP(addr_width);
	CMP(flags);
	CMP(gpgd);
	CMP(hpasid);
	CMP(gpasid);
	CMP(padding);
	if (want->format == IOMMU_PASID_FORMAT_INTEL_VTD) {
		CMP(vendor.vtd.flags);
		CMP(vendor.vtd.pat);
		CMP(vendor.vtd.emt);
	}
	return 0;
}

static void known_page_response(struct iommu_page_response *s)
{
	s->argsz = sizeof(*s);
	s->version = IOMMU_PAGE_RESP_VERSION_1;
	s->flags = IOMMU_PAGE_RESP_PASID_VALID;
	s->pasid = 5;
	s->grpid = 3;
	s->code = IOMMU_PAGE_RESP_INVALID;
}

static int cmp_page_response(const struct iommu_page_response *got,
			     const struct iommu_page_response *want, int idx,
			     const char **field)
{
	CMP(argsz);
	CMP(version);
	CMP(flags);
	CMP(pasid);
	CMP(grpid);
	CMP(code);
	return 0;
}

static void known_pasid_table(struct iommu_pasid_table_config *s)
{
	s->argsz = sizeof(*s);
	s->version = PASID_TABLE_CFG_VERSION_1;
	s->base_ptr = 0x80001000;
	s->format = IOMMU_PASID_FORMAT_SMMUV3;
	s->pasid_bits = 16;
	s->config = IOMMU_PASID_CONFIG_TRANSLATE;
	s->vendor_data.smmuv3.version = PASID_TABLE_SMMUV3_CFG_VERSION_1;
	s->vendor_data.smmuv3.s1fmt = 1;
	s->vendor_data.smmuv3.s1dss = 2;
}

static int cmp_pasid_table(const struct iommu_pasid_table_config *got,
			   const struct iommu_pasid_table_config *want, int idx,
			   const char **field)
{
	CMP(argsz);
	CMP(version);
	CMP(base_ptr);
	CMP(format);
	CMP(pasid_bits);
	CMP(config);
	CMP(padding);
	if (want->format == IOMMU_PASID_FORMAT_SMMUV3) {
		CMP(vendor_data.smmuv3.version);
		CMP(vendor_data.smmuv3.s1fmt);
		CMP(vendor_data.smmuv3.s1dss);
		CMP(vendor_data.smmuv3.padding);
	}
	return 0;
}

static void known_nesting_info(struct iommu_nesting_info *s)
{
	s->argsz = sizeof(*s);
	s->format = IOMMU_PASID_FORMAT_INTEL_VTD;
	/* This header's (the late Liu series') numbering: 0x3. */
	s->features = IOMMU_NESTING_FEAT_BIND_PGTBL | IOMMU_NESTING_FEAT_CACHE_INVLD;
	s->addr_width = 48;
	s->pasid_bits = 20;
	s->vendor.vtd.flags = 0;
	s->vendor.vtd.cap_reg = 0x00d2008c222f0686ULL;
	s->vendor.vtd.ecap_reg = 0x00000000f050daULL;
}

static int cmp_nesting_info(const struct iommu_nesting_info *got,
			    const struct iommu_nesting_info *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(format);
	CMP(features);
	CMP(addr_width);
	CMP(pasid_bits);
	CMP(padding);
	if (want->format == IOMMU_PASID_FORMAT_INTEL_VTD) {
		CMP(vendor.vtd.flags);
		CMP(vendor.vtd.padding);
		CMP(vendor.vtd.cap_reg);
		CMP(vendor.vtd.ecap_reg);
	}
	return 0;
}

static void known_pasid_request(struct vfio_iommu_type1_pasid_request *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_IOMMU_FLAG_ALLOC_PASID;
	s->range.min = 1;
	s->range.max = 1000;
}

static int cmp_pasid_request(const struct vfio_iommu_type1_pasid_request *got,
			     const struct vfio_iommu_type1_pasid_request *want, int idx,
			     const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP_AS("min", range.min);
	CMP_AS("max", range.max);
	return 0;
}

/* The nesting op sample is the header plus its data[]: the ADDR cache invalidation. */
#define NESTING_OP_SAMPLE_LEN \
	(sizeof(struct vfio_iommu_type1_nesting_op) + sizeof(struct iommu_cache_invalidate_info))

static void known_nesting_op_hdr(struct vfio_iommu_type1_nesting_op *s)
{
	s->argsz = NESTING_OP_SAMPLE_LEN;
	s->flags = VFIO_IOMMU_NESTING_OP_CACHE_INVLD;
}

static int cmp_nesting_op_hdr(const struct vfio_iommu_type1_nesting_op *got,
			      const struct vfio_iommu_type1_nesting_op *want, int idx,
			      const char **field)
{
	CMP(argsz);
	CMP(flags);
	return 0;
}

static void known_hw_info(struct iommu_hw_info *s)
{
	s->size = sizeof(*s);
	s->flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
	s->dev_id = 1;
	s->data_len = sizeof(struct iommu_hw_info_vtd);
	s->data_uptr = 0x7f0000002000ULL;
	s->in_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
	s->out_max_pasid_log2 = 20;
	s->out_capabilities = IOMMU_HW_CAP_DIRTY_TRACKING | IOMMU_HW_CAP_PCI_PASID_EXEC;
}

static int cmp_hw_info(const struct iommu_hw_info *got, const struct iommu_hw_info *want,
		       int idx, const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(dev_id);
	CMP(data_len);
	CMP(data_uptr);
	/* The input flag says in_data_type is the member in use. */
	if (want->flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE)
		CMP_AS("data_type", in_data_type);
	else
		CMP_AS("data_type", out_data_type);
	CMP(out_max_pasid_log2);
	CMP(__reserved);
	CMP(out_capabilities);
	return 0;
}

static void known_hwpt_alloc(struct iommu_hwpt_alloc *s)
{
	s->size = sizeof(*s);
	s->flags = IOMMU_HWPT_FAULT_ID_VALID;
	s->dev_id = 1;
	s->pt_id = 2;
	s->data_type = IOMMU_HWPT_DATA_VTD_S1;
	s->data_len = sizeof(struct iommu_hwpt_vtd_s1);
	s->data_uptr = 0x7f0000001000ULL;
	s->fault_id = 3;
}

static int cmp_hwpt_alloc(const struct iommu_hwpt_alloc *got,
			  const struct iommu_hwpt_alloc *want, int idx, const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(dev_id);
	CMP(pt_id);
	CMP(out_hwpt_id);
	CMP(__reserved);
	CMP(data_type);
	CMP(data_len);
	CMP(data_uptr);
	CMP(fault_id);
	CMP(__reserved2);
	return 0;
}

static void known_hwpt_invalidate(struct iommu_hwpt_invalidate *s)
{
	s->size = sizeof(*s);
	s->hwpt_id = 5;
	s->data_uptr = 0x7f0000003000ULL;
	s->data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
	s->entry_len = sizeof(struct iommu_hwpt_vtd_s1_invalidate);
	s->entry_num = 2;
}

static int cmp_hwpt_invalidate(const struct iommu_hwpt_invalidate *got,
			       const struct iommu_hwpt_invalidate *want, int idx,
			       const char **field)
{
	CMP(size);
	CMP(hwpt_id);
	CMP(data_uptr);
	CMP(data_type);
	CMP(entry_len);
	CMP(entry_num);
	CMP(__reserved);
	return 0;
}

static void known_fault_alloc(struct iommu_fault_alloc *s)
{
	s->size = sizeof(*s);
	s->out_fault_id = 11;
	s->out_fault_fd = 12;
}

static int cmp_fault_alloc(const struct iommu_fault_alloc *got,
			   const struct iommu_fault_alloc *want, int idx, const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(out_fault_id);
	CMP(out_fault_fd);
	return 0;
}

static void known_attach(struct vfio_device_attach_iommufd_pt *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_DEVICE_ATTACH_PASID;
	s->pt_id = 7;
	s->pasid = 0x100;
}

static int cmp_attach(const struct vfio_device_attach_iommufd_pt *got,
		      const struct vfio_device_attach_iommufd_pt *want, int idx,
		      const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(pt_id);
	CMP(pasid);
	return 0;
}

static void known_detach(struct vfio_device_detach_iommufd_pt *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_DEVICE_DETACH_PASID;
	s->pasid = 0x100;
}

static int cmp_detach(const struct vfio_device_detach_iommufd_pt *got,
		      const struct vfio_device_detach_iommufd_pt *want, int idx,
		      const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(pasid);
	return 0;
}

static void known_get_dirty_bitmap(struct iommu_hwpt_get_dirty_bitmap *s)
{
	s->size = sizeof(*s);
	s->hwpt_id = 5;
	s->flags = 1;
	s->iova = 0x100000ULL;
	s->length = 0x200000ULL;
	s->page_size = 4096;
	s->data = 0x7f0000001000ULL;
}

static int cmp_get_dirty_bitmap(const struct iommu_hwpt_get_dirty_bitmap *got, const struct iommu_hwpt_get_dirty_bitmap *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(hwpt_id);
	CMP(flags);
	CMP(__reserved);
	CMP(iova);
	CMP(length);
	CMP(page_size);
	CMP(data);
	return 0;
}

static void known_viommu_alloc(struct iommu_viommu_alloc *s)
{
	s->size = sizeof(*s);
	s->type = 1;
	s->dev_id = 2;
	s->hwpt_id = 3;
	s->out_viommu_id = 4;
	s->data_len = 16;
	s->data_uptr = 0x7f0000002000ULL;
}

static int cmp_viommu_alloc(const struct iommu_viommu_alloc *got, const struct iommu_viommu_alloc *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(type);
	CMP(dev_id);
	CMP(hwpt_id);
	CMP(out_viommu_id);
	CMP(data_len);
	CMP(__reserved);
	CMP(data_uptr);
	return 0;
}

static void known_vdevice_alloc(struct iommu_vdevice_alloc *s)
{
	s->size = sizeof(*s);
	s->viommu_id = 4;
	s->dev_id = 2;
	s->out_vdevice_id = 6;
	s->virt_id = 0x99;
}

static int cmp_vdevice_alloc(const struct iommu_vdevice_alloc *got, const struct iommu_vdevice_alloc *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(viommu_id);
	CMP(dev_id);
	CMP(out_vdevice_id);
	CMP(virt_id);
	return 0;
}

static void known_veventq_alloc(struct iommu_veventq_alloc *s)
{
	s->size = sizeof(*s);
	s->viommu_id = 4;
	s->type = 1;
	s->veventq_depth = 64;
	s->out_veventq_id = 7;
	s->out_veventq_fd = 9;
}

static int cmp_veventq_alloc(const struct iommu_veventq_alloc *got, const struct iommu_veventq_alloc *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(viommu_id);
	CMP(type);
	CMP(veventq_depth);
	CMP(out_veventq_id);
	CMP(out_veventq_fd);
	CMP(__reserved);
	return 0;
}

static void known_hw_queue_alloc(struct iommu_hw_queue_alloc *s)
{
	s->size = sizeof(*s);
	s->viommu_id = 4;
	s->type = 1;
	s->index = 1;
	s->out_hw_queue_id = 8;
	s->nesting_parent_iova = 0x80000000ULL;
	s->length = 0x1000;
}

static int cmp_hw_queue_alloc(const struct iommu_hw_queue_alloc *got, const struct iommu_hw_queue_alloc *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(viommu_id);
	CMP(type);
	CMP(index);
	CMP(out_hw_queue_id);
	CMP(nesting_parent_iova);
	CMP(length);
	return 0;
}

static void known_allow_iovas(struct iommu_ioas_allow_iovas *s)
{
	s->size = sizeof(*s);
	s->ioas_id = 2;
	s->num_iovas = 1;
	s->allowed_iovas = 0x7f0000003000ULL;
}

static int cmp_allow_iovas(const struct iommu_ioas_allow_iovas *got, const struct iommu_ioas_allow_iovas *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(ioas_id);
	CMP(num_iovas);
	CMP(__reserved);
	CMP(allowed_iovas);
	return 0;
}

static void known_ioas_copy(struct iommu_ioas_copy *s)
{
	s->size = sizeof(*s);
	s->flags = 6;
	s->dst_ioas_id = 3;
	s->src_ioas_id = 2;
	s->length = 0x2000;
	s->dst_iova = 0x10000;
	s->src_iova = 0x20000;
}

static int cmp_ioas_copy(const struct iommu_ioas_copy *got, const struct iommu_ioas_copy *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(dst_ioas_id);
	CMP(src_ioas_id);
	CMP(length);
	CMP(dst_iova);
	CMP(src_iova);
	return 0;
}

static void known_option(struct iommu_option *s)
{
	s->size = sizeof(*s);
	s->option_id = 1;
	s->op = 1;
	s->object_id = 2;
	s->val64 = 1;
}

static int cmp_option(const struct iommu_option *got, const struct iommu_option *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(option_id);
	CMP(op);
	CMP(__reserved);
	CMP(object_id);
	CMP(val64);
	return 0;
}

static void known_vfio_ioas(struct iommu_vfio_ioas *s)
{
	s->size = sizeof(*s);
	s->ioas_id = 2;
	s->op = 1;
}

static int cmp_vfio_ioas(const struct iommu_vfio_ioas *got, const struct iommu_vfio_ioas *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(ioas_id);
	CMP(op);
	CMP(__reserved);
	return 0;
}

static void known_map_file(struct iommu_ioas_map_file *s)
{
	s->size = sizeof(*s);
	s->flags = 7;
	s->ioas_id = 2;
	s->fd = 5;
	s->start = 0x1000;
	s->length = 0x4000;
	s->iova = 0x100000;
}

static int cmp_map_file(const struct iommu_ioas_map_file *got, const struct iommu_ioas_map_file *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(ioas_id);
	CMP(fd);
	CMP(start);
	CMP(length);
	CMP(iova);
	return 0;
}

static void known_change_process(struct iommu_ioas_change_process *s)
{
	s->size = sizeof(*s);
}

static int cmp_change_process(const struct iommu_ioas_change_process *got, const struct iommu_ioas_change_process *want, int idx,
			const char **field)
{
	CMP(size);
	CMP(__reserved);
	return 0;
}

static void known_set_dirty_tracking(struct iommu_hwpt_set_dirty_tracking *s)
{
	s->size = sizeof(*s);
	s->flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	s->hwpt_id = 5;
}

static int cmp_set_dirty_tracking(const struct iommu_hwpt_set_dirty_tracking *got,
				  const struct iommu_hwpt_set_dirty_tracking *want, int idx,
				  const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(hwpt_id);
	CMP(__reserved);
	return 0;
}

static void known_destroy(struct iommu_destroy *s)
{
	s->size = sizeof(*s);
	s->id = 9;
}

static int cmp_destroy(const struct iommu_destroy *got,
                       const struct iommu_destroy *want, int idx, const char **field)
{
	CMP(size);
	CMP(id);
	return 0;
}

static void known_ioas_alloc(struct iommu_ioas_alloc *s)
{
	s->size = sizeof(*s);
	s->out_ioas_id = 2;
}

static int cmp_ioas_alloc(const struct iommu_ioas_alloc *got,
                          const struct iommu_ioas_alloc *want, int idx, const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(out_ioas_id);
	return 0;
}

static void known_ioas_map(struct iommu_ioas_map *s)
{
	s->size = sizeof(*s);
	s->flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
	s->ioas_id = 2;
	s->user_va = 0x7f0000000000ULL;
	s->length = 0x200000;
	s->iova = 0x100000;
}

static int cmp_ioas_map(const struct iommu_ioas_map *got,
                        const struct iommu_ioas_map *want, int idx, const char **field)
{
	CMP(size);
	CMP(flags);
	CMP(ioas_id);
	CMP(__reserved);
	CMP(user_va);
	CMP(length);
	CMP(iova);
	return 0;
}

static void known_ioas_unmap(struct iommu_ioas_unmap *s)
{
	s->size = sizeof(*s);
	s->ioas_id = 2;
	s->iova = 0x100000;
	s->length = 0x200000;
}

static int cmp_ioas_unmap(const struct iommu_ioas_unmap *got,
                          const struct iommu_ioas_unmap *want, int idx, const char **field)
{
	CMP(size);
	CMP(ioas_id);
	CMP(iova);
	CMP(length);
	return 0;
}

static void known_ioas_iova_ranges(struct iommu_ioas_iova_ranges *s)
{
	s->size = sizeof(*s);
	s->ioas_id = 2;
	s->num_iovas = 4;
	s->allowed_iovas = 0x5000;
	s->out_iova_alignment = 4096;
}

static int cmp_ioas_iova_ranges(const struct iommu_ioas_iova_ranges *got,
                                const struct iommu_ioas_iova_ranges *want, int idx, const char **field)
{
	CMP(size);
	CMP(ioas_id);
	CMP(num_iovas);
	CMP(__reserved);
	CMP(allowed_iovas);
	CMP(out_iova_alignment);
	return 0;
}

static void known_bind_iommufd(struct vfio_device_bind_iommufd *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_DEVICE_BIND_FLAG_TOKEN;
	s->iommufd = 3;
	s->out_devid = 7;
	s->token_uuid_ptr = 0x1000;
}

static int cmp_bind_iommufd(const struct vfio_device_bind_iommufd *got,
                            const struct vfio_device_bind_iommufd *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(iommufd);
	CMP(out_devid);
	CMP(token_uuid_ptr);
	return 0;
}

static void known_group_status(struct vfio_group_status *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET;
}

static int cmp_group_status(const struct vfio_group_status *got,
                            const struct vfio_group_status *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	return 0;
}

static void known_device_info(struct vfio_device_info *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_CAPS;
	s->num_regions = 9;
	s->num_irqs = 5;
	s->cap_offset = 24;
}

static int cmp_device_info(const struct vfio_device_info *got,
                           const struct vfio_device_info *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(num_regions);
	CMP(num_irqs);
	CMP(cap_offset);
	CMP(pad);
	return 0;
}

static void known_region_info(struct vfio_region_info *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
	s->index = 2;
	s->cap_offset = 32;
	s->size = 0x1000;
	s->offset = 0x20000000000ULL;
}

static int cmp_region_info(const struct vfio_region_info *got,
                           const struct vfio_region_info *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(index);
	CMP(cap_offset);
	CMP(size);
	CMP(offset);
	return 0;
}

static void known_irq_info(struct vfio_irq_info *s)
{
	s->argsz = sizeof(*s);
	s->flags = 0x7;
	s->index = 2;
	s->count = 8;
}

static int cmp_irq_info(const struct vfio_irq_info *got,
                        const struct vfio_irq_info *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(index);
	CMP(count);
	return 0;
}

static void known_type1_info(struct vfio_iommu_type1_info *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	s->iova_pgsizes = 0x40201000;
	s->cap_offset = 24;
}

static int cmp_type1_info(const struct vfio_iommu_type1_info *got,
                          const struct vfio_iommu_type1_info *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(iova_pgsizes);
	CMP(cap_offset);
	CMP(pad);
	return 0;
}

static void known_dma_map(struct vfio_iommu_type1_dma_map *s)
{
	s->argsz = sizeof(*s);
	s->flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	s->vaddr = 0x7f0000000000ULL;
	s->iova = 0x100000;
	s->size = 0x200000;
}

static int cmp_dma_map(const struct vfio_iommu_type1_dma_map *got,
                       const struct vfio_iommu_type1_dma_map *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(vaddr);
	CMP(iova);
	CMP(size);
	return 0;
}

static void known_dma_unmap(struct vfio_iommu_type1_dma_unmap *s)
{
	s->argsz = sizeof(*s);
	s->iova = 0x100000;
	s->size = 0x200000;
}

static int cmp_dma_unmap(const struct vfio_iommu_type1_dma_unmap *got,
                         const struct vfio_iommu_type1_dma_unmap *want, int idx, const char **field)
{
	CMP(argsz);
	CMP(flags);
	CMP(iova);
	CMP(size);
	return 0;
}

static void known_fault_prm(struct iommu_fault *s)
{
	s->type = IOMMU_FAULT_PAGE_REQ;
	s->prm.flags = IOMMU_FAULT_PAGE_REQUEST_PASID_VALID | IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE |
		       IOMMU_FAULT_PAGE_REQUEST_PRIV_DATA;
	s->prm.pasid = 5;
	s->prm.grpid = 3;
	s->prm.perm = IOMMU_FAULT_PERM_READ | IOMMU_FAULT_PERM_WRITE;
	s->prm.addr = 0x7000;
	s->prm.private_data[0] = 0x1111;
	s->prm.private_data[1] = 0x2222;
}

static void known_fault_event(struct iommu_fault *s)
{
	s->type = IOMMU_FAULT_DMA_UNRECOV;
	s->event.reason = IOMMU_FAULT_REASON_PERMISSION;
	s->event.flags = IOMMU_FAULT_UNRECOV_PASID_VALID | IOMMU_FAULT_UNRECOV_ADDR_VALID |
			 IOMMU_FAULT_UNRECOV_FETCH_ADDR_VALID;
	s->event.pasid = 5;
	s->event.perm = IOMMU_FAULT_PERM_WRITE;
	s->event.addr = 0x8000;
	s->event.fetch_addr = 0x9000;
}

static int cmp_fault(const struct iommu_fault *got, const struct iommu_fault *want, int idx,
		     const char **field)
{
	CMP(type);
	CMP(padding);
	switch (want->type) {
	case IOMMU_FAULT_DMA_UNRECOV:
		CMP_AS("data.event.reason", event.reason);
		CMP_AS("data.event.flags", event.flags);
		CMP_AS("data.event.pasid", event.pasid);
		CMP_AS("data.event.perm", event.perm);
		CMP_AS("data.event.addr", event.addr);
		CMP_AS("data.event.fetch_addr", event.fetch_addr);
		break;
	case IOMMU_FAULT_PAGE_REQ:
		CMP_AS("data.prm.flags", prm.flags);
		CMP_AS("data.prm.pasid", prm.pasid);
		CMP_AS("data.prm.grpid", prm.grpid);
		CMP_AS("data.prm.perm", prm.perm);
		CMP_AS("data.prm.addr", prm.addr);
		CMP_AS("data.prm.private_data", prm.private_data);
		break;
	default:
		break;
	}
	return 0;
}

static void known_hw_info_vtd(struct iommu_hw_info_vtd *s)
{
	s->flags = IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17;
	s->cap_reg = 0x00d2008c222f0686ULL;
	s->ecap_reg = 0x00000000f050daULL;
}

static int cmp_hw_info_vtd(const struct iommu_hw_info_vtd *got,
			   const struct iommu_hw_info_vtd *want, int idx, const char **field)
{
	CMP(flags);
	CMP(__reserved);
	CMP(cap_reg);
	CMP(ecap_reg);
	return 0;
}

static void known_hw_info_smmuv3(struct iommu_hw_info_arm_smmuv3 *s)
{
	uint32_t i;

	for (i = 0; i < 6; i++)
		s->idr[i] = 0x100 + i;
	s->iidr = 0x43b;
	s->aidr = 2;
}

static int cmp_hw_info_smmuv3(const struct iommu_hw_info_arm_smmuv3 *got,
			      const struct iommu_hw_info_arm_smmuv3 *want, int idx,
			      const char **field)
{
	CMP(flags);
	CMP(__reserved);
	CMP(idr);
	CMP(iidr);
	CMP(aidr);
	return 0;
}

static void known_hwpt_vtd_s1(struct iommu_hwpt_vtd_s1 *s)
{
	s->flags = IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE;
	s->pgtbl_addr = 0x12345000;
	s->addr_width = 48;
}

static int cmp_hwpt_vtd_s1(const struct iommu_hwpt_vtd_s1 *got,
			   const struct iommu_hwpt_vtd_s1 *want, int idx, const char **field)
{
	CMP(flags);
	CMP(pgtbl_addr);
	CMP(addr_width);
	CMP(__reserved);
	return 0;
}

static void known_vtd_s1_invalidate(struct iommu_hwpt_vtd_s1_invalidate *s)
{
	s->addr = 0x10000;
	s->npages = 16;
	s->flags = IOMMU_VTD_INV_FLAGS_LEAF;
}

static int cmp_vtd_s1_invalidate(const struct iommu_hwpt_vtd_s1_invalidate *got,
				 const struct iommu_hwpt_vtd_s1_invalidate *want, int idx,
				 const char **field)
{
	CMP(addr);
	CMP(npages);
	CMP(flags);
	CMP(__reserved);
	return 0;
}

static void known_pgfault(struct iommu_hwpt_pgfault *s)
{
	s->flags = IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	s->dev_id = 1;
	s->pasid = 5;
	s->grpid = 3;
	s->perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE;
	s->addr = 0x7000;
	s->length = 4096;
	s->cookie = 42;
}

static int cmp_pgfault(const struct iommu_hwpt_pgfault *got,
		       const struct iommu_hwpt_pgfault *want, int idx, const char **field)
{
	CMP(flags);
	CMP(dev_id);
	CMP(pasid);
	CMP(grpid);
	CMP(perm);
	CMP(__reserved);
	CMP(addr);
	CMP(length);
	CMP(cookie);
	return 0;
}

static void known_hwpt_page_response(struct iommu_hwpt_page_response *s)
{
	s->cookie = 42;
	s->code = IOMMUFD_PAGE_RESP_INVALID;
}

static int cmp_hwpt_page_response(const struct iommu_hwpt_page_response *got,
				  const struct iommu_hwpt_page_response *want, int idx,
				  const char **field)
{
	CMP(cookie);
	CMP(code);
	return 0;
}

/*
 * SAMPLE(fn, type, known, cmp) defines fill_<fn> and check_<fn> for a struct sample:
 * fill zeroes a `struct type`, sets the known values, and copies it out; check copies
 * the caller's bytes into a `struct type` (the buffer need not be aligned) and
 * compares it with a zeroed struct holding the known values.
 */
#define SAMPLE(fn, type, known, cmp)					\
	static size_t fill_##fn(void *buf, size_t len)			\
	{								\
		struct type s;						\
		if (len < sizeof(s))					\
			return 0;					\
		memset(&s, 0, sizeof(s));				\
		known(&s);						\
		memcpy(buf, &s, sizeof(s));				\
		return sizeof(s);					\
	}								\
	static int check_##fn(const void *buf, size_t len, const char **field) \
	{								\
		struct type got, want;					\
		if (len < sizeof(got))					\
			return VSVA_C_CHECK_TOO_SHORT;			\
		memcpy(&got, buf, sizeof(got));				\
		memset(&want, 0, sizeof(want));				\
		known(&want);						\
		return cmp(&got, &want, 0, field);			\
	}

SAMPLE(cache_addr, iommu_cache_invalidate_info, known_cache_addr, cmp_cache)
SAMPLE(cache_pasid, iommu_cache_invalidate_info, known_cache_pasid, cmp_cache)
SAMPLE(bind, iommu_gpasid_bind_data, known_bind, cmp_bind)
SAMPLE(page_response, iommu_page_response, known_page_response, cmp_page_response)
SAMPLE(pasid_table, iommu_pasid_table_config, known_pasid_table, cmp_pasid_table)
SAMPLE(nesting_info, iommu_nesting_info, known_nesting_info, cmp_nesting_info)
SAMPLE(pasid_request, vfio_iommu_type1_pasid_request, known_pasid_request,
       cmp_pasid_request)
SAMPLE(hw_info, iommu_hw_info, known_hw_info, cmp_hw_info)
SAMPLE(hwpt_alloc, iommu_hwpt_alloc, known_hwpt_alloc, cmp_hwpt_alloc)
SAMPLE(hwpt_invalidate, iommu_hwpt_invalidate, known_hwpt_invalidate, cmp_hwpt_invalidate)
SAMPLE(fault_alloc, iommu_fault_alloc, known_fault_alloc, cmp_fault_alloc)
SAMPLE(attach, vfio_device_attach_iommufd_pt, known_attach, cmp_attach)
SAMPLE(detach, vfio_device_detach_iommufd_pt, known_detach, cmp_detach)
SAMPLE(fault_prm, iommu_fault, known_fault_prm, cmp_fault)
SAMPLE(fault_event, iommu_fault, known_fault_event, cmp_fault)
SAMPLE(hw_info_vtd, iommu_hw_info_vtd, known_hw_info_vtd, cmp_hw_info_vtd)
SAMPLE(hw_info_smmuv3, iommu_hw_info_arm_smmuv3, known_hw_info_smmuv3, cmp_hw_info_smmuv3)
SAMPLE(hwpt_vtd_s1, iommu_hwpt_vtd_s1, known_hwpt_vtd_s1, cmp_hwpt_vtd_s1)
SAMPLE(vtd_s1_invalidate, iommu_hwpt_vtd_s1_invalidate, known_vtd_s1_invalidate,
       cmp_vtd_s1_invalidate)
SAMPLE(pgfault, iommu_hwpt_pgfault, known_pgfault, cmp_pgfault)
SAMPLE(hwpt_page_response, iommu_hwpt_page_response, known_hwpt_page_response,
       cmp_hwpt_page_response)
SAMPLE(destroy, iommu_destroy, known_destroy, cmp_destroy)
SAMPLE(get_dirty_bitmap, iommu_hwpt_get_dirty_bitmap, known_get_dirty_bitmap, cmp_get_dirty_bitmap)
SAMPLE(viommu_alloc, iommu_viommu_alloc, known_viommu_alloc, cmp_viommu_alloc)
SAMPLE(vdevice_alloc, iommu_vdevice_alloc, known_vdevice_alloc, cmp_vdevice_alloc)
SAMPLE(veventq_alloc, iommu_veventq_alloc, known_veventq_alloc, cmp_veventq_alloc)
SAMPLE(hw_queue_alloc, iommu_hw_queue_alloc, known_hw_queue_alloc, cmp_hw_queue_alloc)
SAMPLE(allow_iovas, iommu_ioas_allow_iovas, known_allow_iovas, cmp_allow_iovas)
SAMPLE(ioas_copy, iommu_ioas_copy, known_ioas_copy, cmp_ioas_copy)
SAMPLE(option, iommu_option, known_option, cmp_option)
SAMPLE(vfio_ioas, iommu_vfio_ioas, known_vfio_ioas, cmp_vfio_ioas)
SAMPLE(map_file, iommu_ioas_map_file, known_map_file, cmp_map_file)
SAMPLE(change_process, iommu_ioas_change_process, known_change_process, cmp_change_process)
SAMPLE(set_dirty_tracking, iommu_hwpt_set_dirty_tracking, known_set_dirty_tracking,
       cmp_set_dirty_tracking)
SAMPLE(ioas_alloc, iommu_ioas_alloc, known_ioas_alloc, cmp_ioas_alloc)
SAMPLE(ioas_map, iommu_ioas_map, known_ioas_map, cmp_ioas_map)
SAMPLE(ioas_unmap, iommu_ioas_unmap, known_ioas_unmap, cmp_ioas_unmap)
SAMPLE(ioas_iova_ranges, iommu_ioas_iova_ranges, known_ioas_iova_ranges, cmp_ioas_iova_ranges)
SAMPLE(bind_iommufd, vfio_device_bind_iommufd, known_bind_iommufd, cmp_bind_iommufd)
SAMPLE(group_status, vfio_group_status, known_group_status, cmp_group_status)
SAMPLE(device_info, vfio_device_info, known_device_info, cmp_device_info)
SAMPLE(region_info, vfio_region_info, known_region_info, cmp_region_info)
SAMPLE(irq_info, vfio_irq_info, known_irq_info, cmp_irq_info)
SAMPLE(type1_info, vfio_iommu_type1_info, known_type1_info, cmp_type1_info)
SAMPLE(dma_map, vfio_iommu_type1_dma_map, known_dma_map, cmp_dma_map)
SAMPLE(dma_unmap, vfio_iommu_type1_dma_unmap, known_dma_unmap, cmp_dma_unmap)

/*
 * The nesting op: the 8-byte header, then data[] holding the ADDR cache invalidation;
 * the header's argsz covers both.  Fields 1-2 are the header's, 3.. the payload's
 * (reported with the payload struct's paths).
 */
static size_t fill_nesting_op(void *buf, size_t len)
{
	struct vfio_iommu_type1_nesting_op hdr;
	struct iommu_cache_invalidate_info info;
	unsigned char *out = buf;

	if (len < NESTING_OP_SAMPLE_LEN)
		return 0;
	memset(&hdr, 0, sizeof(hdr));
	memset(&info, 0, sizeof(info));
	known_nesting_op_hdr(&hdr);
	known_cache_addr(&info);
	memcpy(out, &hdr, sizeof(hdr));
	memcpy(out + sizeof(hdr), &info, sizeof(info));
	return NESTING_OP_SAMPLE_LEN;
}

static int check_nesting_op(const void *buf, size_t len, const char **field)
{
	struct vfio_iommu_type1_nesting_op got_hdr, want_hdr;
	struct iommu_cache_invalidate_info got_info, want_info;
	const unsigned char *in = buf;
	int r;

	if (len < NESTING_OP_SAMPLE_LEN)
		return VSVA_C_CHECK_TOO_SHORT;
	memcpy(&got_hdr, in, sizeof(got_hdr));
	memcpy(&got_info, in + sizeof(got_hdr), sizeof(got_info));
	memset(&want_hdr, 0, sizeof(want_hdr));
	memset(&want_info, 0, sizeof(want_info));
	known_nesting_op_hdr(&want_hdr);
	known_cache_addr(&want_info);
	r = cmp_nesting_op_hdr(&got_hdr, &want_hdr, 0, field);
	if (r != 0)
		return r;
	return cmp_cache(&got_info, &want_info, 2, field);
}

struct sample {
	const char *name;
	const char *strukt;
	size_t len;
	size_t (*fill)(void *buf, size_t len);
	int (*check)(const void *buf, size_t len, const char **field);
};

#define SMP(name, type, fn) \
	{ name, #type, sizeof(struct type), fill_##fn, check_##fn }

static const struct sample samples[] = {
	SMP("iommu_cache_invalidate_info/addr", iommu_cache_invalidate_info, cache_addr),
	SMP("iommu_cache_invalidate_info/pasid", iommu_cache_invalidate_info, cache_pasid),
	SMP("iommu_gpasid_bind_data/vtd", iommu_gpasid_bind_data, bind),
	SMP("iommu_page_response", iommu_page_response, page_response),
	SMP("iommu_pasid_table_config/smmuv3", iommu_pasid_table_config, pasid_table),
	SMP("iommu_nesting_info/vtd", iommu_nesting_info, nesting_info),
	SMP("vfio_iommu_type1_pasid_request/alloc", vfio_iommu_type1_pasid_request,
	    pasid_request),
	{ "vfio_iommu_type1_nesting_op/cache_invld", "vfio_iommu_type1_nesting_op",
	  NESTING_OP_SAMPLE_LEN, fill_nesting_op, check_nesting_op },
	SMP("iommu_hw_info/input_type", iommu_hw_info, hw_info),
	SMP("iommu_hwpt_alloc/nested_vtd_s1", iommu_hwpt_alloc, hwpt_alloc),
	SMP("iommu_hwpt_invalidate/vtd_s1", iommu_hwpt_invalidate, hwpt_invalidate),
	SMP("iommu_fault_alloc", iommu_fault_alloc, fault_alloc),
	SMP("vfio_device_attach_iommufd_pt/pasid", vfio_device_attach_iommufd_pt, attach),
	SMP("vfio_device_detach_iommufd_pt/pasid", vfio_device_detach_iommufd_pt, detach),
	SMP("iommu_fault/page_request", iommu_fault, fault_prm),
	SMP("iommu_fault/unrecoverable", iommu_fault, fault_event),
	SMP("iommu_hw_info_vtd", iommu_hw_info_vtd, hw_info_vtd),
	SMP("iommu_hw_info_arm_smmuv3", iommu_hw_info_arm_smmuv3, hw_info_smmuv3),
	SMP("iommu_hwpt_vtd_s1", iommu_hwpt_vtd_s1, hwpt_vtd_s1),
	SMP("iommu_hwpt_vtd_s1_invalidate", iommu_hwpt_vtd_s1_invalidate, vtd_s1_invalidate),
	SMP("iommu_hwpt_pgfault", iommu_hwpt_pgfault, pgfault),
	SMP("iommu_hwpt_page_response", iommu_hwpt_page_response, hwpt_page_response),
	SMP("iommu_destroy", iommu_destroy, destroy),
	SMP("iommu_hwpt_get_dirty_bitmap/no_clear", iommu_hwpt_get_dirty_bitmap, get_dirty_bitmap),
	SMP("iommu_viommu_alloc/smmuv3", iommu_viommu_alloc, viommu_alloc),
	SMP("iommu_vdevice_alloc", iommu_vdevice_alloc, vdevice_alloc),
	SMP("iommu_veventq_alloc/smmuv3", iommu_veventq_alloc, veventq_alloc),
	SMP("iommu_hw_queue_alloc/tegra241", iommu_hw_queue_alloc, hw_queue_alloc),
	SMP("iommu_ioas_allow_iovas", iommu_ioas_allow_iovas, allow_iovas),
	SMP("iommu_ioas_copy/rw", iommu_ioas_copy, ioas_copy),
	SMP("iommu_option/huge_pages", iommu_option, option),
	SMP("iommu_vfio_ioas/set", iommu_vfio_ioas, vfio_ioas),
	SMP("iommu_ioas_map_file/memfd", iommu_ioas_map_file, map_file),
	SMP("iommu_ioas_change_process", iommu_ioas_change_process, change_process),
	SMP("iommu_hwpt_set_dirty_tracking/enable", iommu_hwpt_set_dirty_tracking,
	    set_dirty_tracking),
	SMP("iommu_ioas_alloc", iommu_ioas_alloc, ioas_alloc),
	SMP("iommu_ioas_map/fixed_rw", iommu_ioas_map, ioas_map),
	SMP("iommu_ioas_unmap", iommu_ioas_unmap, ioas_unmap),
	SMP("iommu_ioas_iova_ranges", iommu_ioas_iova_ranges, ioas_iova_ranges),
	SMP("vfio_device_bind_iommufd/token", vfio_device_bind_iommufd, bind_iommufd),
	SMP("vfio_group_status", vfio_group_status, group_status),
	SMP("vfio_device_info/caps", vfio_device_info, device_info),
	SMP("vfio_region_info/caps", vfio_region_info, region_info),
	SMP("vfio_irq_info", vfio_irq_info, irq_info),
	SMP("vfio_iommu_type1_info/caps", vfio_iommu_type1_info, type1_info),
	SMP("vfio_iommu_type1_dma_map", vfio_iommu_type1_dma_map, dma_map),
	SMP("vfio_iommu_type1_dma_unmap", vfio_iommu_type1_dma_unmap, dma_unmap),
};

size_t vsva_c_sample_count(void)
{
	return ARRAY_LEN(samples);
}

const char *vsva_c_sample_name(size_t i)
{
	return i < ARRAY_LEN(samples) ? samples[i].name : NULL;
}

const char *vsva_c_sample_struct(size_t i)
{
	return i < ARRAY_LEN(samples) ? samples[i].strukt : NULL;
}

size_t vsva_c_sample_len(size_t i)
{
	return i < ARRAY_LEN(samples) ? samples[i].len : 0;
}

size_t vsva_c_sample_fill(size_t i, void *buf, size_t len)
{
	if (i >= ARRAY_LEN(samples) || buf == NULL)
		return 0;
	return samples[i].fill(buf, len);
}

int vsva_c_sample_check(size_t i, const void *buf, size_t len, const char **field)
{
	const char *ignored = NULL;

	if (i >= ARRAY_LEN(samples))
		return VSVA_C_CHECK_NO_SAMPLE;
	if (buf == NULL)
		return VSVA_C_CHECK_TOO_SHORT;
	return samples[i].check(buf, len, field != NULL ? field : &ignored);
}
