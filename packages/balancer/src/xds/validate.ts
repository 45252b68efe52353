import { loadXdsProtos, type ProtoEnum, type ProtoField, type ProtoRoot, type ProtoType, TO_OBJECT } from './protos.js';

/**
 * One violation of an Envoy v3 proto validation rule (protoc-gen-validate), with the field path.
 *
 * @since 0.1.0
 */
export interface ValidationIssue {
  /** Dotted path of the field, from the resource root (`endpoints[0].load_balancing_weight`). */
  readonly path: string;
  /** The rule that failed (`uint32.gte`, `string.min_len`, `message.required`, `oneof.required`...). */
  readonly rule: string;
  /** A human-readable description. */
  readonly message: string;
}

type Rules = Record<string, Record<string, unknown>>;

function rulesOf(options: readonly Record<string, unknown>[] | null | undefined): Rules | undefined {
  if (!options) return undefined;
  for (const o of options) if (o['(validate.rules)']) return o['(validate.rules)'] as Rules;
  return undefined;
}

function flag(options: readonly Record<string, unknown>[] | null | undefined, name: string): boolean {
  return !!options?.some((o) => o[name] === true);
}

const SCALAR_DEFAULT: Record<string, unknown> = {
  string: '',
  bytes: Buffer.alloc(0),
  bool: false,
};

const WRAPPERS: Record<string, string> = {
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.BytesValue': 'bytes',
};

function durationNanos(d: unknown): number {
  const v = d as { seconds?: string | number; nanos?: number } | undefined;
  return Number(v?.seconds ?? 0) * 1e9 + Number(v?.nanos ?? 0);
}

function checkNumber(kind: string, r: Record<string, unknown>, value: number, path: string, out: ValidationIssue[]): void {
  const n = (x: unknown): number => Number(x);
  if (r.const !== undefined && value !== n(r.const)) out.push({ path, rule: `${kind}.const`, message: `must equal ${String(r.const)}` });
  if (r.gt !== undefined && !(value > n(r.gt))) out.push({ path, rule: `${kind}.gt`, message: `${value} must be > ${String(r.gt)}` });
  if (r.gte !== undefined && !(value >= n(r.gte))) out.push({ path, rule: `${kind}.gte`, message: `${value} must be >= ${String(r.gte)}` });
  if (r.lt !== undefined && !(value < n(r.lt))) out.push({ path, rule: `${kind}.lt`, message: `${value} must be < ${String(r.lt)}` });
  if (r.lte !== undefined && !(value <= n(r.lte))) out.push({ path, rule: `${kind}.lte`, message: `${value} must be <= ${String(r.lte)}` });
  if (Array.isArray(r.in) && !r.in.map(n).includes(value)) out.push({ path, rule: `${kind}.in`, message: `${value} not allowed` });
  if (Array.isArray(r.not_in) && r.not_in.map(n).includes(value)) out.push({ path, rule: `${kind}.not_in`, message: `${value} not allowed` });
}

function checkString(r: Record<string, unknown>, value: string, path: string, out: ValidationIssue[]): void {
  const chars = [...value].length;
  const bytes = Buffer.byteLength(value);
  if (r.min_len !== undefined && chars < Number(r.min_len)) out.push({ path, rule: 'string.min_len', message: `length ${chars} < ${String(r.min_len)}` });
  if (r.max_len !== undefined && chars > Number(r.max_len)) out.push({ path, rule: 'string.max_len', message: `length ${chars} > ${String(r.max_len)}` });
  if (r.len !== undefined && chars !== Number(r.len)) out.push({ path, rule: 'string.len', message: `length ${chars} != ${String(r.len)}` });
  if (r.min_bytes !== undefined && bytes < Number(r.min_bytes)) out.push({ path, rule: 'string.min_bytes', message: `${bytes} bytes < ${String(r.min_bytes)}` });
  if (r.max_bytes !== undefined && bytes > Number(r.max_bytes)) out.push({ path, rule: 'string.max_bytes', message: `${bytes} bytes > ${String(r.max_bytes)}` });
  if (typeof r.prefix === 'string' && !value.startsWith(r.prefix)) out.push({ path, rule: 'string.prefix', message: `must start with ${r.prefix}` });
  if (Array.isArray(r.in) && !r.in.includes(value)) out.push({ path, rule: 'string.in', message: `${value} not allowed` });
  if (Array.isArray(r.not_in) && r.not_in.includes(value)) out.push({ path, rule: 'string.not_in', message: `${value} not allowed` });
  if (typeof r.pattern === 'string') {
    let re: RegExp | undefined;
    try {
      re = new RegExp(r.pattern, 'u');
    } catch {
      re = undefined; // RE2 syntax JS cannot compile: not checked
    }
    if (re && !re.test(value)) out.push({ path, rule: 'string.pattern', message: `does not match ${r.pattern}` });
  }
  if (r.well_known_regex === 'HTTP_HEADER_NAME' && !/^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/.test(value))
    out.push({ path, rule: 'string.well_known_regex', message: 'not an HTTP header name' });
  if (r.well_known_regex === 'HTTP_HEADER_VALUE' && /[\0\n\r]/.test(value))
    out.push({ path, rule: 'string.well_known_regex', message: 'not an HTTP header value' });
}

