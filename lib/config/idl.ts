// The kinds of type in the schema table (schema.ts), as libxl's IDL has them
// (tools/libs/light/idl.py: Builtin, Number, Enumeration, Struct, Array,
// KeyedUnion), and the constructors the table is written with.

/** C integers that libxl writes with yajl_gen_integer; `init` is libxl's init value. */
export interface IntType {
  readonly kind: 'int';
  readonly min: number;
  readonly max: number;
  readonly init: number;
}
/** uint64_t / MemKB: a bigint, as it can reach 2^64-1. */
export interface Uint64Type {
  readonly kind: 'uint64';
  readonly init: bigint;
}
export interface BuiltinType {
  readonly kind:
    | 'bool' | 'string' | 'defbool' | 'uuid' | 'mac' | 'bitmap'
    | 'string_list' | 'key_value_list' | 'cpuid' | 'ms_vm_genid';
}
export interface EnumType<V extends readonly string[] = readonly string[], I extends string | null = string | null> {
  readonly kind: 'enum';
  readonly name: string;
  /** libxl's value names, lower-cased as libxl writes them. */
  readonly values: V;
  /** The value after libxl's *_init: the IDL init_val, else the member numbered 0, else null. */
  readonly init: I;
}
export type FieldDef =
  | readonly [name: string, type: SchemaType]
  | readonly [name: string, type: IntType | Uint64Type, init: number | bigint];
export interface StructType<F extends readonly FieldDef[] = readonly FieldDef[]> {
  readonly kind: 'struct';
  readonly name: string;
  readonly fields: F;
}
export interface ArrayType<E extends SchemaType = SchemaType> {
  readonly kind: 'array';
  readonly of: E;
}
/**
 * libxl's KeyedUnion: the discriminator `keyvar` (an enum) picks one arm; in JSON the arm
 * is the single key "<keyvar>.<arm>". Arms without fields in the IDL are empty structs.
 */
export interface UnionType<
  K extends string = string,
  E extends EnumType = EnumType,
  A extends { readonly [arm: string]: StructType } = { readonly [arm: string]: StructType },
> {
  readonly kind: 'union';
  readonly keyvar: K;
  readonly enum: E;
  readonly arms: A;
}
export type SchemaType = IntType | Uint64Type | BuiltinType | EnumType | StructType | ArrayType | UnionType;

// ---- constructors (they only keep literal types; the table is plain data) ----

export const int32 = (init = 0): IntType => ({ kind: 'int', min: -2147483648, max: 2147483647, init });
export const uint = (bits: 8 | 16 | 32): IntType => ({ kind: 'int', min: 0, max: 2 ** bits - 1, init: 0 });
export const builtin = <const K extends BuiltinType['kind']>(kind: K) => ({ kind }) as const;

export function enumeration<const V extends readonly string[], const I extends V[number] | null>(
  name: string,
  values: V,
  init: I,
): EnumType<V, I> {
  return { kind: 'enum', name, values, init };
}
export function struct<const F extends readonly FieldDef[]>(name: string, fields: F): StructType<F> {
  return { kind: 'struct', name, fields };
}
export function arrayOf<const E extends SchemaType>(of: E): ArrayType<E> {
  return { kind: 'array', of };
}
export function keyedUnion<
  const K extends string,
  const E extends EnumType,
  const A extends { readonly [arm: string]: StructType },
>(keyvar: K, enumType: E, arms: A): UnionType<K, E, A> {
  return { kind: 'union', keyvar, enum: enumType, arms };
}
