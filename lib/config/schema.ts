// libxl_domain_config of Xen 4.17 as ONE table: every struct, field, enum value, default and
// keyed union, in libxl's IDL order (tools/libs/light/libxl_types.idl, checked against
// Debian's /usr/include/_libxl_types.h). Parsing, generation, defaults and the TypeScript
// types all follow from it; adding a field is one line here.
import { DOMAIN_TYPES } from '../xen.js';
import { arrayOf, builtin, enumeration, int32, keyedUnion, struct, uint, type StructType, type Uint64Type } from './idl.js';

export type * from './idl.js';

// ---- builtin types ----

export const integer = int32();
export const uint8 = uint(8);
export const uint16 = uint(16);
export const uint32 = uint(32);
export const uint64: Uint64Type = { kind: 'uint64', init: 0n };
/** LIBXL_MEMKB_DEFAULT */
export const MEMKB_DEFAULT = 18446744073709551615n;
export const memkb: Uint64Type = { kind: 'uint64', init: MEMKB_DEFAULT };
export const devid = int32(-1);
export const domid = uint(32);
export const bool = builtin('bool');
export const string = builtin('string');
export const defbool = builtin('defbool');
export const uuid = builtin('uuid');
export const mac = builtin('mac');
export const bitmap = builtin('bitmap');
export const string_list = builtin('string_list');
export const key_value_list = builtin('key_value_list');
export const cpuid_policy_list = builtin('cpuid');
export const ms_vm_genid = builtin('ms_vm_genid');

/** Sentinels of libxl.h used as init values. */
const SCHED_PARAM_DEFAULT = -1; // LIBXL_DOMAIN_SCHED_PARAM_*_DEFAULT, LIBXL_SCHED_PARAM_VCPU_INDEX_DEFAULT
const MAX_GRANT_DEFAULT = 4294967295; // LIBXL_MAX_GRANT_DEFAULT, ~(uint32_t)0
const INVALID_GFN = 18446744073709551615n; // LIBXL_INVALID_GFN

// ---- enumerations ----

export const domain_type = enumeration('domain_type', ['invalid', ...DOMAIN_TYPES], 'invalid');
export const rdm_reserve_strategy = enumeration('rdm_reserve_strategy', ['ignore', 'host'], 'ignore');
export const rdm_reserve_policy = enumeration('rdm_reserve_policy', ['invalid', 'strict', 'relaxed'], 'invalid');
export const channel_connection = enumeration('channel_connection', ['unknown', 'pty', 'socket'], 'unknown');
export const device_model_version = enumeration(
  'device_model_version', ['unknown', 'qemu_xen_traditional', 'qemu_xen'], 'unknown');
export const disk_format = enumeration(
  'disk_format', ['unknown', 'qcow', 'qcow2', 'vhd', 'raw', 'empty', 'qed'], 'unknown');
export const disk_backend = enumeration(
  'disk_backend', ['unknown', 'phy', 'tap', 'qdisk', 'standalone'], 'unknown');
export const disk_specification = enumeration('disk_specification', ['unknown', 'xen', 'virtio'], 'unknown');
export const disk_transport = enumeration('disk_transport', ['unknown', 'mmio'], 'unknown');
export const nic_type = enumeration('nic_type', ['unknown', 'vif_ioemu', 'vif'], 'unknown');
export const action_on_shutdown = enumeration('action_on_shutdown', [
  'destroy', 'restart', 'restart_rename', 'preserve', 'coredump_destroy', 'coredump_restart', 'soft_reset',
], 'destroy');
export const tsc_mode = enumeration('tsc_mode', ['default', 'always_emulate', 'native', 'native_paravirt'], 'default');
export const gfx_passthru_kind = enumeration('gfx_passthru_kind', ['default', 'igd'], 'default');
export const timer_mode = enumeration('timer_mode', [
  'unknown', 'delay_for_missed_ticks', 'no_delay_for_missed_ticks', 'no_missed_ticks_pending',
  'one_missed_tick_pending',
], 'unknown');
export const bios_type = enumeration('bios_type', ['unknown', 'rombios', 'seabios', 'ovmf'], 'unknown');
export const scheduler = enumeration(
  'scheduler', ['unknown', 'sedf', 'credit', 'credit2', 'arinc653', 'rtds', 'null'], 'unknown');