function checkScalar(field: ProtoField, kind: string, r: Record<string, unknown>, value: unknown, path: string, out: ValidationIssue[]): void {
  if (kind === 'string' && typeof value === 'string') checkString(r, value, path, out);
  else if (kind === 'bool' && r.const !== undefined && value !== r.const) out.push({ path, rule: 'bool.const', message: `must be ${String(r.const)}` });
  else if (kind === 'bytes') {
    const len = (value as Uint8Array | undefined)?.length ?? 0;
    if (r.min_len !== undefined && len < Number(r.min_len)) out.push({ path, rule: 'bytes.min_len', message: `${len} < ${String(r.min_len)}` });
  } else if (kind === 'enum') {
    const en = field.resolvedType as ProtoEnum | null;
    const num = typeof value === 'string' ? en?.values[value] : Number(value ?? 0);
    if (r.defined_only === true && (num === undefined || en?.valuesById[num] === undefined))
      out.push({ path, rule: 'enum.defined_only', message: `${String(value)} is not a defined value` });
    if (num !== undefined) checkNumber('enum', r, num, path, out);
  } else if (value !== undefined && kind !== 'message' && kind !== 'repeated' && kind !== 'map' && kind !== 'duration' && kind !== 'any' && kind !== 'timestamp')
    checkNumber(kind, r, Number(value), path, out);
}

function validateMessage(root: ProtoRoot, type: ProtoType, obj: Record<string, unknown>, path: string, out: ValidationIssue[]): void {
  for (const oneof of type.oneofsArray) {
    if (flag(oneof.parsedOptions, '(validate.required)') && obj[oneof.name] === undefined && !oneof.oneof.some((f) => obj[f] !== undefined && obj[f] !== null))
      out.push({ path: `${path}${path ? '.' : ''}${oneof.name}`, rule: 'oneof.required', message: 'one field of the oneof must be set' });
  }
  const inOneof = new Set(type.oneofsArray.flatMap((o) => o.oneof));
  for (const rawField of type.fieldsArray) {
    const field = rawField.resolve();
    const fpath = `${path}${path ? '.' : ''}${field.name}`;
    const rules = rulesOf(field.parsedOptions);
    let value = obj[field.name];
    const sub = field.resolvedType && 'fieldsArray' in field.resolvedType ? (field.resolvedType as ProtoType) : undefined;
    if (field.repeated || field.map) {
      const items = field.map ? Object.values((value as Record<string, unknown>) ?? {}) : ((value as unknown[]) ?? []);
      const rr = rules?.repeated ?? rules?.map;
      if (rr) {
        const min = rr.min_items ?? rr.min_pairs;
        const max = rr.max_items ?? rr.max_pairs;
        if (min !== undefined && items.length < Number(min)) out.push({ path: fpath, rule: 'repeated.min_items', message: `${items.length} items < ${String(min)}` });
        if (max !== undefined && items.length > Number(max)) out.push({ path: fpath, rule: 'repeated.max_items', message: `${items.length} items > ${String(max)}` });
        if (rr.unique === true && new Set(items.map((i) => JSON.stringify(i))).size !== items.length)
          out.push({ path: fpath, rule: 'repeated.unique', message: 'items must be unique' });
      }
      const itemRules = (rr?.items ?? rr?.values) as Rules | undefined;
      items.forEach((item, i) => {
        const ipath = field.map ? `${fpath}[${i}]` : `${fpath}[${i}]`;
        if (itemRules) {
          const [kind, r] = Object.entries(itemRules)[0] ?? [];
          if (kind && r && !sub) checkScalar(field, kind, r, item, ipath, out);
          if (kind === 'message' && r?.required === true && item == null) out.push({ path: ipath, rule: 'message.required', message: 'required' });
        }
        if (sub && item && typeof item === 'object') validateValue(root, sub, item as Record<string, unknown>, ipath, out);
      });
      continue;
    }
    if (sub) {
      const present = value !== undefined && value !== null;
      if (rules && (present || !inOneof.has(field.name))) {
        for (const [kind, r] of Object.entries(rules)) {
          if (r.required === true && !present) out.push({ path: fpath, rule: `${kind}.required`, message: 'required' });
          if (!present) continue;
          if (kind === 'duration') {
            const ns = durationNanos(value);
            const lim = (x: unknown): number => durationNanos(x);
            if (r.gt !== undefined && !(ns > lim(r.gt))) out.push({ path: fpath, rule: 'duration.gt', message: 'too small' });
            if (r.gte !== undefined && !(ns >= lim(r.gte))) out.push({ path: fpath, rule: 'duration.gte', message: 'too small' });
            if (r.lt !== undefined && !(ns < lim(r.lt))) out.push({ path: fpath, rule: 'duration.lt', message: 'too large' });
            if (r.lte !== undefined && !(ns <= lim(r.lte))) out.push({ path: fpath, rule: 'duration.lte', message: 'too large' });
          } else if (kind === 'any') {
            const url = (value as { type_url?: string }).type_url ?? '';
            if (Array.isArray(r.in) && !r.in.includes(url)) out.push({ path: fpath, rule: 'any.in', message: `${url} not allowed` });
          } else if (WRAPPERS[sub.fullName.replace(/^\./, '')]) {
            checkScalar(field, kind, r, (value as { value?: unknown }).value ?? SCALAR_DEFAULT[kind] ?? 0, `${fpath}.value`, out);
          }
        }
      }
      if (present) validateValue(root, sub, value as Record<string, unknown>, fpath, out);
      continue;
    }
    if (!rules) continue;
    if (inOneof.has(field.name) && (value === undefined || value === null)) continue;
    const [kind, r] = Object.entries(rules)[0] ?? [];
    if (!kind || !r) continue;
    value ??= SCALAR_DEFAULT[kind] ?? (kind === 'enum' ? 0 : 0);
    checkScalar(field, kind, r, value, fpath, out);
  }
}

