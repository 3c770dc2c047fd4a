import { useEffect, useState } from 'react';

/**
 * Region names and the region picker, from the same GB/T 2260 table the
 * server uses (core/regions.ts + regions-gbt2260.json, 150 KB): loaded on
 * first use as its own chunk, so the console's first screen does not wait
 * for it. Until it arrives a code shows as itself, then by name.
 */
type RegionsModule = typeof import('../../../core/regions.js');

let mod: RegionsModule | null = null;
let loading: Promise<RegionsModule> | null = null;

function load(): Promise<RegionsModule> {
  loading ??= import('../../../core/regions.js').then((m) => (mod = m));
  return loading;
}

/** The regions module once loaded (re-renders the caller when it arrives). */
export function useRegions(): RegionsModule | null {
  const [m, setM] = useState<RegionsModule | null>(mod);
  useEffect(() => {
    if (m === null) void load().then(setM);
  }, [m]);
  return m;
}

/**
 * A code's name; a code finer than the table knows (a demo or newly created
 * township) is named by its nearest known level with the code beside it —
 * '511002018' → '四川省内江市市中区（511002018）' — never a bare '未知地区'.
 */
function nameOf(r: RegionsModule, code: string, short: boolean): string {
  if (r.isKnownRegion(code)) return short ? r.regionShortName(code) : r.regionName(code);
  for (const n of [9, 6, 4, 2]) {
    const p = code.slice(0, n);
    if (p.length < code.length && r.isKnownRegion(p)) return `${short ? r.regionShortName(p) : r.regionName(p)}（${code}）`;
  }
  return r.regionName(code);
}

/** '510104' → '四川省成都市锦江区' (full) or '锦江区' (short); the code as a tooltip. */
export function RegionName({ code, short }: { code: string | null | undefined; short?: boolean }) {
  const r = useRegions();
  if (code === null || code === undefined || code === '') return <span>全省</span>;
  const text = r === null ? code : nameOf(r, code, short === true);
  return <span title={code}>{text}</span>;
}

/** Plain-text name for exports and option labels (the module must be loaded: useRegions first). */
export function regionText(r: RegionsModule | null, code: string | null | undefined): string {
  if (code === null || code === undefined || code === '') return '全省';
  return r === null ? code : nameOf(r, code, false);
}

/**
 * Cascading selects province → prefecture → county → township. `value` is a
 * GB/T 2260 code (or '' for none); `minLength` is the shortest code the form
 * accepts (6 for a risk area: county or finer). `root` fixes the top (a city
 * officer's own prefix, or the province '51').
 */
export function RegionPicker(props: {
  value: string;
  onChange: (code: string) => void;
  name?: string;
  root?: string;
  minLength?: number;
  allowEmpty?: boolean;
}) {
  const r = useRegions();
  const root = props.root ?? '';
  if (r === null) return <span className="muted">正在加载行政区划…</span>;
  // the chain of selected levels below the root
  const chain: string[] = [];
  if (props.value.startsWith(root)) {
    for (const n of [2, 4, 6, 9, 12]) if (props.value.length >= n && n > root.length) chain.push(props.value.slice(0, n));
  }
  const levels: { parent: string; selected: string }[] = [];
  let parent = root;
  for (let i = 0; ; i++) {
    const kids = r.regionChildren(parent);
    if (kids.length === 0) break;
    const selected = chain.find((c) => kids.some((k) => k.code === c)) ?? '';
    levels.push({ parent, selected });
    if (selected === '') break;
    parent = selected;
    if (i > 4) break;
  }
  const tooShort = props.minLength !== undefined && props.value !== '' && props.value.length < props.minLength;
  return (
    <span className="region-picker" data-name={props.name}>
      {levels.map((l, i) => (
        <select
          key={l.parent}
          aria-label={['省', '市', '区县', '乡镇街道', '村'][Math.min(i + (root.length === 0 ? 0 : root.length === 2 ? 1 : root.length === 4 ? 2 : 3), 4)]}
          value={l.selected}
          onChange={(e) => props.onChange(e.target.value === '' ? l.parent : e.target.value)}
        >
          <option value="">{i === 0 && props.allowEmpty ? '（不限）' : '请选择'}</option>
          {r.regionChildren(l.parent).map((k) => (
            <option key={k.code} value={k.code}>
              {k.name}
            </option>
          ))}
        </select>
      ))}
      {tooShort ? <span className="hint-error">请选择到区县或更细一级</span> : null}
    </span>
  );
}
