// Facts of Xen and libxl that every layer shares, each under the project's
// name with Xen's own name beside it, so that no layer keeps its own copy.
// (xenstore's wire protocol has its own module: xenstore/protocol.ts.)

/** DOMID_FIRST_RESERVED (xen/include/public/xen.h): domids from here on name no domain (DOMID_SELF, DOMID_IO…). */
export const DOMID_FIRST_RESERVED = 0x7ff0;

/** Highest domid of a real domain: libxl_domid_valid_guest's bound, DOMID_FIRST_RESERVED - 1. */
export const MAX_DOMID = DOMID_FIRST_RESERVED - 1;

/** libxl_devid (libxl_types.idl) is a C int. */
export const MAX_DEVID = 0x7fffffff;

/** Highest bit of a libxl_bitmap: libxl sizes it as an int (last + 1), so INT_MAX - 1. */
export const BITMAP_MAX_BIT = 0x7ffffffe;

/** libxl's XEN_LIB_DIR, where libxl__userdata_path puts the userdata files. */
export const DEFAULT_USERDATA_DIR = '/var/lib/xen';

/** libxl's XEN_SCRIPT_DIR (libxl__xen_script_dir_path): relative hotplug script names live here. */
export const DEFAULT_SCRIPT_DIR = '/etc/xen/scripts';

/** libxl's XEN_RUN_DIR (libxl__run_dir_path), home of QEMU's QMP sockets. */
export const XEN_RUN_DIR = '/var/run/xen';

/** libxl_domain_type (libxl_types.idl) of a domain libxl built, without LIBXL_DOMAIN_TYPE_INVALID. */
export const DOMAIN_TYPES = ['hvm', 'pv', 'pvh'] as const;
export type DomainType = (typeof DOMAIN_TYPES)[number];

/** enum xenbus_state (xen/include/public/io/xenbus.h): a device's state node, written in decimal. */
export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;
