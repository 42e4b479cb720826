// TypeScript types derived from the schema table: one declaration per libxl struct, no
// field written twice.
import type * as S from './schema.js';
import type { FieldDef, SchemaType, UnionType } from './idl.js';

export type { DomainType } from '../xen.js';

/** libxl_defbool: unset ("<default>", libxl decides), or explicitly true / false. */
export type Defbool = 'default' | boolean;

/** libxl_key_value_list: ordered pairs; a value may be null. */
export type KeyValueList = [key: string, value: string | null][];

/** One CPUID leaf override; the registers are 32 characters of 0 1 x k s, bit 31 first. */
export interface CpuidLeaf {
  leaf: number;
  /** null when the policy applies to every subleaf */
  subleaf: number | null;
  eax: string | null;
  ebx: string | null;
  ecx: string | null;
  edx: string | null;
}
/** One MSR override: `policy` is 64 characters of 0 1 x k s. */
export interface MsrPolicy {
  index: number;
  policy: string;
}
/** libxl_cpuid_policy_list (empty lists = no policy, the default). */
export interface CpuidPolicy {
  cpuid: CpuidLeaf[];
  msr: MsrPolicy[];
}

/** The TypeScript value of a schema type. */
export type ValueOf<T> = T extends { readonly kind: 'int' }
  ? number
  : T extends { readonly kind: 'uint64' }
    ? bigint
    : T extends { readonly kind: 'bool' }
      ? boolean
      : T extends { readonly kind: 'string' }
        ? string | null
        : T extends { readonly kind: 'defbool' }
          ? Defbool
          : T extends { readonly kind: 'uuid' | 'mac' }
            ? string
            : T extends { readonly kind: 'bitmap' | 'ms_vm_genid' }
              ? number[]
              : T extends { readonly kind: 'string_list' }
                ? string[]
                : T extends { readonly kind: 'key_value_list' }
                  ? KeyValueList
                  : T extends { readonly kind: 'cpuid' }
                    ? CpuidPolicy
                    : T extends { readonly kind: 'enum'; readonly values: readonly (infer V)[]; readonly init: infer I }
                      ? V | (I extends null ? null : never)
                      : T extends { readonly kind: 'struct'; readonly fields: infer F extends readonly FieldDef[] }
                        ? StructValue<F>
                        : T extends { readonly kind: 'array'; readonly of: infer E }
                          ? ValueOf<E>[]
                          : never;

/** The fields of a struct that are not its keyed union. */
export type PlainFields<F extends readonly FieldDef[]> = {
  -readonly [E in F[number] as E[1] extends UnionType ? never : E[0]]: ValueOf<E[1]>;
};

/**
 * A keyed union as in libxl's C: the discriminator (e.g. `type`) names the arm and `u`
 * holds the arm's fields. When the discriminator's zero value names no arm (usbdev), the
 * union can also be unset: discriminator null, `u` null.
 */
export type UnionValue<U extends UnionType> =
  | {
      [A in keyof U['arms'] & string]: { [K in U['keyvar']]: A } & { u: ValueOf<U['arms'][A]> };
    }[keyof U['arms'] & string]
  | (U['enum']['init'] extends null ? { [K in U['keyvar']]: null } & { u: null } : never);

/** The keyed union among a struct's fields (never when it has none). */
export type UnionOf<F extends readonly FieldDef[]> = Extract<F[number][1], UnionType>;

export type StructValue<F extends readonly FieldDef[]> = [UnionOf<F>] extends [never]
  ? PlainFields<F>
  : PlainFields<F> & UnionValue<UnionOf<F>>;

export type DomainConfig = ValueOf<typeof S.domain_config>;
export type DomainCreateInfo = ValueOf<typeof S.domain_create_info>;
export type DomainBuildInfo = ValueOf<typeof S.domain_build_info>;
export type BuildInfoHvm = ValueOf<typeof S.build_info_hvm>;
export type BuildInfoPv = ValueOf<typeof S.build_info_pv>;
export type BuildInfoPvh = ValueOf<typeof S.build_info_pvh>;
export type DomainSchedParams = ValueOf<typeof S.domain_sched_params>;
export type VncInfo = ValueOf<typeof S.vnc_info>;
export type SdlInfo = ValueOf<typeof S.sdl_info>;
export type SpiceInfo = ValueOf<typeof S.spice_info>;
export type VnodeInfo = ValueOf<typeof S.vnode_info>;
export type IoportRange = ValueOf<typeof S.ioport_range>;
export type IomemRange = ValueOf<typeof S.iomem_range>;
export type DeviceDisk = ValueOf<typeof S.device_disk>;
export type DeviceNic = ValueOf<typeof S.device_nic>;
export type DevicePci = ValueOf<typeof S.device_pci>;
export type DeviceRdm = ValueOf<typeof S.device_rdm>;
export type DeviceDtdev = ValueOf<typeof S.device_dtdev>;
export type DeviceVfb = ValueOf<typeof S.device_vfb>;
export type DeviceVkb = ValueOf<typeof S.device_vkb>;
export type DeviceVtpm = ValueOf<typeof S.device_vtpm>;
export type DeviceP9 = ValueOf<typeof S.device_p9>;
export type DevicePvcallsif = ValueOf<typeof S.device_pvcallsif>;
export type DeviceVdispl = ValueOf<typeof S.device_vdispl>;
export type ConnectorParam = ValueOf<typeof S.connector_param>;
export type DeviceVsnd = ValueOf<typeof S.device_vsnd>;
export type VsndParams = ValueOf<typeof S.vsnd_params>;
export type VsndPcm = ValueOf<typeof S.vsnd_pcm>;
export type VsndStream = ValueOf<typeof S.vsnd_stream>;
export type DeviceChannel = ValueOf<typeof S.device_channel>;
export type DeviceUsbctrl = ValueOf<typeof S.device_usbctrl>;
export type DeviceUsbdev = ValueOf<typeof S.device_usbdev>;
export type ActionOnShutdown = ValueOf<typeof S.action_on_shutdown>;

/** The value of each single device struct, by kind. */
export type DeviceOf<K extends S.DeviceKind> = ValueOf<(typeof S.deviceSchemas)[K]>;

export type { SchemaType };