export const vga_interface_type = enumeration(
  'vga_interface_type', ['unknown', 'cirrus', 'std', 'none', 'qxl'], 'unknown');
export const vendor_device = enumeration('vendor_device', ['none', 'xenserver'], 'none');
export const hdtype = enumeration('hdtype', ['ide', 'ahci'], 'ide');
export const vuart_type = enumeration('vuart_type', ['unknown', 'sbsa_uart'], 'unknown');
export const vkb_backend = enumeration('vkb_backend', ['unknown', 'qemu', 'linux'], 'unknown');
export const passthrough = enumeration(
  'passthrough', ['default', 'disabled', 'enabled', 'sync_pt', 'share_pt'], 'default');
export const gic_version = enumeration('gic_version', ['default', 'v2', 'v3'], 'default');
export const tee_type = enumeration('tee_type', ['none', 'optee'], 'none');
export const altp2m_mode = enumeration('altp2m_mode', ['disabled', 'mixed', 'external', 'limited'], 'disabled');
export const usbctrl_type = enumeration('usbctrl_type', ['auto', 'pv', 'devicemodel', 'qusb'], 'auto');
export const usbdev_type = enumeration('usbdev_type', ['hostdev'], null);
export const vsnd_pcm_format = enumeration('vsnd_pcm_format', [
  's8', 'u8', 's16_le', 's16_be', 'u16_le', 'u16_be', 's24_le', 's24_be', 'u24_le', 'u24_be',
  's32_le', 's32_be', 'u32_le', 'u32_be', 'f32_le', 'f32_be', 'f64_le', 'f64_be',
  'iec958_subframe_le', 'iec958_subframe_be', 'mu_law', 'a_law', 'ima_adpcm', 'mpeg', 'gsm',
], null);
export const vsnd_stream_type = enumeration('vsnd_stream_type', ['p', 'c'], null);

// ---- structs ----

const none = struct('none', []);

export const ioport_range = struct('ioport_range', [['first', uint32], ['number', uint32]]);
export const iomem_range = struct('iomem_range', [
  ['start', uint64], ['number', uint64], ['gfn', uint64, INVALID_GFN],
]);
export const vga_interface_info = struct('vga_interface_info', [['kind', vga_interface_type]]);
export const vnc_info = struct('vnc_info', [
  ['enable', defbool], ['listen', string], ['passwd', string], ['display', integer], ['findunused', defbool],
]);
export const spice_info = struct('spice_info', [
  ['enable', defbool], ['port', integer], ['tls_port', integer], ['host', string],
  ['disable_ticketing', defbool], ['passwd', string], ['agent_mouse', defbool], ['vdagent', defbool],
  ['clipboard_sharing', defbool], ['usbredirection', integer], ['image_compression', string],
  ['streaming_video', string],
]);
export const sdl_info = struct('sdl_info', [
  ['enable', defbool], ['opengl', defbool], ['display', string], ['xauthority', string],
]);

export const domain_create_info = struct('domain_create_info', [
  ['type', domain_type], ['hap', defbool], ['oos', defbool], ['ssidref', uint32], ['ssid_label', string],
  ['name', string], ['domid', domid], ['uuid', uuid], ['xsdata', key_value_list],
  ['platformdata', key_value_list], ['poolid', uint32], ['pool_name', string],
  ['run_hotplug_scripts', defbool], ['driver_domain', defbool], ['passthrough', passthrough],
  ['xend_suspend_evtchn_compat', defbool],
]);