function validateValue(root: ProtoRoot, type: ProtoType, obj: Record<string, unknown>, path: string, out: ValidationIssue[]): void {
  const name = type.fullName.replace(/^\./, '');
  if (name === 'google.protobuf.Any') {
    const url = String(obj.type_url ?? '');
    const inner = url.slice(url.lastIndexOf('/') + 1);
    let innerType: ProtoType | undefined;
    try {
      innerType = root.lookupType(inner);
    } catch {
      innerType = undefined; // a type we do not know (an extension for other clients): its bytes are opaque here
    }
    if (innerType && obj.value) {
      const decoded = innerType.toObject(innerType.decode(obj.value as Uint8Array), TO_OBJECT);
      validateValue(root, innerType, decoded, path, out);
    }
    return;
  }
  if (name.startsWith('google.protobuf.')) return;
  validateMessage(root, type, obj, path, out);
}

/**
 * Validates an encoded xDS resource (an Any: `type_url` + bytes) against the Envoy v3 proto definitions and
 * their protoc-gen-validate rules (string lengths, numeric bounds, defined enums, required messages and oneofs,
 * repeated sizes, durations, nested Any payloads of known types), as Envoy does before accepting a resource.
 *
 * @param resource - The `type_url` and encoded `value` of the resource.
 * @returns The violations found; empty when the resource is valid. A decode failure is one violation.
 * @throws BalancerError `BALANCER_DRIVER_MISSING` when the Envoy protos (`@grpc/grpc-js-xds`) are not installed.
 * @example
 * ```ts
 * import { validateXdsResource } from '@dataplane/balancer/xds';
 *
 * const issues = validateXdsResource({ type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', value: new Uint8Array() });
 * console.log(issues); // [{ path: 'name', rule: 'string.min_len', ... }]
 * ```
 * @since 0.1.0
 */
export function validateXdsResource(resource: { type_url: string; value: Uint8Array }): ValidationIssue[] {
  const root = loadXdsProtos();
  const out: ValidationIssue[] = [];
  const name = resource.type_url.slice(resource.type_url.lastIndexOf('/') + 1);
  let type: ProtoType;
  try {
    type = root.lookupType(name);
  } catch {
    return [{ path: '', rule: 'type_url', message: `unknown resource type ${resource.type_url}` }];
  }
  let obj: Record<string, unknown>;
  try {
    obj = type.toObject(type.decode(resource.value), TO_OBJECT);
  } catch (err) {
    return [{ path: '', rule: 'decode', message: String(err) }];
  }
  validateMessage(root, type, obj, '', out);
  return out;
}
