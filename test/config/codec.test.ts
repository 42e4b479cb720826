// libxl's reading and writing rules, one by one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError, JsonNumber, MEMKB_DEFAULT, cloneDomainConfig, defaultBuildInfo, defaultDevice, defaultDeviceDisk,
  defaultDeviceNic, defaultDeviceUsbdev, defaultDomainConfig, domainConfigEquals, formatDevice, formatDomainConfig,
  formatDomainList, parseDevice, parseDomainConfig, setUnknownKeys, unknownKeysOf, type DomainConfig,
} from '../../lib/config/index.js';
import { committedGoldenDir } from './golden-files.js';

const golden = (name: string): string => readFileSync(join(committedGoldenDir, name), 'utf8');
const PV = golden('shared/real-create-userdata-d.1.22222222-3333-4444-5555-666666666666.libxl-json');

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('ERR_CONFIG');
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** The smallest config text with `extra` spliced into b_info. */
function withBuildInfo(extra: string): string {
  return `{"c_info": {"type": "pv"}, "b_info": {${extra}}}`;
}

describe('parse: a fully defaulted typed object', () => {
  const config = parseDomainConfig(PV);

  it('has every field, with libxl init values where the JSON is silent', () => {
    expect(config.b_info.max_memkb).toBe(524288n);
    expect(config.b_info.shadow_memkb).toBe(MEMKB_DEFAULT);
    expect(config.b_info.sched_params.weight).toBe(-1);
    expect(config.b_info.max_grant_frames).toBe(4294967295);
    expect(config.b_info.max_grant_version).toBe(-1);
    expect(config.b_info.timer_mode).toBe('unknown');
    expect(config.b_info.arch_x86.msr_relaxed).toBe(false);
    expect(config.b_info.localtime).toBe('default');
    expect(config.c_info.run_hotplug_scripts).toBe(true);
    expect(config.c_info.ssid_label).toBeNull();
    expect(config.on_poweroff).toBe('destroy');
    expect(config.on_reboot).toBe('restart');
    expect(config.vtpms).toEqual([]);
    expect(config.disks[0]!.backend_domid).toBe(0);
    expect(config.nics[0]!.devid).toBe(0);
    expect(config.nics[0]!.mac).toBe('00:16:3e:00:00:07');
    expect(config.b_info.avail_vcpus).toEqual([0, 1]);
  });

  it('exposes keyed unions like libxl C: discriminator plus u', () => {
    expect(config.b_info.type).toBe('pv');
    if (config.b_info.type !== 'pv') throw new Error('narrowing');
    expect(config.b_info.u.slack_memkb).toBe(MEMKB_DEFAULT);
    expect(config.b_info.u.e820_host).toBe('default');
    const hvm = parseDomainConfig(golden('shared/create-hvm.json'));
    if (hvm.b_info.type !== 'hvm') throw new Error('expected hvm');
    expect(hvm.b_info.u.vnc.listen).toBe('0.0.0.0');
    expect(hvm.b_info.u.vga.kind).toBe('unknown');
    expect(hvm.b_info.u.hdtype).toBe('ide');
  });

  it('keeps 64-bit values exact, up to 2^64-1', () => {
    const text = withBuildInfo('"max_memkb": 18446744073709551614, "target_memkb": 9223372036854775808, "type.pv": {}');
    const c = parseDomainConfig(text);
    expect(c.b_info.max_memkb).toBe(18446744073709551614n);
    expect(c.b_info.target_memkb).toBe(9223372036854775808n);
    expect(formatDomainConfig(c)).toContain('"max_memkb": 18446744073709551614,');
    c.b_info.max_memkb = MEMKB_DEFAULT;
    expect(formatDomainConfig(c)).not.toContain('max_memkb');
    expect(parseDomainConfig(withBuildInfo('"max_memkb": 18446744073709551615')).b_info.max_memkb).toBe(MEMKB_DEFAULT);
  });

  it('accepts the NUL libxl stores after the JSON, from a string or bytes', () => {
    expect(formatDomainConfig(parseDomainConfig(`${PV}\0`))).toBe(PV);
    expect(formatDomainConfig(parseDomainConfig(Buffer.from(`${PV}\0`)))).toBe(PV);
  });

  it('reads enums case-insensitively and defbools by prefix, as libxl does', () => {
    const c = parseDomainConfig('{"c_info": {"type": "PVH", "hap": "Truely", "oos": "<default>x"}}');
    expect(c.c_info.type).toBe('pvh');
    expect(c.c_info.hap).toBe(true);
    expect(c.c_info.oos).toBe('default');
  });

  it('treats a known key of the wrong JSON type as absent, and takes the first of duplicates', () => {
    const c = parseDomainConfig(withBuildInfo('"max_vcpus": "4", "max_memkb": 1.5, "kernel": 7, "cmdline": "a", "cmdline": "b"'));
    expect(c.b_info.max_vcpus).toBe(0);
    expect(c.b_info.max_memkb).toBe(MEMKB_DEFAULT);
    expect(c.b_info.kernel).toBeNull();
    expect(c.b_info.cmdline).toBe('a');
  });

  it('reads an array element that is not an object as a default struct (libxl does)', () => {
    const c = parseDomainConfig('{"disks": [1, {"vdev": "xvda"}]}');
    expect(c.disks).toHaveLength(2);
    expect(c.disks[0]).toEqual(defaultDeviceDisk());
    expect(c.disks[1]!.vdev).toBe('xvda');
  });

  it('drops bitmap bits beyond the size the last element gives, like libxl_bitmap_alloc', () => {
    expect(parseDomainConfig(withBuildInfo('"avail_vcpus": [3, 1, 1, 20, 7]')).b_info.avail_vcpus).toEqual([1, 3, 7]);
    expect(parseDomainConfig(withBuildInfo('"avail_vcpus": [0, 9, 3]')).b_info.avail_vcpus).toEqual([0, 3]);
  });

  it('reads the older bare-array cpuid format and writes the 4.17 one', () => {
    const c = parseDomainConfig(withBuildInfo('"cpuid": [{"leaf": 1, "ecx": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0"}]'));
    expect(c.b_info.cpuid).toEqual({
      cpuid: [{ leaf: 1, subleaf: null, eax: null, ebx: null, ecx: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0', edx: null }],
      msr: [],
    });
    expect(formatDomainConfig(c)).toContain('"cpuid": {\n            "cpuid": [\n');
  });

  it('decodes string escapes as yajl does', () => {
    const c = parseDomainConfig('{"c_info": {"name": "a\\u0000b\\u00e9\\ud83d\\ude00\\ud800x\\/\\t"}}');
    expect(c.c_info.name).toBe('abé😀?x/\t');
    expect(formatDomainConfig(c)).toContain('"name": "abé😀?x/\\t"');
  });
});

describe('parse: errors are ConfigErrors with the JSON path', () => {
  it.each([
    ['unknown enum value', withBuildInfo('"type.hvm": {"vga": {"kind": "svga"}}'), 'b_info.type.hvm.vga.kind', 'vga_interface_type'],
    ['enum in an array element', '{"disks": [{}, {"format": "vmdk"}]}', 'disks[1].format', 'disk_format'],
    ['int32 out of range', withBuildInfo('"max_vcpus": 2147483648'), 'b_info.max_vcpus', '-2147483648..2147483647'],
    ['uint8 out of range', '{"pcidevs": [{"bus": 256}]}', 'pcidevs[0].bus', '0..255'],
    ['negative uint32', '{"c_info": {"ssidref": -1}}', 'c_info.ssidref', '0..4294967295'],
    ['negative uint64', withBuildInfo('"max_memkb": -1'), 'b_info.max_memkb', '0..18446744073709551615'],
    ['uint64 beyond 2^64-1', withBuildInfo('"max_memkb": 18446744073709551616'), 'b_info.max_memkb', '0..18446744073709551615'],
    ['two arms of one union', withBuildInfo('"type.pv": {}, "type.hvm": {}'), 'b_info.type.hvm', 'one "type.*" key'],
    ['bad defbool', '{"c_info": {"hap": "yes"}}', 'c_info.hap', '"True", "False" or "<default>"'],
    ['bad uuid', '{"c_info": {"uuid": "1234"}}', 'c_info.uuid', 'UUID'],
    ['bad mac', '{"nics": [{"mac": "zz:00:00:00:00:00"}]}', 'nics[0].mac', 'MAC'],
    ['non-integer bitmap bit', withBuildInfo('"cpumap": [0, "1"]'), 'b_info.cpumap[1]', 'integer'],
    ['negative bitmap bit', withBuildInfo('"cpumap": [-1]'), 'b_info.cpumap[0]', 'integer'],
    ['bad affinity element', withBuildInfo('"vcpu_hard_affinity": [[0], 3]'), 'b_info.vcpu_hard_affinity[1]', 'array'],
    ['non-string in a string list', withBuildInfo('"extra": ["-x", 1]'), 'b_info.extra[1]', 'string'],
    ['bad cpuid register', withBuildInfo('"cpuid": {"cpuid": [{"leaf": 1, "eax": "x"}], "msr": []}'), 'b_info.cpuid.cpuid[0].eax', '32 characters'],
    ['cpuid without msr', withBuildInfo('"cpuid": {"cpuid": []}'), 'b_info.cpuid.msr', 'an array'],
    ['bad uint32 array element', withBuildInfo('"irqs": [1, 2.5]'), 'b_info.irqs[1]', 'integer'],
  ])('%s', (_what, text, path, expected) => {
    const e = configError(() => parseDomainConfig(text));
    expect(e.jsonPath).toBe(path);
    expect(e.expected).toContain(expected);
  });

  it.each([
    ['empty text', ''],
    ['only a NUL', '\0{"c_info": {}}'],
    ['truncated', '{"c_info": {"name": "x"'],
    ['trailing garbage', '{"c_info": {}} x'],
    ['two documents', '{} {}'],
    ['comment', '{/* no */}'],
    ['trailing comma', '{"c_info": {},}'],
    ['single quotes', "{'c_info': {}}"],
    ['leading zero', '{"b_info": {"max_vcpus": 01}}'],
    ['bare decimal point', '{"b_info": {"max_vcpus": 1.}}'],
    ['control character in a string', '{"c_info": {"name": "a\nb"}}'],
    ['bad escape', '{"c_info": {"name": "\\x41"}}'],
    ['short unicode escape', '{"c_info": {"name": "\\u12"}}'],
    ['top level array', '[]'],
    ['top level number', '42'],
  ])('refuses %s', (_what, text) => {
    configError(() => parseDomainConfig(text));
  });

  it('refuses invalid UTF-8 bytes', () => {
    configError(() => parseDomainConfig(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])));
  });

  it('names the path of a syntax error', () => {
    const e = configError(() => parseDomainConfig('{"b_info": {"sched_params": {"weight": tru}}}'));
    expect(e.jsonPath).toBe('b_info.sched_params.weight');
    expect(e.offset).toBe(39);
  });

  it('refuses nesting deeper than any libxl config, without using the stack', () => {
    const deep = `{"x": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(configError(() => parseDomainConfig(deep)).expected).toMatch(/levels of nesting/);
    expect(parseDomainConfig(`{"x": ${'['.repeat(200)}${']'.repeat(200)}}`).c_info.type).toBe('invalid');
  });
});

describe('unknown keys (a template from a newer libxl) survive a round trip', () => {
  const newer = `{
    "c_info": {
        "type": "pv",
        "name": "next",
        "future_flag": "True"
    },
    "b_info": {
        "max_memkb": 524288,
        "sched_params": {

        },
        "type.pv": {
            "new_pv_knob": [
                1,
                18446744073709551617,
                -2.5e-3,
                {
                    "deep": null
                }
            ]
        },
        "arch_arm": {
            "arm_sci": {

            }
        },
        "arch_x86": {

        },
        "xenstore_quota": {
            "quota": [
                {
                    "name": "nodes",
                    "val": 1000
                }
            ]
        }
    },
    "virtios": [
        {
            "type": "virtio,device22"
        }
    ],
    "vtpms": [
        {
            "uuid": "11111111-2222-3333-4444-555555555555"
        }
    ],
    "on_reboot": "restart"
}
`;

  it('keeps them on the object (not enumerable) and writes them back in place', () => {
    const c = parseDomainConfig(newer);
    expect(Object.keys(c.c_info)).not.toContain('future_flag');
    expect(unknownKeysOf(c.c_info).map((k) => k.key)).toEqual(['future_flag']);
    expect(unknownKeysOf(c).map((k) => k.key)).toEqual(['virtios']);
    expect(formatDomainConfig(c)).toBe(newer);
    expect(formatDomainList([{ domid: 7, config: c }])).toContain('            "virtios": [\n');
  });

  it('keeps them through clone and counts them in equality', () => {
    const c = parseDomainConfig(newer);
    const copy = cloneDomainConfig(c);
    expect(formatDomainConfig(copy)).toBe(newer);
    expect(domainConfigEquals(c, copy)).toBe(true);
    setUnknownKeys(copy.c_info, []);
    expect(domainConfigEquals(c, copy)).toBe(false);
    expect(formatDomainConfig(copy)).not.toContain('future_flag');
  });
});

describe('generate', () => {
  it('writes libxl init values nowhere and aggregates always', () => {
    const c = defaultDomainConfig();
    expect(formatDomainConfig(c)).toBe(
      '{\n    "c_info": {\n\n    },\n    "b_info": {\n        "sched_params": {\n\n        },\n' +
        '        "type.invalid": {\n\n        },\n        "arch_arm": {\n\n        },\n        "arch_x86": {\n\n        }\n    }\n}\n',
    );
  });

  it('builds a config from the default factories that libxl would write the same way', () => {
    const c: DomainConfig = defaultDomainConfig();
    c.c_info = { ...c.c_info, type: 'pv', name: 'realpv', domid: 4294967295, uuid: '22222222-3333-4444-5555-666666666666', run_hotplug_scripts: true };
    c.b_info = {
      ...defaultBuildInfo('pv'), max_vcpus: 3, avail_vcpus: [0, 1], max_memkb: 524288n, target_memkb: 262144n,
      video_memkb: 0n, claim_mode: true, kernel: '/usr/lib/fakexen/mini-pv.elf', cmdline: 'console=hvc0',
    };
    c.b_info.arch_x86.msr_relaxed = false;
    c.disks = ['xvda', 'xvdb'].map((vdev, k) => ({
      ...defaultDeviceDisk(), pdev_path: k ? '/dev/vg/data' : '/dev/vg/guest', vdev, format: 'raw' as const,
      readwrite: k ? 0 : 1, colo_restore_enable: false,
    }));
    c.nics = [{ ...defaultDeviceNic(), devid: 0, mac: '00:16:3E:00:00:07', bridge: 'xenbr0', nictype: 'vif' }];
    c.on_reboot = 'restart';
    c.on_soft_reset = 'soft_reset';
    expect(formatDomainConfig(c)).toBe(PV);
  });

  it('writes the usbdev union only when its type is set', () => {
    const dev = defaultDeviceUsbdev();
    expect(dev.type).toBeNull();
    expect(formatDevice('usbdev', dev)).toBe('{\n\n}\n');
    const host = { ...dev, ctrl: 1, type: 'hostdev' as const, u: { hostbus: 1, hostaddr: 2 } };
    expect(formatDevice('usbdev', host)).toBe(
      '{\n    "ctrl": 1,\n    "type.hostdev": {\n        "hostbus": 1,\n        "hostaddr": 2\n    }\n}\n',
    );
    expect(parseDevice('usbdev', formatDevice('usbdev', host))).toEqual(host);
  });

  it('writes the channel connection union, default arm included', () => {
    expect(formatDevice('channel', defaultDevice('channel'))).toBe('{\n    "connection.unknown": {\n\n    }\n}\n');
  });

  it('escapes strings as yajl does', () => {
    const disk = { ...defaultDeviceDisk(), pdev_path: 'a"b\\c/d\u0001\u007f\b\f\n\r\té' };
    expect(formatDevice('disk', disk)).toBe('{\n    "pdev_path": "a\\"b\\\\c/d\\u0001\u007f\\b\\f\\n\\r\\té"\n}\n');
  });

  it.each([
    ['an int out of range', (c: DomainConfig) => { c.b_info.max_vcpus = 2 ** 31; }, 'b_info.max_vcpus'],
    ['a number where a bigint belongs', (c: DomainConfig) => { (c.b_info as { max_memkb: unknown }).max_memkb = 5; }, 'b_info.max_memkb'],
    ['an unknown enum value', (c: DomainConfig) => { (c as { on_crash: string }).on_crash = 'explode'; }, 'on_crash'],
    ['a bad mac', (c: DomainConfig) => { c.nics[0]!.mac = '00:16:3e'; }, 'nics[0].mac'],
    ['an arm that does not exist', (c: DomainConfig) => { (c.b_info as { type: string }).type = 'hvm2'; }, 'b_info.type'],
    ['a bad bitmap bit', (c: DomainConfig) => { c.b_info.avail_vcpus = [0, -3]; }, 'b_info.avail_vcpus[1]'],
  ])('refuses to write %s', (_what, spoil, path) => {
    const c = parseDomainConfig(PV);
    spoil(c);
    expect(configError(() => formatDomainConfig(c)).jsonPath).toBe(path);
  });

  it('writes bitmaps ascending and once, whatever order they were set in', () => {
    const c = parseDomainConfig(PV);
    c.b_info.avail_vcpus = [2, 0, 2];
    expect(formatDomainConfig(c)).toContain('"avail_vcpus": [\n            0,\n            2\n        ],');
  });

  it('writes xl list -l with its empty line at the end, for none or many domains', () => {
    expect(formatDomainList([])).toBe('[\n\n]\n\n');
    const list = golden('shared/real-create-list-l.json');
    expect(list.endsWith(']\n\n')).toBe(true);
  });
});

describe('clone and equality', () => {
  it('clones deeply', () => {
    const c = parseDomainConfig(PV);
    const copy = cloneDomainConfig(c);
    expect(domainConfigEquals(c, copy)).toBe(true);
    copy.disks[0]!.vdev = 'xvdz';
    expect(c.disks[0]!.vdev).toBe('xvda');
    expect(domainConfigEquals(c, copy)).toBe(false);
    expect(domainConfigEquals(c.b_info.max_memkb, 524288n)).toBe(true);
  });
});

describe('JsonNumber', () => {
  it('reads integers as strtoll does (digits before any exponent)', () => {
    expect(new JsonNumber('5e3', 'integer').integer()).toBe(5);
    expect(parseDomainConfig(withBuildInfo('"max_vcpus": 5e3')).b_info.max_vcpus).toBe(5);
  });
});