export const domain_sched_params = struct('domain_sched_params', [
  ['sched', scheduler],
  ['weight', integer, SCHED_PARAM_DEFAULT], ['cap', integer, SCHED_PARAM_DEFAULT],
  ['period', integer, SCHED_PARAM_DEFAULT], ['budget', integer, SCHED_PARAM_DEFAULT],
  ['extratime', integer, SCHED_PARAM_DEFAULT], ['slice', integer, SCHED_PARAM_DEFAULT],
  ['latency', integer, SCHED_PARAM_DEFAULT],
]);

export const vnode_info = struct('vnode_info', [
  ['memkb', memkb], ['distances', arrayOf(uint32)], ['pnode', uint32], ['vcpus', bitmap],
]);

export const rdm_reserve = struct('rdm_reserve', [['strategy', rdm_reserve_strategy], ['policy', rdm_reserve_policy]]);

export const build_info_hvm = struct('domain_build_info.u.hvm', [
  ['firmware', string], ['bios', bios_type], ['pae', defbool], ['apic', defbool], ['acpi', defbool],
  ['acpi_s3', defbool], ['acpi_s4', defbool], ['acpi_laptop_slate', defbool], ['nx', defbool],
  ['viridian', defbool], ['viridian_enable', bitmap], ['viridian_disable', bitmap], ['timeoffset', string],
  ['hpet', defbool], ['vpt_align', defbool], ['mmio_hole_memkb', memkb], ['timer_mode', timer_mode],
  ['nested_hvm', defbool], ['altp2m', defbool], ['system_firmware', string], ['smbios_firmware', string],
  ['acpi_firmware', string], ['hdtype', hdtype], ['nographic', defbool], ['vga', vga_interface_info],
  ['vnc', vnc_info], ['keymap', string], ['sdl', sdl_info], ['spice', spice_info],
  ['gfx_passthru', defbool], ['gfx_passthru_kind', gfx_passthru_kind], ['serial', string], ['boot', string],
  ['usb', defbool], ['usbversion', integer], ['usbdevice', string], ['vkb_device', defbool],
  ['soundhw', string], ['xen_platform_pci', defbool], ['usbdevice_list', string_list],
  ['vendor_device', vendor_device], ['ms_vm_genid', ms_vm_genid], ['serial_list', string_list],
  ['rdm', rdm_reserve], ['rdm_mem_boundary_memkb', memkb], ['mca_caps', uint64],
]);
// u.pv.features is `const` in the IDL: never written to or read from JSON.
export const build_info_pv = struct('domain_build_info.u.pv', [
  ['kernel', string], ['slack_memkb', memkb], ['bootloader', string], ['bootloader_args', string_list],
  ['cmdline', string], ['ramdisk', string], ['e820_host', defbool],
]);
export const build_info_pvh = struct('domain_build_info.u.pvh', [
  ['pvshim', defbool], ['pvshim_path', string], ['pvshim_cmdline', string], ['pvshim_extra', string],
]);

