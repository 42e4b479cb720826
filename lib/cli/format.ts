// Text output for people: the `xl list` table and the drift report.
import { jsonSafe } from '../util/json.js';

export interface DomainRow {
  domid: number;
  name: string;
  /** memory/target in KiB (the balloon target; xl shows the hypervisor's current allocation); null: unknown. */
  memkb: bigint | null;
  /** vCPUs whose cpu/<n>/availability is "online". */
  vcpus: number;
}

const HEADER = 'Name                                        ID   Mem VCPUs\tState\tTime(s)\n';

/** `xl list`'s layout; State and Time(s) are the hypervisor's and shown as '-'. */
export function formatDomainTable(rows: readonly DomainRow[]): string {
  let text = HEADER;
  for (const row of rows) {
    const name = row.name.padEnd(40);
    const domid = String(row.domid).padStart(5);
    const mem = (row.memkb === null ? '-' : String(row.memkb / 1024n)).padStart(5);
    const vcpus = String(row.vcpus).padStart(5);
    text += `${name} ${domid} ${mem} ${vcpus}     ${'-'.padEnd(6)}  ${'-'.padStart(8)}\n`;
  }
  return text;
}

export interface TableColumn<T> {
  title: string;
  value(row: T): string;
}

/** A plain left-aligned text table, two spaces between columns. */
export function formatTable<T>(columns: readonly TableColumn<T>[], rows: readonly T[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) => Math.max(column.title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]): string => `${values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')}\n`;
  return line(columns.map((c) => c.title)) + cells.map(line).join('');
}

// ------------------------------------------------------------------ drift report

/** The parts of lib/domain's DomainDrift the report shows. */
export interface DriftReport {
  domid: number;
  drifted: boolean;
  scalars: { field: string; stored: unknown; live: unknown; differs: boolean }[];
  merged: { kind: string; key: string }[];
  onlyInTemplate: { kind: string; key: string | undefined; index: number }[];
  onlyInXenstore: { kind: string; key: string; path: string }[];
  problems: { kind: string; path: string; reason: string }[];
}

/** A value for a table cell: bitmaps as vCPU lists, bigints as digits, missing as '-'. */
function cell(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(',');
  return String(value);
}

interface DriftRow {
  what: string;
  template: string;
  xenstore: string;
  note: string;
}

export function formatDriftTable(report: DriftReport): string {
  const rows: DriftRow[] = report.scalars.map((s) => ({
    what: s.field,
    template: cell(s.stored),
    xenstore: cell(s.live),
    note: s.differs ? 'differs: xenstore wins' : '',
  }));
  for (const d of report.onlyInTemplate) {
    rows.push({ what: `${d.kind} ${d.key ?? `#${d.index}`}`, template: 'present', xenstore: 'absent', note: 'template only: dropped from the configuration' });
  }
  for (const d of report.onlyInXenstore) {
    rows.push({ what: `${d.kind} ${d.key}`, template: 'absent', xenstore: 'present', note: 'xenstore only: not in the configuration' });
  }
  for (const d of report.merged) {
    rows.push({ what: `${d.kind} ${d.key}`, template: 'present', xenstore: 'present', note: 'changed by the merge (ejected media)' });
  }
  for (const p of report.problems) {
    rows.push({ what: `${p.kind} ${p.path}`, template: '', xenstore: 'unreadable', note: p.reason });
  }
  const table = formatTable<DriftRow>([
    { title: 'FIELD / DEVICE', value: (r) => r.what },
    { title: 'TEMPLATE', value: (r) => r.template },
    { title: 'XENSTORE', value: (r) => r.xenstore },
    { title: 'NOTE', value: (r) => r.note },
  ], rows);
  const verdict = report.drifted
    ? `domain ${report.domid}: the template and xenstore differ`
    : `domain ${report.domid}: no drift (the template matches xenstore)`;
  return `${verdict}\n${table}`;
}

/** The report for programs: identities and values only, bigints as numbers (or strings beyond 2^53). */
export function driftJson(report: DriftReport): string {
  const plain = {
    domid: report.domid,
    drifted: report.drifted,
    scalars: report.scalars,
    onlyInTemplate: report.onlyInTemplate.map(({ kind, key, index }) => ({ kind, key: key ?? null, index })),
    onlyInXenstore: report.onlyInXenstore.map(({ kind, key, path }) => ({ kind, key, path })),
    merged: report.merged.map(({ kind, key }) => ({ kind, key })),
    problems: report.problems.map(({ kind, path, reason }) => ({ kind, path, reason })),
  };
  return `${JSON.stringify(plain, jsonSafe, 4)}\n`;
}