export const domain_build_info = struct('domain_build_info', [
  ['max_vcpus', integer], ['avail_vcpus', bitmap], ['cpumap', bitmap], ['nodemap', bitmap],
  ['vcpu_hard_affinity', arrayOf(bitmap)], ['vcpu_soft_affinity', arrayOf(bitmap)],
  ['numa_placement', defbool], ['tsc_mode', tsc_mode], ['max_memkb', memkb], ['target_memkb', memkb],
  ['video_memkb', memkb], ['shadow_memkb', memkb], ['iommu_memkb', memkb], ['rtc_timeoffset', uint32],
  ['exec_ssidref', uint32], ['exec_ssid_label', string], ['localtime', defbool],
  ['disable_migrate', defbool], ['cpuid', cpuid_policy_list], ['blkdev_start', string],
  ['vnuma_nodes', arrayOf(vnode_info)],
  ['max_grant_frames', uint32, MAX_GRANT_DEFAULT], ['max_maptrack_frames', uint32, MAX_GRANT_DEFAULT],
  // an int initialised with ~0U, hence -1
  ['max_grant_version', integer, -1],
  ['device_model_version', device_model_version], ['device_model_stubdomain', defbool],
  ['stubdomain_memkb', memkb], ['stubdomain_kernel', string], ['stubdomain_cmdline', string],
  ['stubdomain_ramdisk', string], ['device_model', string], ['device_model_ssidref', uint32],
  ['device_model_ssid_label', string], ['device_model_user', string], ['extra', string_list],
  ['extra_pv', string_list], ['extra_hvm', string_list], ['sched_params', domain_sched_params],
  ['ioports', arrayOf(ioport_range)], ['irqs', arrayOf(uint32)], ['iomem', arrayOf(iomem_range)],
  ['claim_mode', defbool], ['event_channels', uint32], ['kernel', string], ['cmdline', string],
  ['ramdisk', string], ['device_tree', string], ['acpi', defbool], ['bootloader', string],
  ['bootloader_args', string_list], ['timer_mode', timer_mode], ['nested_hvm', defbool],
  ['apic', defbool], ['dm_restrict', defbool], ['tee', tee_type],
  ['u', keyedUnion('type', domain_type, {
    hvm: build_info_hvm, pv: build_info_pv, pvh: build_info_pvh, invalid: none,
  })],
  ['arch_arm', struct('domain_build_info.arch_arm', [['gic_version', gic_version], ['vuart', vuart_type]])],
  ['arch_x86', struct('domain_build_info.arch_x86', [['msr_relaxed', defbool]])],
  ['altp2m', altp2m_mode], ['vmtrace_buf_kb', integer], ['vpmu', defbool],
]);

export const device_vfb = struct('device_vfb', [
  ['backend_domid', domid], ['backend_domname', string], ['devid', devid], ['vnc', vnc_info],
  ['sdl', sdl_info], ['keymap', string],
]);
export const device_vkb = struct('device_vkb', [
  ['backend_domid', domid], ['backend_domname', string], ['devid', devid], ['backend_type', vkb_backend],
  ['unique_id', string], ['feature_disable_keyboard', bool], ['feature_disable_pointer', bool],
  ['feature_abs_pointer', bool], ['feature_raw_pointer', bool], ['feature_multi_touch', bool],
  ['width', uint32], ['height', uint32], ['multi_touch_width', uint32], ['multi_touch_height', uint32],
  ['multi_touch_num_contacts', uint32],
]);
export const device_disk = struct('device_disk', [
  ['backend_domid', domid], ['backend_domname', string], ['pdev_path', string], ['vdev', string],
  ['backend', disk_backend], ['format', disk_format], ['script', string], ['removable', integer],
  ['readwrite', integer], ['is_cdrom', integer], ['direct_io_safe', bool], ['discard_enable', defbool],
  ['specification', disk_specification], ['transport', disk_transport], ['irq', uint32], ['base', uint64],
  ['colo_enable', defbool], ['colo_restore_enable', defbool], ['colo_host', string], ['colo_port', integer],
  ['colo_export', string], ['active_disk', string], ['hidden_disk', string], ['trusted', defbool],
]);
export const device_nic = struct('device_nic', [
  ['backend_domid', domid], ['backend_domname', string], ['devid', devid], ['mtu', integer],
  ['model', string], ['mac', mac], ['ip', string], ['bridge', string], ['ifname', string],
  ['script', string], ['nictype', nic_type], ['rate_bytes_per_interval', uint64],
  ['rate_interval_usecs', uint32], ['gatewaydev', string],
  ['coloft_forwarddev', string], ['colo_sock_mirror_id', string], ['colo_sock_mirror_ip', string],
  ['colo_sock_mirror_port', string], ['colo_sock_compare_pri_in_id', string], ['colo_sock_compare_pri_in_ip', string],
  ['colo_sock_compare_pri_in_port', string], ['colo_sock_compare_sec_in_id', string], ['colo_sock_compare_sec_in_ip', string],
  ['colo_sock_compare_sec_in_port', string], ['colo_sock_compare_notify_id', string], ['colo_sock_compare_notify_ip', string],
  ['colo_sock_compare_notify_port', string], ['colo_sock_redirector0_id', string], ['colo_sock_redirector0_ip', string],
  ['colo_sock_redirector0_port', string], ['colo_sock_redirector1_id', string], ['colo_sock_redirector1_ip', string],
  ['colo_sock_redirector1_port', string], ['colo_sock_redirector2_id', string], ['colo_sock_redirector2_ip', string],
  ['colo_sock_redirector2_port', string], ['colo_filter_mirror_queue', string], ['colo_filter_mirror_outdev', string],
  ['colo_filter_redirector0_queue', string], ['colo_filter_redirector0_indev', string], ['colo_filter_redirector0_outdev', string],
  ['colo_filter_redirector1_queue', string], ['colo_filter_redirector1_indev', string], ['colo_filter_redirector1_outdev', string],
  ['colo_compare_pri_in', string], ['colo_compare_sec_in', string], ['colo_compare_out', string],
  ['colo_compare_notify_dev', string], ['colo_sock_sec_redirector0_id', string], ['colo_sock_sec_redirector0_ip', string],
  ['colo_sock_sec_redirector0_port', string], ['colo_sock_sec_redirector1_id', string], ['colo_sock_sec_redirector1_ip', string],
  ['colo_sock_sec_redirector1_port', string], ['colo_filter_sec_redirector0_queue', string], ['colo_filter_sec_redirector0_indev', string],
  ['colo_filter_sec_redirector0_outdev', string], ['colo_filter_sec_redirector1_queue', string], ['colo_filter_sec_redirector1_indev', string],
  ['colo_filter_sec_redirector1_outdev', string], ['colo_filter_sec_rewriter0_queue', string], ['colo_checkpoint_host', string],
  ['colo_checkpoint_port', string],
  ['trusted', defbool],
]);
export const device_pci = struct('device_pci', [
  ['func', uint8], ['dev', uint8], ['bus', uint8], ['domain', integer], ['vdevfn', uint32],
  ['vfunc_mask', uint32], ['msitranslate', bool], ['power_mgmt', bool], ['permissive', bool],
  ['seize', bool], ['rdm_policy', rdm_reserve_policy], ['name', string],
]);
export const device_rdm = struct('device_rdm', [['start', uint64], ['size', uint64], ['policy', rdm_reserve_policy]]);
export const device_usbctrl = struct('device_usbctrl', [
  ['type', usbctrl_type], ['devid', devid], ['version', integer], ['ports', integer],
  ['backend_domid', domid], ['backend_domname', string],
]);
export const device_usbdev = struct('device_usbdev', [
  ['ctrl', devid], ['port', integer],
  ['u', keyedUnion('type', usbdev_type, {
    hostdev: struct('device_usbdev.u.hostdev', [['hostbus', uint8], ['hostaddr', uint8]]),
  })],
]);
export const device_dtdev = struct('device_dtdev', [['path', string]]);
export const device_vtpm = struct('device_vtpm', [
  ['backend_domid', domid], ['backend_domname', string], ['devid', devid], ['uuid', uuid],
]);
export const device_p9 = struct('device_p9', [
  ['backend_domid', domid], ['backend_domname', string], ['tag', string], ['path', string],
  ['security_model', string], ['devid', devid],
]);
export const device_pvcallsif = struct('device_pvcallsif', [
  ['backend_domid', domid], ['backend_domname', string], ['devid', devid],
]);
export const device_channel = struct('device_channel', [
  ['backend_domid', domid], ['backend_domname', string], ['devid', devid], ['name', string],
  ['u', keyedUnion('connection', channel_connection, {
    unknown: none, pty: none, socket: struct('device_channel.u.socket', [['path', string]]),
  })],
]);
export const connector_param = struct('connector_param', [['unique_id', string], ['width', uint32], ['height', uint32]]);
export const device_vdispl = struct('device_vdispl', [
  ['backend_domid', domid], ['backend_domname', string], ['devid', devid], ['be_alloc', bool],
  ['connectors', arrayOf(connector_param)],
]);
export const vsnd_params = struct('vsnd_params', [
  ['sample_rates', arrayOf(uint32)], ['sample_formats', arrayOf(vsnd_pcm_format)],
  ['channels_min', uint32], ['channels_max', uint32], ['buffer_size', uint32],
]);
export const vsnd_stream = struct('vsnd_stream', [
  ['unique_id', string], ['type', vsnd_stream_type], ['params', vsnd_params],
]);
export const vsnd_pcm = struct('vsnd_pcm', [['name', string], ['params', vsnd_params], ['streams', arrayOf(vsnd_stream)]]);
export const device_vsnd = struct('device_vsnd', [
  ['backend_domid', domid], ['backend_domname', string], ['devid', devid], ['short_name', string],
  ['long_name', string], ['params', vsnd_params], ['pcms', arrayOf(vsnd_pcm)],
]);

// 4.17 has no `virtios` array (it came in 4.18).
export const domain_config = struct('domain_config', [
  ['c_info', domain_create_info],
  ['b_info', domain_build_info],
  ['disks', arrayOf(device_disk)],
  ['nics', arrayOf(device_nic)],
  ['pcidevs', arrayOf(device_pci)],
  ['rdms', arrayOf(device_rdm)],
  ['dtdevs', arrayOf(device_dtdev)],
  ['vfbs', arrayOf(device_vfb)],
  ['vkbs', arrayOf(device_vkb)],
  ['vtpms', arrayOf(device_vtpm)],
  ['p9s', arrayOf(device_p9)],
  ['pvcallsifs', arrayOf(device_pvcallsif)],
  ['vdispls', arrayOf(device_vdispl)],
  ['vsnds', arrayOf(device_vsnd)],
  ['channels', arrayOf(device_channel)],
  ['usbctrls', arrayOf(device_usbctrl)],
  ['usbdevs', arrayOf(device_usbdev)],
  ['on_poweroff', action_on_shutdown],
  ['on_reboot', action_on_shutdown],
  ['on_watchdog', action_on_shutdown],
  ['on_crash', action_on_shutdown],
  ['on_soft_reset', action_on_shutdown],
]);

/** The single device structs, by the short name xl and libxl's device table use. */
export const deviceSchemas = {
  disk: device_disk,
  nic: device_nic,
  pci: device_pci,
  rdm: device_rdm,
  dtdev: device_dtdev,
  vfb: device_vfb,
  vkb: device_vkb,
  vtpm: device_vtpm,
  p9: device_p9,
  pvcallsif: device_pvcallsif,
  vdispl: device_vdispl,
  vsnd: device_vsnd,
  channel: device_channel,
  usbctrl: device_usbctrl,
  usbdev: device_usbdev,
} as const;
export type DeviceKind = keyof typeof deviceSchemas;

/** Which domain_config array holds each device kind. */
export const deviceArrays = {
  disk: 'disks', nic: 'nics', pci: 'pcidevs', rdm: 'rdms', dtdev: 'dtdevs', vfb: 'vfbs', vkb: 'vkbs',
  vtpm: 'vtpms', p9: 'p9s', pvcallsif: 'pvcallsifs', vdispl: 'vdispls', vsnd: 'vsnds',
  channel: 'channels', usbctrl: 'usbctrls', usbdev: 'usbdevs',
} as const satisfies Record<DeviceKind, (typeof domain_config.fields)[number][0]>;

/** The domain_config arrays that hold devices. */
export type DeviceArrayName = (typeof deviceArrays)[DeviceKind];

/** A struct's field names in IDL order (a keyed union counts as its `u`). */
export function fieldNames(t: StructType): string[] {
  return t.fields.map((field) => field[0]);
}
